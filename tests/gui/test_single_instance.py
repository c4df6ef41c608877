"""Launching GateDeck twice: the second launch brings the first window forward instead."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from gui.single_instance import SingleInstance, server_name


def test_second_launch_reaches_the_first(qtbot: QtBot, tmp_path: Path) -> None:
    name = server_name(tmp_path / "config")
    first = SingleInstance(name)
    assert first.listen()
    try:
        second = SingleInstance(name)
        with qtbot.waitSignal(first.activated, timeout=5000) as asked:
            assert second.ask_running_instance("models")
        assert asked.args == ["models"]
    finally:
        first.close()
    third = SingleInstance(name)
    assert not third.ask_running_instance(timeout_ms=300), "nobody answers once the first has quit"


def test_separate_config_folders_are_separate_instances(tmp_path: Path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
