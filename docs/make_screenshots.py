"""Regenerate the README's screenshots from the real window.

Runs GateDeck's own window (offscreen, no display needed) against a fake Ollama with two chat models
and an embedding model,
waits for the gateway to run, and saves one PNG per panel into docs/screenshots/.

    bash scripts/screenshots            # all panels
    bash scripts/screenshots gateway    # just one
    bash scripts/screenshots --dark mappings monitor   # the dark appearance: mappings-dark.png…
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

OUT = Path(__file__).resolve().parent / "screenshots"
SIZE = (1180, 760)


async def tour(controller: object, panels: list[str], fake: object, suffix: str = "") -> None:
    from docs.stage_hosts import two_hosts
    from docs.stage_mappings import probe_verdicts
    from docs.stage_models import fit_shown, pull_in_progress, reload_warning
    from docs.stage_observability import chat_ab, monitor_traffic
    from docs.stage_setup import setup_steps
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    for _ in range(1200):  # the engine loads in the background: up to 2 minutes
        if controller.gateway.state in ("running", "failed"):
            break
        await asyncio.sleep(0.1)
    await controller.watcher.refresh()
    window = controller.window
    for key in panels:
        if key == "claude":  # the Claude Code setup dialog (the key shown is a throwaway one)
            dialog = controller.open_claude_setup()
            await asyncio.sleep(0.5)
            dialog.grab().save(str(OUT / f"claude{suffix}.png"))
            print(f"wrote {OUT / f'claude{suffix}.png'}")
            dialog.close()
            continue
        if key == "setup":  # the first-run setup, one PNG per step (it maps the tiers: keep it last)
            await setup_steps(controller, fake, OUT, suffix)
            continue
        if key == "hosts":  # a second Ollama host: the Gateway panel's list, the Models picker
            await two_hosts(controller, OUT)
            continue
        if key in ("monitor", "chat"):  # real traffic through the gateway first
            await (monitor_traffic if key == "monitor" else chat_ab)(controller, fake)
        if key == "mappings":  # tool-call probe verdicts in the table
            await probe_verdicts(controller, fake)
        if key in ("models", "hardware"):  # a pull part-way; the fit estimate filled in
            await (pull_in_progress if key == "models" else fit_shown)(controller, fake)
        if key == "reload":  # the Hardware panel warning that a mapping would reload its model
            window.show_panel("hardware")
            await fit_shown(controller, fake)
            await reload_warning(controller, fake)
            await asyncio.sleep(0.5)
            window.grab().save(str(OUT / f"reload{suffix}.png"))
            print(f"wrote {OUT / f'reload{suffix}.png'}")
            continue
        window.show_panel(key)
        await asyncio.sleep(0.5)  # let the panel lay out and paint
        path = OUT / f"{key}{suffix}.png"
        window.grab().save(str(path))
        print(f"wrote {path}")
    await controller.quit()


def main(argv: list[str]) -> int:
    os.environ["GATEDECK_CONFIG_DIR"] = tempfile.mkdtemp(prefix="gatedeck-shots-")
    os.environ["GATEDECK_SECRET_STORE"] = "file"
    import qasync
    from PySide6.QtWidgets import QApplication

    from core.config.first_run import open_installation
    from core.config.schema import GatewaySettings, Mapping, ModelOptions, OllamaBackend
    from gui.controller import AppController
    from gui.main_window import PANELS
    from tests.core.gateway_support import free_port
    from tests.fakes.fake_ollama import FakeOllama
    from tests.fakes.ollama_catalog import default_models, nomic_embed_text

    dark = "--dark" in argv  # through Preferences' own Appearance setting
    argv = [a for a in argv if a != "--dark"]
    panels = argv or [*(key for key, _ in PANELS), "claude", "reload", "hosts", "setup"]
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with FakeOllama(models=[*default_models(), nomic_embed_text()]) as fake:  # and a RAG tool's
        install = open_installation()
        config = install.config
        install.loaded.config = config.model_copy(
            update={
                "backends": [OllamaBackend(name="local", url=fake.url)],
                "gateway": GatewaySettings(port=free_port()),
                "ui": config.ui.model_copy(update={"theme": "dark" if dark else "system"}),
                # One mapping whose model is not pulled yet, to show the warning and its Pull button.
                "mappings": [
                    *config.mappings[:-1],
                    Mapping(name="gpt-4o", model="qwen3:8b", options=ModelOptions(num_ctx=16384)),
                    Mapping(name="text-embedding-3-small", model="nomic-embed-text"),
                    config.mappings[-1],
                ],
            }
        )
        install.store.save(install.loaded.config)
        controller = AppController(install, use_tray=False)
        controller.window.resize(*SIZE)
        controller.start()
        with loop:
            loop.run_until_complete(tour(controller, panels, fake, "-dark" if dark else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
