"""A second Ollama host for the screenshots: the Gateway panel's host list, the Models panel
with its host picker on that host, and the Mappings panel's warning for a model that host lacks.

Used by ``docs/make_screenshots.py``: a second fake Ollama (another version, another model, one
model loaded) is added through the gateway as the Gateway panel's dialog would, one mapping is put
on both hosts, and the three panels are saved as PNGs. The host is removed again afterwards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import llama32_3b, qwen3_8b

GPU_BOX = "gpu-box"


async def two_hosts(controller: object, out: Path) -> None:
    from core.config.host_edits import with_host, without_host
    from core.config.schema import OllamaBackend
    from core.ollama.client import OllamaClient
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    window = controller.window
    with FakeOllama(models=[qwen3_8b(), llama32_3b()], version="0.15.1") as gpu_box:
        async with OllamaClient(gpu_box.url) as client:
            await client.load("qwen3:8b")
        before = controller.holder.config
        config = with_host(before, OllamaBackend(name=GPU_BOX, url=gpu_box.url))
        first = config.mappings[0].model_copy(update={"backends": [config.backends[0].name, GPU_BOX]})
        await controller.gateway.apply(config.model_copy(update={"mappings": [first, *config.mappings[1:]]}))

        window.show_panel("gateway")
        await controller.gateway_panel.hosts.check_all()
        await _save(window, out / "hosts.png")

        window.show_panel("models")
        await controller.models_panel.select_host(GPU_BOX)
        await _save(window, out / "models-hosts.png")

        # The mapping on both hosts uses a model the GPU box lacks: the warning names it.
        window.show_panel("mappings")
        await controller.mappings_panel.refresh_hosts()
        await _save(window, out / "mappings-hosts.png")

        await controller.gateway.apply(without_host(controller.holder.config, GPU_BOX))


async def _save(window: object, path: Path) -> None:
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)
    await asyncio.sleep(0.5)  # let the panel lay out and paint
    window.grab().save(str(path))
    print(f"wrote {path}")
