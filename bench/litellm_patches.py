"""What each of GateDeck's LiteLLM speed-ups saves, measured on its own inside one gateway.

``bench/gateway.py --each`` measures whole gateways, one speed-up on at a time; a change worth
a few percent of LiteLLM's 15-30 ms of CPU per request drowns there in a busy machine's noise.
This measures each one where it acts, in one process, the fast path off (LiteLLM serves the
Ollama mappings, as it does for a mapping with fallbacks or with the fast path switched off):

- for each patched LiteLLM function (speed-ups off): how often it runs per request and the time
  it takes as shipped, which is what its patch saves (the replacements cost next to nothing);
- the inline executor: CPU per request (gateway and client, one process) in interleaved rounds
  with it and with LiteLLM's worker-thread hop;
- a hot-apply of 100 Ollama deployments (``Router.set_model_list``) with and without the
  cached Ollama lookup.

Prints figures; asserts nothing. Usage: ``python -m bench.litellm_patches [--requests 40]``.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import functools
import inspect
import os
import statistics
import sys
import tempfile
import time
from typing import Any

ROUTES = (
    ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    (
        "/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
    ),
)


def _count_calls(patches: Any, spent: dict[str, float], calls: collections.Counter[str]) -> None:
    """Wrap each patched function as shipped so that its calls and time are counted."""
    for patch in patches:
        owner = patch.pin.resolve()
        static = inspect.getattr_static(owner, patch.attr)
        function = getattr(static, "__func__", static)

        def counted(*args: Any, _fn: Any = function, _name: str = patch.name, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - began
                calls[_name] += 1

        functools.update_wrapper(counted, function)
        setattr(owner, patch.attr, staticmethod(counted) if isinstance(static, staticmethod) else counted)


def hot_apply_ms(litellm_seam: Any, cached: bool) -> float:
    from litellm import Router

    from core.gateway.deployments import OllamaDeployment

    if cached:
        (lookup,) = [p for p in litellm_seam.PATCHES if p.name == "ollama-lookup-cache"]
        os.environ["GATEDECK_GATEWAY_SPEEDUPS"] = lookup.name
        litellm_seam.apply_speedups("", (lookup,))
    entries = [
        OllamaDeployment("http://127.0.0.1:11434", f"model{i}:7b", backend="local", group=f"model{i}:7b")
        for i in range(100)
    ]
    router = Router(model_list=[entries[0].litellm_entry()])
    times = []
    for _ in range(5):
        began = time.perf_counter()
        router.set_model_list([entry.litellm_entry() for entry in entries])
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:]) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.update(
        GATEDECK_CONFIG_DIR=tempfile.mkdtemp(prefix="gatedeck-bench-"),
        GATEDECK_GATEWAY_SPEEDUPS="0",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
    )
    import httpx

    from core.gateway import engine as gateway_engine
    from core.gateway import litellm_seam
    from core.gateway.service import Gateway
    from tests.core.gateway_support import KEY, free_port, running, tier_config
    from tests.fakes.fake_ollama import FakeOllama
    from tests.fakes.ollama_catalog import default_models

    gateway_engine.load()
    spent: dict[str, float] = collections.defaultdict(float)
    calls: collections.Counter[str] = collections.Counter()
    _count_calls(litellm_seam.PATCHES, spent, calls)
    lines = []
    with (
        FakeOllama(models=default_models()) as fake,
        running(Gateway(tier_config(fake.url, free_port()), master_key=KEY)) as gateway,
    ):
        thread = gateway._thread
        assert thread is not None and thread.loop is not None
        client = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}", "x-api-key": KEY})

        def send(route: str, body: dict[str, Any], count: int) -> list[float]:
            latencies = []
            for _ in range(count):
                began = time.perf_counter()
                client.post(gateway.url + route, json=body).raise_for_status()
                latencies.append(time.perf_counter() - began)
            return latencies

        for route, body in ROUTES:
            send(route, body, 10)  # warm-up
            spent.clear()
            calls.clear()
            send(route, body, args.requests)
            for patch in litellm_seam.PATCHES:
                lines.append(
                    f"{route:22} {patch.name:22} calls/request {calls[patch.name] / args.requests:5.2f}   "
                    f"as shipped {spent[patch.name] * 1000 / args.requests:6.3f} ms/request"
                )
            rounds: dict[str, list[float]] = {"worker-thread hop": [], "inline-executor": []}
            for _ in range(args.rounds):
                for label in rounds:
                    executor = (
                        litellm_seam.InlineLocalCompletions()
                        if label == "inline-executor"
                        else concurrent.futures.ThreadPoolExecutor()
                    )
                    loop = thread.loop
                    thread.run_on_loop(lambda e=executor, lp=loop: lp.set_default_executor(e))
                    send(route, body, 5)
                    cpu = time.process_time()
                    send(route, body, args.requests)
                    rounds[label].append((time.process_time() - cpu) / args.requests * 1000)
            for label, values in rounds.items():
                lines.append(
                    f"{route:22} {label:22} CPU {statistics.median(values):6.2f} ms/request "
                    f"(gateway + client; rounds {min(values):.1f}-{max(values):.1f})"
                )
    without = hot_apply_ms(litellm_seam, cached=False)
    with_cache = hot_apply_ms(litellm_seam, cached=True)
    lines.append(
        f"hot-apply of 100 Ollama deployments: {without:.0f} ms as shipped, {with_cache:.0f} ms cached"
    )
    print("\n".join(lines))
    sys.stdout.flush()
    os._exit(0)  # LiteLLM's logging workers keep the interpreter from exiting promptly


if __name__ == "__main__":
    sys.exit(main())
