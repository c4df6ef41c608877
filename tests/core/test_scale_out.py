"""Scale-out: the stock ``litellm --config`` proxy in front of two GateDeck gateways keeps the answers.

Tried as a team would set it up: two Ollama hosts (fake ones, answering as Ollama's source
does), a ``gatedeck serve`` beside each, ``gatedeck export-litellm-config --gateway ...`` and
the stock LiteLLM proxy serving what it wrote. Claude Code's requests (recorded bodies), OpenAI
streaming and embeddings sent through the proxy must come back exactly as one gateway alone
answers them; the same requests through the older ``--direct-ollama`` export lose a tool call
and get Ollama's 400 for thinking.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import yaml

from bench.processes import wait_http
from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.config.store import ConfigStore
from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_support import REPO, free_port, wait_until
from tests.core.test_client_fixtures import BASH_CALL, READ_CALL, fixture, send_as_claude_code
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models, nomic_embed_text, qwen3_8b

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

QWEN = "qwen2.5-coder:7b"  # cannot think: Claude Code's opus tier is mapped on it
EMBEDDER = "nomic-embed-text:latest"
PROXY_KEY = "sk-stock-litellm-0123456789"
#: The two hosts' gateway keys (each host has its own).
GATEWAY_KEYS = {"gpu1": "sk-gd-gateway-one-0123456789", "gpu2": "sk-gd-gateway-two-0123456789"}
#: Where the direct-to-Ollama export's opus mapping is served in the same proxy, for comparison.
DIRECT_PREFIX = "direct-"


def mappings() -> list[Mapping]:
    return [
        Mapping(name="claude-*opus*", model=QWEN, options=ModelOptions(num_ctx=65536)),
        Mapping(name="claude-*haiku*", model="qwen3:8b", options=ModelOptions(num_ctx=32768)),
        Mapping(name="text-embedding-3-small", model=EMBEDDER),
        Mapping(name="codex-local", model="llama3.2:3b", options=ModelOptions(num_ctx=4096)),
        Mapping(name="*", model="llama3.2:3b", options=ModelOptions(num_ctx=32768)),
    ]


@dataclass
class Site:
    """A stock LiteLLM proxy in front of two gateways, each beside its own fake Ollama."""

    proxy: str
    gateways: dict[str, str]
    hosts: dict[str, FakeOllama]
    exported: dict[str, Any]

    def program(self, model: str, text: str = "", **reply: Any) -> None:
        for host in self.hosts.values():
            host.set_reply(model, text, **reply)

    def clear(self) -> None:
        for host in self.hosts.values():
            host.clear_requests()

    def chat_bodies(self) -> dict[str, list[Any]]:
        return {name: host.bodies("/api/chat") for name, host in self.hosts.items()}


def _home(root: Path, name: str, ollama: FakeOllama, port: int) -> dict[str, str]:
    """A throwaway GateDeck home for one host: its config and key; the environment that uses it."""
    env = {
        **os.environ,
        "GATEDECK_CONFIG_DIR": str(root / name),
        "GATEDECK_SECRET_STORE": "file",
        "HOME": str(root / "user-home"),  # the developer's own settings stay out of it
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "PYTHONPATH": str(REPO),
    }
    paths = AppPaths.from_env(env)
    paths.ensure()
    open_secret_store(paths, env).set(MASTER_KEY, GATEWAY_KEYS[name])
    ConfigStore(paths).save(
        Config(
            gateway=GatewaySettings(port=port),
            backends=[OllamaBackend(name="local", url=ollama.url)],
            mappings=mappings(),
        )
    )
    return env


def _start(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_live(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    try:
        wait_http(f"{url}/health/liveliness", proc, timeout=240)
    except (RuntimeError, TimeoutError) as exc:
        raise AssertionError(f"{exc}: {log.read_text(errors='replace')[-3000:]}") from None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _with_direct_export(scale_out: dict[str, Any], direct: dict[str, Any]) -> dict[str, Any]:
    """The scale-out config plus the ``--direct-ollama`` export's opus deployment, under another
    name, so one proxy serves both (the test starts one LiteLLM, not two)."""
    merged = copy.deepcopy(scale_out)
    (entry,) = [d for d in direct["model_list"] if d["model_name"] == "claude-*opus*"]
    merged["model_list"].append({**entry, "model_name": DIRECT_PREFIX + entry["model_name"]})
    return merged


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("scale-out")
    (root / "user-home").mkdir()
    with contextlib.ExitStack() as stack:
        hosts = {
            name: stack.enter_context(FakeOllama(models=[*default_models(), qwen3_8b(), nomic_embed_text()]))
            for name in GATEWAY_KEYS
        }
        ports = {name: free_port() for name in GATEWAY_KEYS}
        envs = {name: _home(root, name, hosts[name], ports[name]) for name in GATEWAY_KEYS}
        gateways = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        procs = {}
        for name in GATEWAY_KEYS:
            log = root / f"{name}.log"
            procs[name] = _start([sys.executable, "-m", "core.cli.main", "serve"], envs[name], REPO, log)
            stack.callback(_stop, procs[name])

        # The export, run where the team keeps its GateDeck config (here: gpu1's).
        scale_out_file, direct_file = root / "litellm.yaml", root / "direct.yaml"
        flags = [f"--gateway={name}={url}" for name, url in gateways.items()]
        for out, extra in ((scale_out_file, flags), (direct_file, ["--direct-ollama"])):
            done = subprocess.run(
                [sys.executable, "-m", "core.cli.main", "export-litellm-config", str(out), *extra],
                cwd=REPO,
                env=envs["gpu1"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        text = scale_out_file.read_text()
        assert not any(key in text for key in GATEWAY_KEYS.values())  # keys stay in the environment
        exported = yaml.safe_load(text)
        served = root / "served.yaml"
        served.write_text(
            yaml.safe_dump(_with_direct_export(exported, yaml.safe_load(direct_file.read_text())))
        )

        proxy_port = free_port()
        proxy_env = {
            **os.environ,
            "HOME": str(root / "user-home"),
            "LITELLM_MASTER_KEY": PROXY_KEY,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            **{f"GATEDECK_KEY_{name.upper()}": key for name, key in GATEWAY_KEYS.items()},
        }
        stock = Path(sys.executable).with_name("litellm")
        proxy_log = root / "litellm.log"
        argv = [str(stock), "--config", str(served), "--host", "127.0.0.1", "--port", str(proxy_port)]
        proxy = _start(argv, proxy_env, root, proxy_log)
        stack.callback(_stop, proxy)
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        for name, proc in procs.items():
            _wait_live(gateways[name], proc, root / f"{name}.log")
        _wait_live(proxy_url, proxy, proxy_log)
        yield Site(proxy_url, gateways, hosts, exported)


@pytest.fixture(autouse=True)
def clean(site: Site) -> Iterator[None]:
    site.clear()
    yield
    for model in (QWEN, "qwen3:8b", "llama3.2:3b"):
        site.program(model, f"Hello from {model}.")


def claude_code(
    base_url: str, key: str, recorded: dict[str, Any], **changes: Any
) -> tuple[dict[str, Any], list[str]]:
    """A recorded Claude Code request sent as Claude Code sends it: the final message (ids left
    out: each answer gets new ones) and the event types."""
    message, _, kinds = send_as_claude_code(base_url, key, recorded, **changes)
    final = message.model_dump(exclude_none=True)
    final.pop("id")
    for block in final["content"]:
        block.pop("id", None)
    return final, kinds


def both(site: Site, recorded: dict[str, Any], **changes: Any) -> tuple[Any, Any]:
    """The same Claude Code request through the stock proxy and straight to one gateway."""
    through = claude_code(site.proxy, PROXY_KEY, recorded, **changes)
    alone = claude_code(site.gateways["gpu1"], GATEWAY_KEYS["gpu1"], recorded, **changes)
    return through, alone


def tool_calls(final: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(b["name"], b["input"]) for b in final["content"] if b["type"] == "tool_use"]


def test_the_export_puts_each_mapping_on_both_gateways(site: Site) -> None:
    groups: dict[str, list[Any]] = {}
    for entry in site.exported["model_list"]:
        groups.setdefault(entry["model_name"], []).append(entry)
    assert [e["litellm_params"]["api_base"] for e in groups["claude-*opus*"]] == [
        f"{url}/v1" for url in site.gateways.values()
    ]
    assert {e["litellm_params"]["api_key"] for e in groups["claude-*opus*"]} == {
        "os.environ/GATEDECK_KEY_GPU1",
        "os.environ/GATEDECK_KEY_GPU2",
    }
    (embedding,) = {e["model_info"]["mode"] for e in groups["text-embedding-3-small"]}
    assert embedding == "embedding"
    assert site.exported["router_settings"]["optional_pre_call_checks"] == ["session_affinity"]


def test_claude_codes_tool_round_trip_answers_as_one_gateway_does(site: Site) -> None:
    site.program(QWEN, "I will list them.", tool_calls=[BASH_CALL])
    (final, kinds), (alone, alone_kinds) = both(site, fixture("first_turn"))
    assert final == alone and kinds == alone_kinds
    assert final["stop_reason"] == "tool_use" and tool_calls(final) == [
        ("Bash", BASH_CALL["function"]["arguments"])
    ]

    site.program(QWEN, "There are two files.")
    (final, kinds), (alone, alone_kinds) = both(site, fixture("tool_result_turn"))
    assert final == alone and kinds == alone_kinds
    assert [b["text"] for b in final["content"] if b["type"] == "text"] == ["There are two files."]


@pytest.mark.parametrize("split", [False, True], ids=["one chunk", "split"])
def test_streamed_parallel_tool_calls_stay_two_calls(site: Site, split: bool) -> None:
    site.program(QWEN, tool_calls=[BASH_CALL, READ_CALL], split_calls=split)
    (final, kinds), (alone, alone_kinds) = both(site, fixture("first_turn"))
    assert final == alone and kinds == alone_kinds
    assert tool_calls(final) == [
        ("Bash", BASH_CALL["function"]["arguments"]),
        ("Read", READ_CALL["function"]["arguments"]),
    ]

    if not split:  # the direct-to-Ollama export (asked without thinking, which it cannot pass
        # on to this model): LiteLLM's Ollama translation merges two calls that come in one chunk
        direct, _ = claude_code(
            site.proxy,
            PROXY_KEY,
            fixture("first_turn"),
            model=DIRECT_PREFIX + "claude-opus-5-5",
            thinking=None,
        )
        assert len(tool_calls(direct)) == 1


def test_openai_streamed_parallel_tool_calls_stay_two_calls(site: Site) -> None:
    site.program(QWEN, tool_calls=[BASH_CALL, READ_CALL], split_calls=True)
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
        for name in ("Bash", "Read")
    ]

    def calls(base_url: str, key: str) -> list[tuple[int, str | None, str | None]]:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=60)
        stream = client.chat.completions.create(
            model="claude-opus-5-5",
            messages=[{"role": "user", "content": "list and read"}],
            tools=tools,  # type: ignore[arg-type]
            stream=True,
        )
        found: dict[int, list[str | None]] = {}
        for chunk in stream:
            for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
                seen = found.setdefault(delta.index, [None, ""])
                if delta.function and delta.function.name:
                    seen[0] = delta.function.name
                if delta.function and delta.function.arguments:
                    seen[1] = (seen[1] or "") + delta.function.arguments
        return [(i, name, args) for i, (name, args) in sorted(found.items())]

    through = calls(site.proxy, PROXY_KEY)
    assert through == calls(site.gateways["gpu1"], GATEWAY_KEYS["gpu1"])
    assert [(name, json.loads(args or "")) for _, name, args in through] == [
        ("Bash", BASH_CALL["function"]["arguments"]),
        ("Read", READ_CALL["function"]["arguments"]),
    ]


def test_thinking_to_a_model_that_cannot_think_answers_as_one_gateway_does(site: Site) -> None:
    recorded = fixture("first_turn")
    assert recorded["body"]["thinking"]["type"] == "adaptive"  # Claude Code asks to think
    site.program(QWEN, "Done.", thinking="never shown")
    final, alone = both(site, recorded)
    assert final == alone
    assert [b["type"] for b in final[0]["content"]] == ["text"]
    assert all("think" not in body for bodies in site.chat_bodies().values() for body in bodies)

    # the direct-to-Ollama export passes the thinking on, and Ollama refuses the request
    with pytest.raises(anthropic.APIStatusError) as refused:
        claude_code(site.proxy, PROXY_KEY, recorded, model=DIRECT_PREFIX + "claude-opus-5-5")
    assert "does not support thinking" in str(refused.value)


def test_an_embedding_request_is_answered_through_a_gateway(site: Site) -> None:
    def embed(base_url: str, key: str) -> Any:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=60)
        return client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])

    through = embed(site.proxy, PROXY_KEY)
    alone = embed(site.gateways["gpu1"], GATEWAY_KEYS["gpu1"])
    assert [d.embedding for d in through.data] == [d.embedding for d in alone.data]
    assert len(through.data) == 2 and len(through.data[0].embedding) == 768
    assert sum(len(host.bodies("/api/embed")) for host in site.hosts.values()) == 2


def test_a_claude_code_session_stays_on_its_host_while_new_ones_go_to_the_least_busy(site: Site) -> None:
    recorded = fixture("first_turn")

    def session() -> dict[str, Any]:
        request = copy.deepcopy(recorded)
        request["headers"]["x-claude-code-session-id"] = str(uuid.uuid4())
        return request

    def in_background(request: dict[str, Any]) -> threading.Thread:
        thread = threading.Thread(target=claude_code, args=(site.proxy, PROXY_KEY, request), daemon=True)
        thread.start()
        return thread

    def host_that_got(before: dict[str, int]) -> str:
        (name,) = [n for n, bodies in site.chat_bodies().items() if len(bodies) > before[n]]
        return name

    def counts() -> dict[str, int]:
        return {name: len(bodies) for name, bodies in site.chat_bodies().items()}

    for host in site.hosts.values():  # the next request, wherever it lands, is held
        host.hang("/api/chat", times=1)
    first = in_background(session())
    wait_until(lambda: sum(h.held for h in site.hosts.values()) == 1, 30, "a held request")
    busy = next(name for name, host in site.hosts.items() if host.held)
    (other,) = set(site.hosts) - {busy}
    site.hosts[other].clear_faults()

    mine = session()  # a new session goes to the host with nothing in flight
    before = counts()
    claude_code(site.proxy, PROXY_KEY, mine)
    assert host_that_got(before) == other

    site.hosts[other].hang("/api/chat", times=1)  # now `other` is the busy one
    second = in_background(session())
    wait_until(lambda: site.hosts[other].held == 1, 30, "a held request")
    site.hosts[busy].release()
    first.join(60)
    assert not first.is_alive()

    before = counts()  # the session's next turn stays where its prompt is cached
    claude_code(site.proxy, PROXY_KEY, mine)
    assert host_that_got(before) == other
    site.hosts[other].release()
    second.join(60)


def test_codexs_parallel_function_calls_answer_as_one_gateway_does(site: Site) -> None:
    recorded = json.loads((REPO / "tests" / "fixtures" / "clients" / "codex" / "first_turn.json").read_text())
    body = {k: v for k, v in recorded["body"].items() if k not in ("stream", "model")}
    calls = [
        {"function": {"name": "exec_command", "arguments": {"cmd": "ls"}}},
        {"function": {"name": "exec_command", "arguments": {"cmd": "pwd"}}},
    ]
    site.program("llama3.2:3b", tool_calls=calls, split_calls=True)

    def codex(base_url: str, key: str, model: str = "codex-local") -> tuple[list[str], list[dict[str, Any]]]:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=60)
        known = set(inspect.signature(client.responses.create).parameters)
        kwargs = {k: v for k, v in {**body, "model": model}.items() if k in known}
        extra = {k: v for k, v in body.items() if k not in known}
        events = list(client.responses.create(**kwargs, extra_body=extra, stream=True))
        (done,) = [e for e in events if e.type == "response.completed"]
        output = [
            item.model_dump(exclude_none=True, exclude={"id", "call_id"}) for item in done.response.output
        ]
        return [e.type for e in events], output

    through = codex(site.proxy, PROXY_KEY)
    assert through == codex(site.gateways["gpu1"], GATEWAY_KEYS["gpu1"])  # streamed alike, event by event
    assert [(item["name"], json.loads(item["arguments"])) for item in through[1]] == [
        ("exec_command", {"cmd": "ls"}),
        ("exec_command", {"cmd": "pwd"}),
    ]
    # A name only the '*' pattern catches: LiteLLM, not knowing the model, asks the gateway
    # without streaming and replays the answer as a stream; the answer is still the same.
    _, output = codex(site.proxy, PROXY_KEY, model="some-codex-model")
    assert output == through[1]
