"""core.gateway.speedups: each patch still targets the LiteLLM code it was written against.

No timings here (bench/gateway.py measures them). A failure after a LiteLLM upgrade means:
read the new source of the named function, re-check (or drop) the patch, then update its hash.
"""

from __future__ import annotations

import functools
import importlib
import inspect

import pytest

from core.gateway import engine as gateway_engine
from core.gateway import speedups as gateway_speedups
from core.gateway.speedups import PATCHES, Patch


@pytest.fixture(scope="module")
def litellm_proxy() -> None:
    gateway_engine.offline_environment()
    import litellm.proxy.proxy_server  # noqa: F401  (imports every patched module)


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_patched_litellm_code_is_unchanged(litellm_proxy: None, patch: Patch) -> None:
    assert patch.source_hash() == patch.sha256, (
        f"LiteLLM changed {patch.owner}.{patch.attr}: the gateway speedup {patch.name!r} "
        f"({patch.why}) is skipped until it is re-checked against the new code"
    )


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_replacement_keeps_the_signature(litellm_proxy: None, patch: Patch) -> None:
    original = patch.original()
    replacement = patch.make(original)
    if replacement is None:  # not needed in this environment (e.g. prisma installed)
        return
    before = list(inspect.signature(original).parameters)
    after = list(inspect.signature(replacement).parameters)
    assert after[: len(before)] == before or after[-2:] == ["args", "kwargs"], (before, after)


def test_apply_is_idempotent_and_keeps_the_original(litellm_proxy: None) -> None:
    first = gateway_speedups.apply()
    second = gateway_speedups.apply()
    assert first == second
    assert "local models cost nothing" in first
    for patch in PATCHES:
        current = inspect.getattr_static(patch.resolve_owner(), patch.attr)
        if patch.name in first:
            assert current.__gatedeck_original__ is not None
        assert patch.source_hash() == patch.sha256  # hashed from the kept original


def test_a_changed_target_is_left_alone(litellm_proxy: None) -> None:
    stale = Patch(
        name="stale",
        owner="litellm.litellm_core_utils.litellm_logging:Logging",
        attr="async_success_handler",  # never patched: stands for code an upgrade changed
        sha256="0" * 64,
        make=lambda original: pytest.fail("a patch for changed code must not be built"),
        why="test",
    )
    assert gateway_speedups.apply((stale,)) == []
    assert not hasattr(stale.original(), "__gatedeck_original__")


def test_local_models_cost_nothing_cloud_models_keep_pricing(litellm_proxy: None) -> None:
    calls: list[object] = []

    def original(self: object, result: object, *args: object, **kwargs: object) -> float:
        calls.append(result)
        return 1.5

    replacement = gateway_speedups._free_local_models(original)

    class Fake:
        model_call_details = {"custom_llm_provider": "ollama_chat"}

    assert replacement(Fake(), "answer") == 0.0
    assert calls == []
    Fake.model_call_details = {"custom_llm_provider": "openai"}
    assert replacement(Fake(), "answer") == 1.5
    assert calls == ["answer"]


def test_switch() -> None:
    assert gateway_speedups.enabled({})
    assert not gateway_speedups.enabled({gateway_speedups.ENV: "0"})
    assert not gateway_speedups.enabled({gateway_speedups.ENV: "off"})
    assert gateway_speedups.enabled({gateway_speedups.ENV: "1"})


@pytest.mark.parametrize("where", sorted(gateway_speedups._INLINE_CALLS))
def test_inlined_litellm_calls_still_exist_and_take_their_async_flag(
    litellm_proxy: None, where: tuple[str, str]
) -> None:
    module, name = where
    function = getattr(importlib.import_module(module), name)
    assert (function.__module__, function.__name__) == where
    flag = gateway_speedups._INLINE_CALLS[where]
    parameters = inspect.signature(function).parameters
    assert flag in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def test_only_local_async_calls_run_inline(litellm_proxy: None) -> None:
    import contextvars
    import threading

    import litellm.main

    ran_on: list[str] = []

    def record(**kwargs: object) -> str:
        ran_on.append(threading.current_thread().name)
        return "built"

    record.__module__, record.__name__ = "litellm.main", "completion"
    ctx = contextvars.copy_context()
    local = functools.partial(ctx.run, functools.partial(record, model="ollama_chat/x", acompletion=True))
    cloud = functools.partial(
        contextvars.copy_context().run, functools.partial(record, model="gpt-4o", acompletion=True)
    )
    assert gateway_speedups._is_local_completion(local)
    assert not gateway_speedups._is_local_completion(cloud)
    assert not gateway_speedups._is_local_completion(functools.partial(record, model="ollama_chat/x"))
    assert litellm.main.completion.__name__ == "completion"

    executor = gateway_speedups.InlineLocalCompletions(thread_name_prefix="worker")
    try:
        assert executor.submit(local).result() == "built"
        assert executor.submit(cloud).result() == "built"
    finally:
        executor.shutdown()
    assert ran_on[0] == threading.current_thread().name
    assert ran_on[1].startswith("worker")
