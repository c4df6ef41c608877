"""Start the desktop app: QApplication, the qasync loop, single instance, the controller.

The window is shown before the gateway engine (LiteLLM, seconds to import) loads; the engine
loads off the UI thread and the window says "loading gateway engine" meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from PySide6.QtWidgets import QApplication, QMessageBox

from core.config.first_run import open_installation
from core.errors import FolderNotWritable
from core.logs import register_secret, setup_logging
from core.version import __version__

log = logging.getLogger(__name__)


def run(
    ollama_url: str | None = None,
    default_model: str | None = None,
    panel: str | None = None,
    hidden: bool = False,
) -> int:
    """Open GateDeck's window and run until the user quits. Returns the exit code."""
    # LiteLLM must never try the network at import; set before anything can import it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")

    import qasync

    from gui.controller import AppController
    from gui.single_instance import SingleInstance, server_name

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("GateDeck")
    app.setApplicationDisplayName("GateDeck")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("gatedeck")
    app.setQuitOnLastWindowClosed(False)  # closing the window hides to the tray

    try:
        install = open_installation(ollama_url=ollama_url, default_model=default_model)
    except FolderNotWritable as exc:  # started from a menu there is no terminal to print it in
        QMessageBox.critical(None, "GateDeck cannot start", str(exc))
        raise
    register_secret(install.master_key)
    register_secret(install.metrics_token)
    setup_logging(install.paths.log_dir)

    single = SingleInstance(server_name(install.paths.config_dir))
    if single.ask_running_instance(panel or ""):
        print("GateDeck is already running; its window was brought to the front.")
        return 0
    single.listen()

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(install)
    single.activated.connect(lambda p: controller.show_window(p))
    if panel:
        controller.window.show_panel(panel)
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, lambda: controller.ops.run(controller.quit()))
        except (NotImplementedError, RuntimeError):  # Windows: no Unix signals on the loop
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(controller.ops.run, controller.quit()))
    controller.start(show_window=not hidden, offer_setup=True)
    log.info("GateDeck %s window shown", __version__)
    with loop:
        loop.run_until_complete(controller.quit_finished.wait())
    single.close()
    return 0
