"""The first-run setup's download of the chosen model, and Claude Code's tiers mapped onto it
with the tool-call probe's verdict."""

from __future__ import annotations

import asyncio
import dataclasses
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from core.cli.format import human_bytes
from core.clients.claude_code import TIER_PROBES
from core.clients.probe_verdicts import keep_verdict
from core.clients.tool_probe import ProbeResult
from core.setup.apply import map_claude_tiers, tiers_like
from gui.dialogs.setup_run import SetupPage, SetupRun, note
from gui.gateway_bridge import BridgeState, GatewayBridge
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, tint
from gui.pull_queue import JobState, PullJob
from gui.widgets.pull import PullWidget


class PullPage(SetupPage):
    """Downloads the chosen model with the Models panel's own queue (cancel and resume there
    and here); skipped when the model is installed."""

    title = "Download"

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.job: PullJob | None = None
        self.row: PullWidget | None = None
        self.what = note("", "setupPullWhat")
        self.status = note("", "setupPullStatus")
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("setupDownload")
        self.download_button.clicked.connect(self._on_download_button_clicked)
        self.download_button.hide()
        self.rows = QVBoxLayout()
        self.column.addWidget(self.what)
        self.column.addLayout(self.rows)
        self.column.addWidget(self.download_button)
        self.column.addWidget(self.status)
        self.column.addStretch(1)
        pulls = self.services.pulls
        pulls.changed.connect(self._on_pulls_changed)
        pulls.removed.connect(self._on_pulls_removed)

    def applies(self) -> bool:
        return self.run.chosen is not None and not self.run.chosen.installed

    async def enter(self) -> None:
        chosen = self.run.chosen
        if chosen is None:
            return
        self.what.setText(
            f"<b>{escape(chosen.model)}</b> is not in Ollama yet: it is a {human_bytes(chosen.download_bytes)} "
            "download. Cancel stops it and Resume goes on where it stopped; the Models panel shows "
            "it too."
        )
        if self.job is None or self.job.model != chosen.model:
            queued = self.services.pulls.job(chosen.model)  # started before (here or on Models)
            if queued is not None:
                self.start()
            else:
                self._drop_row()
                self.download_button.setText(f"Download {chosen.model}")
                self.download_button.show()

    def start(self) -> PullJob | None:
        """Queue the chosen model's pull (an ended one resumes) and show its row."""
        chosen = self.run.chosen
        if chosen is None:
            return None
        job = self.services.pulls.enqueue(chosen.model)
        self._show_row(job)
        self.job = job
        self._on_pulls_changed(job)
        return job

    def _show_row(self, job: PullJob) -> None:
        self._drop_row()
        self.row = PullWidget(job, self.services.pulls)
        self.rows.addWidget(self.row)
        self.download_button.hide()

    def _on_pulls_changed(self, job: PullJob) -> None:
        if job is not self.job:
            return
        if self.row is not None:
            self.row.update_from_job()
        if job.state is JobState.DONE and not self.done:
            self.status.setText(f"{escape(job.model)} is downloaded. Next maps Claude Code's models onto it.")
            tint(self.status, Tone.GOOD)
            self.ops.run(self._downloaded(job.model))
        elif job.state is not JobState.DONE:
            tint(self.status, None)
            self.status.setText("")
            self.set_done(False)

    async def _downloaded(self, model: str) -> None:
        chosen = self.run.chosen
        if chosen is not None and chosen.model == model:  # installed now: Back skips this step
            installed = dataclasses.replace(chosen, installed=True, download_bytes=0)
            self.run.recommendations = [installed if r is chosen else r for r in self.run.recommendations]
            self.run.chosen = installed
        self.set_done(True)
        await self.services.ollama.refresh()

    def _drop_row(self) -> None:
        if self.row is not None:
            self.rows.removeWidget(self.row)
            self.row.deleteLater()
        self.row, self.job = None, None
        self.set_done(False)

    def _on_pulls_removed(self, job: PullJob) -> None:
        if job is self.job:  # "Clear" on its row (here or on Models)
            self._drop_row()
            self.download_button.show()

    def _on_download_button_clicked(self) -> None:
        self.start()


class TiersPage(SetupPage):
    """Maps Claude Code's tiers onto the chosen model with one set of load options, then runs
    the tool-call probe on it; a bad verdict offers the next recommendation.

    Signals:
        retry_requested(): try the next recommendation (the run's ``chosen`` is it already).
    """

    title = "Map and check"
    retry_requested = Signal()

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.result: ProbeResult | None = None
        #: the model the shown verdict is about
        self.probed_model = ""
        self.plan = note("", "setupTiersPlan")
        self.map_button = QPushButton("Map and check tool calls")
        self.map_button.setObjectName("setupMapAndProbe")
        self.map_button.clicked.connect(self._on_map_button_clicked)
        self.status = note("", "setupTiersStatus")
        self.verdict = note("", "setupVerdict")
        self.try_next = QPushButton()
        self.try_next.setObjectName("setupTryNext")
        self.try_next.clicked.connect(self._on_try_next_clicked)
        self.try_next.hide()
        row = QHBoxLayout()
        row.addWidget(self.map_button)
        row.addWidget(self.try_next)
        row.addStretch(1)
        self.column.addWidget(self.plan)
        self.column.addLayout(row)
        self.column.addWidget(self.status)
        self.column.addWidget(self.verdict)
        self.column.addStretch(1)

    def applies(self) -> bool:
        return self.run.chosen is not None

    async def enter(self) -> None:
        chosen = self.run.chosen
        if chosen is None:
            return
        if self.result is not None and self.probed_model == chosen.model:
            return  # back here after a verdict: keep showing it
        self.result, self.probed_model = None, ""
        self.verdict.setText("")
        self.try_next.hide()
        tint(self.status, None)
        self.status.setText("")
        if not chosen.installed and self.services.ollama.installed_model(chosen.model) is None:
            tint(self.status, Tone.WARNING)
            self.status.setText(f"{escape(chosen.model)} is not downloaded yet: the check needs it (step 4).")
        self.plan.setText(
            f"Claude Code asks for <i>opus</i>, <i>sonnet</i> and <i>haiku</i> models. GateDeck answers "
            f"all of them, and any other model name, with <b>{escape(chosen.model)}</b> at a context of "
            f"<b>{chosen.num_ctx:,} tokens</b>: one set of load options for every tier, so switching "
            "between them never makes Ollama load the model again.<br><br>Then a Claude-Code-sized "
            "conversation (about 20,000 tokens, 24 tools) checks that it answers with real tool "
            "calls: three runs, which take a while on a real model."
        )
        self.set_done(False)

    async def map_and_probe(self) -> ProbeResult | None:
        """Save the mapping, make sure the gateway serves it, probe it and show the verdict."""
        chosen = self.run.chosen
        if chosen is None:
            return None
        services = self.services
        self.map_button.setEnabled(False)
        self.try_next.hide()
        tint(self.verdict, None)
        tint(self.status, None)
        self.verdict.setText("")
        try:
            config = map_claude_tiers(services.holder.config, chosen.model, chosen.num_ctx)
            self.status.setText(await services.gateway.apply(config))
            self.set_done(True)
            problem = await _serving(services.gateway)
            if problem:
                tint(self.verdict, Tone.BAD)
                self.verdict.setText(f"The gateway is not running, so the check could not run: {problem}")
                return None
            mapping = services.holder.config.mapping_for(TIER_PROBES["sonnet"][0])
            assert mapping is not None, "map_claude_tiers maps every tier"
            tiers = tiers_like(services.holder.config, mapping)  # the verdict on one is theirs too
            self.verdict.setText(f"Checking tool calls on {escape(chosen.model)}…")
            result = await services.probe(mapping.name, mapping.options.num_ctx)
        finally:
            self.map_button.setEnabled(True)
        if services.verdicts_dir is not None:
            keep_verdict(services.verdicts_dir, result, chosen.model, mapping.options.num_ctx, tiers)
        self.result, self.probed_model = result, chosen.model
        self._show_verdict(result)
        return result

    def _show_verdict(self, result: ProbeResult) -> None:
        chosen = self.run.chosen
        assert chosen is not None
        if result.passed:
            tint(self.verdict, Tone.GOOD)
            self.verdict.setText(
                f"✓ <b>{escape(chosen.model)} works with Claude Code.</b> {escape(result.verdict)}<br><br>"
                "Next: point Claude Code at GateDeck."
            )
            return
        tint(self.verdict, Tone.BAD)
        after = self.run.next_after(chosen.model)
        advice = (
            f"The next recommendation is <b>{escape(after.model)}</b>."
            if after
            else "No other recommendation is left: try a model on the Models panel, or another machine."
        )
        self.verdict.setText(
            f"✗ <b>{escape(chosen.model)} is not fit for Claude Code.</b> {escape(result.verdict)}<br><br>{advice}"
        )
        if after is not None:
            self.try_next.setText(f"Try {after.model}")
            self.try_next.show()

    def try_next_model(self) -> bool:
        """Give up on the chosen model and go on with the next recommendation."""
        chosen = self.run.chosen
        after = self.run.next_after(chosen.model) if chosen else None
        if chosen is None or after is None:
            return False
        self.run.failed.append(chosen.model)
        self.run.chosen = after
        self.retry_requested.emit()
        return True

    @async_slot()
    async def _on_map_button_clicked(self) -> None:
        await self.map_and_probe()

    def _on_try_next_clicked(self) -> None:
        self.try_next_model()


async def _serving(gateway: GatewayBridge) -> str:
    """Start the gateway if it is not serving (after its engine has loaded); empty when it
    serves, else why not."""
    if gateway.state is BridgeState.LOADING:
        loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_state(state: str, _reason: str) -> None:
            if state != BridgeState.LOADING and not loaded.done():
                loaded.set_result(None)

        gateway.state_changed.connect(on_state)
        try:
            await loaded
        finally:
            gateway.state_changed.disconnect(on_state)
    if gateway.serving or await gateway.start():
        return ""
    return gateway.reason or "it did not start"
