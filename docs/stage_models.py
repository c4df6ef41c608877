"""A pull in progress for the Models screenshot, and a filled-in fit estimate for the Hardware one.

Used by ``docs/make_screenshots.py``: the pull is a real one from the fake Ollama (slowed down so
the bar stands part-way), started with the Models panel's own "Pull <model>" button, with a
second pull queued behind it.
"""

from __future__ import annotations

import asyncio

from tests.fakes.fake_ollama import FakeOllama

NEEDED, QUEUED = "qwen3:8b", "deepseek-r1:7b"


async def pull_in_progress(controller: object, fake: FakeOllama, fraction: float = 0.4) -> None:
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    fake.set_pull_plan(NEEDED, [5_225_000_000, 1_429, 487], steps_per_layer=400)
    fake.set_pull_plan(QUEUED, [4_683_000_000, 1_429, 487], steps_per_layer=400)
    fake.set_chunk_delay(0.05, "/api/pull")
    panel = controller.models_panel
    await panel.refresh()
    panel.pull_needed_button.click()  # the mapping gpt-4o uses qwen3:8b, which is not pulled
    for _ in range(100):  # the button's slot runs on the loop
        if panel.queue.job(NEEDED) is not None:
            break
        await asyncio.sleep(0.05)
    panel.start_pull(QUEUED)
    for _ in range(600):
        job = panel.queue.job(NEEDED)
        progress = job.progress if job is not None else None
        if progress is not None and (progress.fraction or 0) >= fraction and progress.speed > 0:
            return
        await asyncio.sleep(0.1)


async def fit_shown(controller: object, fake: FakeOllama) -> None:
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    panel = controller.hardware_panel
    for _ in range(300):
        if panel.tuning.fit.estimate is not None:
            return
        await asyncio.sleep(0.1)


async def reload_warning(controller: object, fake: FakeOllama) -> None:
    """The Hardware panel with claude-*haiku* given a smaller context than the other mappings on
    its model: the warning that Ollama would load the model again, and its one-click fix."""
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    panel = controller.hardware_panel
    await panel.select_mapping("claude-*haiku*")
    panel.tuning.context.set_value(16384)
