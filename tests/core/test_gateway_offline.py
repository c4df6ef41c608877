"""LiteLLM is imported lazily, off the caller's thread, with its offline settings, and never
reaches the network while loading (DESIGN.md: without the local cost map it tries for 5 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.core.gateway_support import REPO

PROBE = r"""
import json, os, socket, sys, threading

attempts = []
LOCAL = ("127.0.0.1", "::1", "localhost")
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

def connect(self, address):
    if isinstance(address, tuple) and address[0] not in LOCAL:
        attempts.append(f"connect {address[0]}")
        raise OSError("network blocked by the test")
    return real_connect(self, address)

def getaddrinfo(host, *args, **kwargs):
    if host not in LOCAL and host is not None:
        attempts.append(f"resolve {host}")
        raise socket.gaierror("network blocked by the test")
    return real_getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo

import core.gateway.service, core.cli.gateway, core.gateway.doctor
imported_early = "litellm" in sys.modules
from core.gateway import engine as gateway_engine

loaded_on = []
loader = threading.Thread(target=lambda: (gateway_engine.load(), loaded_on.append(threading.current_thread().name)))
loader.start()
loader.join()
print(json.dumps({
    "imported_early": imported_early,
    "loaded_on": loaded_on,
    "cost_map": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"),
    "attempts": attempts,
    "litellm": "litellm" in sys.modules,
}))
"""


@pytest.mark.timeout(120)
def test_litellm_loads_lazily_off_thread_and_offline() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}  # no help from the test env
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported_early"] is False  # importing GateDeck's gateway modules is cheap
    assert report["loaded_on"] and report["loaded_on"] != ["MainThread"]
    assert report["litellm"] is True
    assert report["cost_map"] == "True"
    assert report["attempts"] == []
