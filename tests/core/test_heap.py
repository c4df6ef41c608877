"""Loading long-lived objects without the garbage collector walking them again and again.

What GateDeck does while LiteLLM's proxy and the client SDKs load (hundreds of thousands of
objects): without it, the collector ran on its own during the load, each time over everything
loaded so far, and stalled the window for up to ~390 ms.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from core import heap


class Node:
    """A small object in a reference cycle, like the classes and functions a module defines."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that run, in order."""
    seen: list[int] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        yield seen
    finally:
        gc.callbacks.remove(watch)


@pytest.fixture(autouse=True)
def collector_back_on() -> Iterator[None]:
    yield
    gc.enable()


def test_a_load_runs_no_collection_and_leaves_what_it_loaded_frozen(collections: list[int]) -> None:
    frozen_before = gc.get_freeze_count()
    with heap.loading_long_lived():
        collections.clear()  # one may have run just before
        loaded = [Node() for _ in range(50_000)]  # ~70 young collections without the pause
        assert not gc.isenabled()
    assert collections == [], "the collector ran during the load"
    assert gc.isenabled()
    assert gc.get_freeze_count() - frozen_before >= len(loaded)

    [Node() for _ in range(5_000)]  # afterwards, the collector runs as before
    assert collections, "the collector stayed off after the load"


def test_overlapping_loads_keep_the_collector_off_until_the_last_one_ends() -> None:
    first_in, second_done, release = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with heap.loading_long_lived():
            first_in.set()
            release.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_in.wait(30)
        with heap.loading_long_lived():
            pass
        second_done.set()
        assert not gc.isenabled(), "one load ended while the other still runs"
    finally:
        release.set()
        thread.join(30)
    assert second_done.is_set() and gc.isenabled()


def test_a_collector_turned_off_before_a_load_stays_off() -> None:
    gc.disable()
    with heap.loading_long_lived():
        pass
    assert not gc.isenabled()
