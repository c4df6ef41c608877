"""The first-run setup, one screenshot per step, for ``docs/make_screenshots.py setup``.

The setup runs on the window's own services (gateway, pull queue, probe) against the fake Ollama,
on a described desktop with an 8 GB graphics card (the machine taking the screenshots may have
none). The second recommendation is chosen, so that the download step has something to do: a
real pull from the fake Ollama, slowed down so the bar stands part-way. The fake model then
calls tools, and the last step writes Claude Code's and Codex's settings into a throwaway home.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b

GIB = 2**30
CHOSEN = "qwen3-coder:30b"


def desktop() -> object:
    from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo

    return HardwareInfo(
        CpuInfo("AMD Ryzen 5 7600 6-Core Processor", 6, 12, "x86_64"),
        MemoryInfo(32 * GIB, 24 * GIB),
        (GpuInfo("NVIDIA", 0, "NVIDIA GeForce RTX 4060", 8 * GIB, int(7.4 * GIB), "550.54"),),
    )


async def _until(done: Callable[[], bool], seconds: float = 60.0) -> None:
    for _ in range(int(seconds * 10)):
        if done():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the setup step did not get there in time")


async def setup_steps(controller: object, fake: FakeOllama, out: Path, suffix: str = "") -> None:
    from core.hardware.facts import HardwareInfo
    from core.ollama.state import OllamaState
    from gui.controller import AppController
    from gui.dialogs.setup_wizard import SetupWizard
    from gui.pull_queue import JobState

    assert isinstance(controller, AppController)
    machine = desktop()
    assert isinstance(machine, HardwareInfo)
    fake.add_model(qwen3_8b().copy_as(CHOSEN), installed=False)
    fake.set_pull_plan(CHOSEN, [18_999_998_084, 1_429, 487], steps_per_layer=400)  # 19.0 GB, as listed
    ollama = OllamaState(lambda: controller.holder.config.backends[0].url, read_hardware=lambda: machine)
    # Claude Code's and Codex's settings go to a throwaway home, shown as ~/… as a user sees them.
    home, real_home = tempfile.mkdtemp(prefix="gatedeck-shots-home-"), os.environ.get("HOME")
    os.environ["HOME"] = home
    services = dataclasses.replace(
        controller.setup_services(),
        ollama=ollama,
        settings_path=Path(home) / ".claude" / "settings.json",
        codex_config_path=Path(home) / ".codex" / "config.toml",
    )
    wizard = SetupWizard(services, controller.window)
    wizard.show()

    async def shoot(name: str) -> None:
        await asyncio.sleep(0.5)  # let the step lay out and paint
        path = out / f"setup-{name}{suffix}.png"
        wizard.grab().save(str(path))
        print(f"wrote {path}")

    try:
        await wizard.begin()
        await shoot("1-ollama")
        await wizard.next()
        await shoot("2-machine")
        await wizard.next()
        await _until(lambda: bool(wizard.models_page.cards))
        wizard.models_page.choose(CHOSEN)
        await shoot("3-models")
        fake.set_chunk_delay(0.05, "/api/pull")
        await wizard.next()
        wizard.pull_page.download_button.click()
        await _until(lambda: wizard.pull_page.job is not None and (_fraction(wizard) >= 0.4))
        await shoot("4-download")
        fake.set_chunk_delay(0.0, "/api/pull")
        await _until(lambda: wizard.pull_page.job is not None and wizard.pull_page.job.state is JobState.DONE)
        await _until(lambda: wizard.pull_page.done)
        await wizard.next()
        fake.set_replier(CHOSEN, probe_model("calls"))
        await wizard.tiers_page.map_and_probe()
        await shoot("5-check")
        await wizard.next()
        wizard.claude_page.write_settings()
        wizard.claude_page.codex.write()
        await shoot("6-claude")
    finally:
        if real_home is not None:
            os.environ["HOME"] = real_home
        wizard.close()
        await wizard.shutdown()
        await ollama.aclose()


def _fraction(wizard: object) -> float:
    from gui.dialogs.setup_wizard import SetupWizard

    assert isinstance(wizard, SetupWizard)
    job = wizard.pull_page.job
    progress = job.progress if job is not None else None
    return (progress.fraction or 0.0) if progress is not None and progress.speed > 0 else 0.0
