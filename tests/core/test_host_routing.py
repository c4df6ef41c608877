"""A mapping on two Ollama hosts, through the real gateway with the official SDKs.

Two fake Ollama servers play two machines, one of them slower. A conversation's turns (the same
system prompt and first user turn, a growing history) stay on the host that answered the first
(its prompt cache is there); new conversations spread over both, the least busy first; when one
host stops, its conversations move to the other without a failed request, and it takes requests
again once its health check passes. The request log and ``gatedeck stats`` name the host.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from core.cli import main as cli
from core.cli import stats as cli_stats
from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.fastpath.hosts import HostChooser
from core.gateway import engine as gateway_engine
from core.gateway.service import Gateway
from core.metrics.recorder import MetricsRecorder, RequestRecord
from core.metrics.request_log import RequestLog, read_log
from tests.core.gateway_fixtures import SDK_WARNINGS
from tests.core.gateway_support import KEY, free_port, running
from tests.core.metrics_support import Collector
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
HOSTS = ("fast", "slow")


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeOllama]]:
    with FakeOllama() as fast, FakeOllama() as slow:
        slow.set_chunk_delay(0.01)  # the older machine
        yield {"fast": fast, "slow": slow}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def recorder(data_dir: Path) -> Iterator[MetricsRecorder]:
    recorder = MetricsRecorder(RequestLog(data_dir / "logs"))
    yield recorder
    recorder.close()


@pytest.fixture(scope="module")
def gateway(fakes: dict[str, FakeOllama], recorder: MetricsRecorder) -> Iterator[Gateway]:
    config = Config(
        gateway=GatewaySettings(port=free_port()),
        backends=[OllamaBackend(name=name, url=fake.url) for name, fake in fakes.items()],
        mappings=[
            Mapping(name="claude-*", model=QWEN, backends=list(HOSTS), options=ModelOptions(num_ctx=32768)),
            Mapping(name="gpt-*", model=QWEN, backends=list(HOSTS), options=ModelOptions(num_ctx=32768)),
        ],
    )
    with running(Gateway(config, master_key=KEY, metrics=recorder)) as gw:
        yield gw


@pytest.fixture
def hosts(gateway: Gateway) -> HostChooser:
    engine = gateway_engine.loaded()
    assert engine is not None and engine.direct is not None
    engine.direct.hosts.check_every_s = 0.05  # health checks often, so the test waits little
    return engine.direct.hosts


@pytest.fixture
def seen(recorder: MetricsRecorder, fakes: dict[str, FakeOllama]) -> Iterator[Collector]:
    for fake in fakes.values():
        fake.clear_requests()
        fake.clear_faults()
    collector = Collector(recorder)
    yield collector
    collector.remove()
    for fake in fakes.values():
        fake.clear_faults()


def anthropic_client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


class Conversation:
    """One client's conversation: a system prompt, a first question, then a growing history."""

    def __init__(self, gateway: Gateway, api: str, number: int) -> None:
        self.gateway, self.api = gateway, api
        self.system = f"You are assistant number {number}. Be brief."
        self.turns: list[dict[str, Any]] = [{"role": "user", "content": f"Task {number}: list the files."}]

    def turn(self) -> str:
        """Send the conversation so far; returns the answer, which joins the history."""
        if self.api == "anthropic":
            message = anthropic_client(self.gateway).messages.create(
                model="claude-sonnet-4-5",
                max_tokens=256,
                system=self.system,
                messages=self.turns,  # type: ignore[arg-type]
            )
            text = "".join(block.text for block in message.content if block.type == "text")
        elif self.api == "openai":
            stream = openai_client(self.gateway).chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "system", "content": self.system}, *self.turns],  # type: ignore[list-item]
                stream=True,
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        else:  # the Responses API, as Codex speaks it
            response = openai_client(self.gateway).responses.create(
                model="gpt-4o",
                instructions=self.system,
                input=self.turns,
                store=False,  # type: ignore[arg-type]
            )
            text = response.output_text
        assert text.startswith("Hello from"), text
        self.turns += [{"role": "assistant", "content": text}, {"role": "user", "content": "And then?"}]
        return text


def backends(records: list[RequestRecord]) -> list[str]:
    return [r.backend for r in records]


def take(seen: Collector, count: int) -> list[RequestRecord]:
    records = seen.wait(count)
    seen.clear()
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    assert all(r.route == "fastpath" for r in records)
    return records


@pytest.mark.parametrize("api", ["anthropic", "openai", "responses"])
def test_each_conversation_stays_on_one_host_and_new_ones_spread(
    gateway: Gateway, fakes: dict[str, FakeOllama], hosts: HostChooser, seen: Collector, api: str
) -> None:
    conversations = [Conversation(gateway, api, n) for n in range(4)]
    where: dict[int, set[str]] = {n: set() for n in range(4)}
    for _round in range(3):  # turns of the four conversations, interleaved
        for number, conversation in enumerate(conversations):
            conversation.turn()
            (record,) = take(seen, 1)
            where[number].add(record.backend)
    assert all(len(found) == 1 for found in where.values()), where
    assert {next(iter(found)) for found in where.values()} == set(HOSTS), "new conversations spread"
    # and each host saw only the turns of its own conversations, whole histories growing
    for name, fake in fakes.items():
        firsts = {tuple(m["content"] for m in body["messages"][:2]) for body in fake.bodies("/api/chat")}
        assert len(firsts) == sum(1 for found in where.values() if found == {name})
        assert sorted(len(body["messages"]) for body in fake.bodies("/api/chat"))[-1] == 6


def test_a_new_conversation_goes_to_the_host_with_fewer_requests_in_flight(
    gateway: Gateway, fakes: dict[str, FakeOllama], hosts: HostChooser, seen: Collector
) -> None:
    for fake in fakes.values():
        fake.hang("/api/chat", times=1)  # whichever host takes the first request holds it
    held: list[str] = []
    first = threading.Thread(target=lambda: held.append(Conversation(gateway, "anthropic", 100).turn()))
    first.start()
    assert fakes["fast"].wait_until(lambda: sum(f.held for f in fakes.values()) == 1)
    busy = next(name for name, fake in fakes.items() if fake.held)
    idle = next(name for name in HOSTS if name != busy)
    fakes[idle].clear_faults()
    try:
        for number in range(101, 104):
            Conversation(gateway, "openai", number).turn()
        assert backends(take(seen, 3)) == [idle] * 3, f"{busy} is answering one request already"
    finally:
        fakes[busy].release()
        first.join(30)
    assert held and backends(take(seen, 1)) == [busy]


def test_a_stopped_host_hands_its_conversations_over_without_a_failed_request_and_comes_back(
    gateway: Gateway, fakes: dict[str, FakeOllama], hosts: HostChooser, seen: Collector
) -> None:
    conversations = [Conversation(gateway, "anthropic", n) for n in range(200, 204)]
    for conversation in conversations:
        conversation.turn()
    first_hosts = backends(take(seen, 4))
    assert set(first_hosts) == set(HOSTS)
    gone = first_hosts[0]
    stayed = next(name for name in HOSTS if name != gone)
    fakes[gone].stop()  # the machine goes away: its port refuses connections
    try:
        for _round in range(2):
            for conversation in conversations:
                conversation.turn()  # no request fails
        records = take(seen, 8)
        assert backends(records) == [stayed] * 8, "moved, and stayed moved"
        assert hosts.is_down(fakes[gone].url)
    finally:
        fakes[gone].start()  # back on the same address
    assert fakes[gone].wait_until(lambda: not hosts.is_down(fakes[gone].url)), "its health check passed"
    for conversation in conversations:  # the moved conversations keep their new host's cache
        conversation.turn()
    assert backends(take(seen, 4)) == [stayed] * 4
    for number in range(210, 214):
        Conversation(gateway, "openai", number).turn()
    assert gone in backends(take(seen, 4)), "new conversations reach the host that came back"


def test_a_host_killed_mid_answer_fails_that_answer_only(
    gateway: Gateway, fakes: dict[str, FakeOllama], hosts: HostChooser, seen: Collector
) -> None:
    conversation = Conversation(gateway, "openai", 300)
    conversation.turn()
    (record,) = take(seen, 1)
    victim = fakes[record.backend]
    victim.drop_after("/api/chat", chunks=1)  # the host dies after its first line...
    try:
        with pytest.raises(openai.APIError):
            conversation.turn()
        victim.stop()  # ...and stays dead
        (failed,) = seen.wait(1)
        seen.clear()
        assert not failed.ok and failed.backend == record.backend
        conversation.turn()  # the next turn (and the ones after it) go to the other host
        conversation.turn()
        assert backends(take(seen, 2)) == [n for n in HOSTS if n != record.backend] * 2
    finally:
        victim.start()
    assert victim.wait_until(lambda: not hosts.is_down(victim.url)), "it answers probes: back in"


def test_gatedeck_stats_prints_figures_per_host(
    gateway: Gateway,
    seen: Collector,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    hosts: HostChooser,
) -> None:
    for number in range(400, 404):
        Conversation(gateway, "anthropic", number).turn()
    take(seen, 4)
    monkeypatch.setenv("GATEDECK_DATA_DIR", str(data_dir))

    def stats(*argv: str) -> str:
        out = io.StringIO()
        assert cli_stats.cmd_stats(cli.build_parser().parse_args(["stats", *argv]), out) == 0
        return out.getvalue()

    text = stats()
    assert "Per Ollama host:" in text
    rows = host_rows(text)
    assert set(rows) == set(HOSTS) and all(int(row[1]) >= 2 for row in rows.values()), text
    only_hosts = stats("--hosts")
    assert "FALLBACKS" not in only_hosts and set(host_rows(only_hosts)) == set(HOSTS), "hosts alone"
    figures = {item["host"]: item for item in json.loads(stats("--hosts", "--json"))}
    logged = [item for item in read_log(data_dir / "logs") if item.get("backend")]
    for name in HOSTS:
        mine = [item for item in logged if item["backend"] == name]
        assert figures[name]["requests"] == len(mine) and figures[name]["mappings"]
        assert figures[name]["errors"] == sum(1 for item in mine if not item.get("ok", True))
        assert figures[name]["latency_s"]["p50"] > 0


def host_rows(text: str) -> dict[str, list[str]]:
    table = text.split("HOST", 1)[1].splitlines()[1:]
    return {line.split()[0]: line.split() for line in table if line.split() and line.split()[0] in HOSTS}
