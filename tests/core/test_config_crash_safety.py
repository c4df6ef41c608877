"""GateDeck killed while saving its config, many times over: the config always loads afterwards."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from core.config.store import ConfigStore
from core.paths import AppPaths

SAVER = textwrap.dedent(
    """
    import sys
    from core.config.schema import Mapping, ModelOptions
    from core.config.store import ConfigStore
    from core.config.defaults import default_config
    from core.paths import AppPaths

    store = ConfigStore(AppPaths.from_env())
    config = default_config()
    n = 0
    while True:
        n += 1
        # Vary the size so a torn write would show as truncated YAML.
        config.mappings = config.mappings[:4] + [
            Mapping(name=f"m{n}-{i}", model="x:1b", options=ModelOptions(num_ctx=2048 + i))
            for i in range(n % 40)
        ]
        store.save(config)
        print(n, flush=True)
    """
)


@pytest.mark.timeout(180)
def test_killing_a_save_at_random_points_never_leaves_an_unloadable_config() -> None:
    rng = random.Random(20261122)
    store = ConfigStore(AppPaths.from_env())
    kills = 25
    for round_ in range(kills):
        child = subprocess.Popen(
            [sys.executable, "-c", SAVER],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        assert child.stdout is not None
        # Let it complete a random number of saves, then kill it wherever it is in the next one.
        for _ in range(rng.randint(1, 25)):
            assert child.stdout.readline(), "the saving process died on its own"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

        result = store.load()
        assert result.source == "file", f"round {round_}: {result.problems}"
        assert result.problems == []
    leftovers = [p.name for p in store.path.parent.glob(".config.yaml.tmp-*")]
    assert len(leftovers) <= 1, leftovers  # at most the last killed save's temp, cleaned by the next
