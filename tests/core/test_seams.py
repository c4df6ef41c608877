"""GateDeck's touches of LiteLLM's and uvicorn's internals: each still fits the installed
library, and one that no longer fits falls back (or refuses to start) and says so once.

A failure of ``test_every_touch_still_fits`` after an upgrade means: read the new source of the
named function (or what lost the attribute), re-check the touch in core/gateway/litellm_seam.py
or core/gateway/uvicorn_seam.py (carry the change over, or drop the touch), then update its pin.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import threading

import httpx
import pytest
import uvicorn

from core.errors import GatewayStartError
from core.gateway import litellm_seam, pins, uvicorn_seam
from core.gateway.pins import Pin

PINS = (*litellm_seam.PINS, *uvicorn_seam.PINS)


@pytest.fixture(scope="module", autouse=True)
def litellm_proxy() -> None:
    litellm_seam.offline_environment()
    import litellm.proxy.proxy_server  # noqa: F401  (imports every module a pin names)


@pytest.mark.parametrize("pin", PINS, ids=lambda pin: pin.name)
def test_every_touch_still_fits(pin: Pin) -> None:
    assert pin.problem() is None, (
        f"{pin.name!r} no longer fits: {pin.problem()}; "
        f"{'GateDeck falls back: ' + pin.fallback if pin.fallback else 'the gateway refuses to start'}"
    )


def test_every_replaced_or_copied_function_is_pinned_by_its_source() -> None:
    copied = {name for name in vars(uvicorn_seam.QuickStopServer) if not name.startswith("__")} - {"stop"}
    assert copied <= set(uvicorn_seam.QUICK_STOP.sources), "a uvicorn method copied without its pin"
    for patch in litellm_seam.PATCHES:
        assert len(patch.pin.sources) == 1 and patch.pin.fallback, patch.name


@pytest.mark.parametrize("patch", litellm_seam.PATCHES, ids=lambda patch: patch.name)
def test_a_replacement_takes_what_the_original_takes(patch: litellm_seam.Patch) -> None:
    original = patch.pin.original(patch.attr)
    original = getattr(original, "__func__", original)
    replacement = patch.make(original)
    replacement = getattr(replacement, "__func__", replacement)
    before = list(inspect.signature(original).parameters)
    after = list(inspect.signature(replacement).parameters)
    assert after[: len(before)] == before or after[-2:] == ["args", "kwargs"], (before, after)


def test_patches_apply_once_and_keep_litellm_s_own_code_at_hand() -> None:
    first = litellm_seam.apply_speedups()
    assert first == litellm_seam.apply_speedups()
    assert {"no-otel-import", "free-local-cost"} <= set(first)
    for patch in litellm_seam.PATCHES:
        if patch.name in first:
            current = inspect.getattr_static(patch.pin.resolve(), patch.attr)
            assert getattr(current, pins.ORIGINAL) is not None
        assert patch.pin.problem() is None, "the pin is checked against the kept original"


def test_a_patch_for_changed_code_is_left_out_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    stale = litellm_seam.Patch(
        "free-local-cost",  # switched on; its pin stands for code an upgrade changed
        Pin(
            "stale speed-up",
            "litellm.litellm_core_utils.litellm_logging:Logging",
            sources={"async_success_handler": "0" * 64},
            fallback="LiteLLM's own code is used",
        ),
        lambda original: pytest.fail("a patch for changed code must not be built"),
    )
    with caplog.at_level(logging.WARNING, logger="core.gateway.pins"):
        assert litellm_seam.apply_speedups("litellm test", (stale,)) == []
        assert litellm_seam.apply_speedups("litellm test", (stale,)) == []
    (said,) = [r.getMessage() for r in caplog.records]
    assert "'stale speed-up' does not fit litellm test" in said and "changed" in said
    assert not hasattr(stale.pin.original("async_success_handler"), pins.ORIGINAL)


def test_a_touch_the_gateway_cannot_do_without_stops_the_start_with_a_reason() -> None:
    missing = Pin("config handed over in memory (test)", "litellm.proxy.proxy_server", ("no_such_hook",))
    with pytest.raises(GatewayStartError, match="not one GateDeck works with .*no_such_hook"):
        pins.require(missing, "litellm 9.9")


async def _hello(scope: dict[str, object], receive: object, send: object) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()  # type: ignore[operator]
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})  # type: ignore[operator]
            if kind == "shutdown":
                return
    body = b"hello"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fits", [True, False], ids=["uvicorn as pinned", "uvicorn changed"])
def test_the_server_serves_and_stops_with_or_without_its_quick_stop(
    fits: bool, caplog: pytest.LogCaptureFixture
) -> None:
    pin = uvicorn_seam.QUICK_STOP
    if not fits:
        pin = Pin(
            "quick-stopping server (changed)",
            "uvicorn:Server",
            sources={"main_loop": "0" * 64},
            fallback="uvicorn's own server is used",
        )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with caplog.at_level(logging.WARNING, logger="core.gateway.pins"):
        server = uvicorn_seam.GatewayServer(_hello, grace_s=1.0, quick_stop=pin)
    assert server.quick is fits
    said = [r.getMessage() for r in caplog.records]
    if fits:
        assert said == []
    else:
        assert said == [
            f"gateway: 'quick-stopping server (changed)' does not fit uvicorn {uvicorn.__version__} "
            "(uvicorn:Server.main_loop changed): uvicorn's own server is used"
        ]
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sock))
        await server.wait_started()
        ready.set()
        await serving

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),))
    thread.start()
    try:
        assert ready.wait(30)
        assert httpx.get(url, timeout=10).text == "hello"
    finally:
        loop.call_soon_threadsafe(server.stop, 1.0)
        thread.join(30)
        loop.close()
        sock.close()
    assert not thread.is_alive()
