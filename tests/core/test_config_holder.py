"""Changing the config while GateDeck runs: who is told what, and where the disk work happens."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

import pytest

from core.config.defaults import default_config
from core.config.holder import ConfigChange, ConfigHolder, changed_sections
from core.config.schema import Config, GatewaySettings, Mapping
from core.config.store import ConfigStore
from core.paths import AppPaths


@pytest.fixture
def holder() -> ConfigHolder:
    store = ConfigStore(AppPaths.from_env())
    config = default_config(default_model="qwen2.5-coder:7b")
    store.save(config)
    return ConfigHolder(store, config)


def with_mapping(config: Config) -> Config:
    return config.model_copy(
        update={"mappings": [*config.mappings, Mapping(name="gpt-4o", model="llama3.2:3b")]}
    )


def test_subscribers_learn_which_sections_changed(holder: ConfigHolder) -> None:
    seen: list[ConfigChange] = []
    unsubscribe = holder.subscribe(seen.append)
    before = holder.config

    holder.replace(with_mapping(before))
    assert [c.sections for c in seen] == [frozenset({"mappings"})]
    assert seen[0].old == before and seen[0].new == holder.config
    assert seen[0].touches("mappings", "backends") and not seen[0].touches("gateway", "ui")

    holder.replace(holder.config.model_copy(update={"gateway": GatewaySettings(port=4111)}))
    assert seen[-1].sections == {"gateway"}

    unsubscribe()
    holder.replace(holder.config.model_copy(update={"gateway": GatewaySettings(port=4112)}))
    assert len(seen) == 2


def test_saving_the_same_config_again_wakes_nobody(holder: ConfigHolder) -> None:
    seen: list[ConfigChange] = []
    holder.subscribe(seen.append)
    holder.replace(holder.config.model_copy(deep=True))
    assert seen == []
    assert holder.store.load().config == holder.config


def test_changed_sections_compares_every_top_level_section() -> None:
    config = default_config()
    ui = config.ui.model_copy(update={"theme": "dark"})
    assert changed_sections(config, config.model_copy(update={"ui": ui})) == {"ui"}
    assert changed_sections(config, config.model_copy(deep=True)) == frozenset()
    assert set(Config.model_fields) >= {"gateway", "backends", "mappings", "cloud", "ollama_server", "ui"}


async def test_saves_from_the_window_fsync_off_its_loop_and_tell_subscribers_on_it(
    holder: ConfigHolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    fsync_threads: list[int] = []
    real_fsync: Callable[[int], None] = os.fsync

    def recording_fsync(fd: int) -> None:
        fsync_threads.append(threading.get_ident())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    told_on: list[int] = []
    holder.subscribe(lambda _change: told_on.append(threading.get_ident()))

    new = with_mapping(holder.config)
    await holder.replace_async(new)

    assert fsync_threads and loop_thread not in fsync_threads, "the loop waited on the disk"
    assert told_on == [loop_thread]
    assert holder.config == new and holder.store.load().config == new


async def test_saves_asked_for_together_land_in_order(holder: ConfigHolder) -> None:
    seen: list[int] = []
    holder.subscribe(lambda change: seen.append(change.new.gateway.port))
    ports = [4101, 4102, 4103, 4104]
    await asyncio.gather(
        *(
            holder.replace_async(holder.config.model_copy(update={"gateway": GatewaySettings(port=p)}))
            for p in ports
        )
    )
    assert seen == ports
    assert holder.store.load().config.gateway.port == 4104


async def test_a_bad_config_is_refused_and_nothing_changes(holder: ConfigHolder) -> None:
    before = holder.config
    on_disk = holder.store.path.read_bytes()
    seen: list[ConfigChange] = []
    holder.subscribe(seen.append)
    bad = before.model_copy(update={"mappings": [Mapping(name="x", model="m", backends=["nowhere"])]})
    with pytest.raises(ValueError, match="unknown backend 'nowhere'"):
        await holder.replace_async(bad)
    assert holder.config == before and seen == []
    assert holder.store.path.read_bytes() == on_disk
