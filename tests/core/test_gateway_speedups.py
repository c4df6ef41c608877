"""GateDeck's gateway speed-ups: the switch that turns each on or off, and what the LiteLLM ones
do. Whether each still fits LiteLLM's code is tests/core/test_seams.py's; bench/gateway.py
measures them."""

from __future__ import annotations

import functools
import importlib
import inspect

import pytest

from core.gateway import litellm_seam, speedups


@pytest.fixture(scope="module")
def litellm_proxy() -> None:
    litellm_seam.offline_environment()
    import litellm.proxy.proxy_server  # noqa: F401  (imports every patched module)


def test_local_models_cost_nothing_cloud_models_keep_pricing() -> None:
    calls: list[object] = []

    def original(self: object, result: object, *args: object, **kwargs: object) -> float:
        calls.append(result)
        return 1.5

    replacement = litellm_seam._free_local_models(original)

    class Fake:
        model_call_details = {"custom_llm_provider": "ollama_chat"}

    assert replacement(Fake(), "answer") == 0.0
    assert calls == []
    Fake.model_call_details = {"custom_llm_provider": "openai"}
    assert replacement(Fake(), "answer") == 1.5
    assert calls == ["answer"]


def test_the_switch_turns_all_none_some_or_all_but_some_on() -> None:
    everything = frozenset(speedups.SPEEDUPS)
    assert speedups.active({}) == everything
    assert speedups.active({speedups.ENV: "1"}) == everything
    assert speedups.active({speedups.ENV: "0"}) == frozenset()
    assert speedups.active({speedups.ENV: "off"}) == frozenset()
    assert speedups.active({speedups.ENV: "fastpath, uvloop"}) == {"fastpath", "uvloop"}
    assert speedups.active({speedups.ENV: "-fastpath"}) == everything - {"fastpath"}
    assert not speedups.enabled("fastpath", {speedups.ENV: "uvloop"})
    with pytest.raises(KeyError):
        speedups.enabled("no-such-speedup")


def test_an_unknown_speedup_name_is_said_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    assert speedups.active({speedups.ENV: "fastpath,fast-path-typo"}) == {"fastpath"}
    assert "no speed-up is called 'fast-path-typo'" in caplog.text


@pytest.mark.parametrize("where", sorted(litellm_seam._INLINE_CALLS))
def test_inlined_litellm_calls_still_exist_and_take_their_async_flag(
    litellm_proxy: None, where: tuple[str, str]
) -> None:
    module, name = where
    function = getattr(importlib.import_module(module), name)
    assert (function.__module__, function.__name__) == where
    flag = litellm_seam._INLINE_CALLS[where]
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
    assert litellm_seam._is_local_completion(local)
    assert not litellm_seam._is_local_completion(cloud)
    assert not litellm_seam._is_local_completion(functools.partial(record, model="ollama_chat/x"))
    assert litellm.main.completion.__name__ == "completion"

    executor = litellm_seam.InlineLocalCompletions(thread_name_prefix="worker")
    try:
        assert executor.submit(local).result() == "built"
        assert executor.submit(cloud).result() == "built"
    finally:
        executor.shutdown()
    assert ran_on[0] == threading.current_thread().name
    assert ran_on[1].startswith("worker")
