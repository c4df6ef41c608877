"""Start the desktop app: QApplication, the qasync loop, the main window.

Everything is wired here once; widgets receive the services they use through their
constructors.
"""

from __future__ import annotations

import asyncio
import os
import sys

from PySide6.QtWidgets import QApplication

from core.first_run import open_installation
from core.logs import register_secret, setup_logging
from core.version import __version__


def run(ollama_url: str | None = None, default_model: str | None = None, panel: str | None = None) -> int:
    """Open GateDeck's window and run until the user quits. Returns the exit code."""
    # LiteLLM is imported later, off the UI thread; it must never try the network at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")

    import qasync

    from gui.main_window import MainWindow

    install = open_installation(ollama_url=ollama_url, default_model=default_model)
    register_secret(install.master_key)
    setup_logging(install.paths.log_dir)

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("GateDeck")
    app.setApplicationDisplayName("GateDeck")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("gatedeck")

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(install)
    if panel:
        window.show_panel(panel)
    window.show()
    with loop:
        app_close = asyncio.Event()
        app.aboutToQuit.connect(app_close.set)
        loop.run_until_complete(app_close.wait())
    return 0
