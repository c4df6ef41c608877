"""The Gateway panel's Prometheus box: the read-only metrics token and a scrape job for it."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.metrics.scrape import TOKEN_FILE, scrape_job


class MetricsTokenBox(QGroupBox):
    """The install's metrics token (hidden until *Show*), *Copy*, and the ``prometheus.yml`` job
    that scrapes the gateway with it.

    Args:
        token: the read-only metrics token; ``None`` when the gateway has none (then only the
            gateway key opens ``/metrics``).
    """

    def __init__(self, token: str | None, parent: QWidget | None = None) -> None:
        super().__init__("Prometheus metrics", parent)
        self.setObjectName("metricsTokenBox")
        self._token = token or ""
        self.token_field = QLineEdit(self._token)
        self.token_field.setObjectName("metricsToken")
        self.token_field.setReadOnly(True)
        self.token_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_token = QPushButton("Show")
        self.show_token.setObjectName("showMetricsToken")
        self.show_token.setCheckable(True)
        self.show_token.toggled.connect(self._on_show_token_toggled)
        self.copy_token = QPushButton("Copy")
        self.copy_token.setObjectName("copyMetricsToken")
        self.copy_token.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._token))
        for widget in (self.token_field, self.show_token, self.copy_token):
            widget.setEnabled(bool(self._token))
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_field, 1)
        token_row.addWidget(self.show_token)
        token_row.addWidget(self.copy_token)

        note = QLabel(
            "A Prometheus server scrapes <code>/metrics</code> with this token. It opens the "
            "metrics only: every model route refuses it. Put it in "
            f"<code>{TOKEN_FILE}</code> on the Prometheus host and add this job:"
            if self._token
            else "This gateway has no metrics token: scrape <code>/metrics</code> with the master key."
        )
        note.setWordWrap(True)
        self.job = QPlainTextEdit()
        self.job.setObjectName("scrapeJob")
        self.job.setReadOnly(True)
        self.job.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.job.setFixedHeight(self.job.fontMetrics().lineSpacing() * 6 + 12)
        copy_job = QPushButton("Copy job")
        copy_job.setObjectName("copyScrapeJob")
        copy_job.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.job.toPlainText()))
        job_row = QHBoxLayout()
        job_row.addStretch(1)
        job_row.addWidget(copy_job)

        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(token_row)
        layout.addWidget(self.job)
        layout.addLayout(job_row)

    def show_gateway(self, url: str) -> None:
        """Show the scrape job for the gateway at ``url``."""
        self.job.setPlainText(scrape_job(url))

    def _on_show_token_toggled(self, shown: bool) -> None:
        self.token_field.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_token.setText("Hide" if shown else "Show")
