"""Build the PyInstaller bundle once, then run it the way a user does.

Marked ``bundle``: CI runs it; ``pytest -m 'not bundle'`` leaves it out locally. The build takes
a few minutes on two cores; each check after it takes seconds.

Every run of the bundle gets an environment without LiteLLM's settings (the bundle's runtime
hook must supply them) and with HTTP(S) proxies pointing at a trap on 127.0.0.1 that records
every connection: an attempt to reach the network (LiteLLM's cost map, tokenizer downloads)
would land there. Loopback stays direct through NO_PROXY.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import yaml

from core.version import __version__
from tests.fakes.fake_ollama import FakeOllama
from tests.packaging.helpers import PACKAGING, ROOT, desktop_exec, entry_keys

pytestmark = [pytest.mark.bundle, pytest.mark.slow, pytest.mark.timeout(1500)]

SIZE_BUDGET_MB = 350
MODEL = "qwen2.5-coder:7b"
START_TIMEOUT_S = 120  # LiteLLM's import alone takes ~10 s on two idle cores
QUIT_TIMEOUT_S = 60


# ---------------------------------------------------------------- the bundle, built once
@dataclass(frozen=True)
class Bundle:
    folder: Path
    build_output: str

    @property
    def exe(self) -> Path:
        return self.folder / "gatedeck"

    def size_mb(self) -> float:
        return sum(p.lstat().st_size for p in self.folder.rglob("*")) / 1_000_000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    prebuilt = os.environ.get("GATEDECK_TEST_BUNDLE")  # a dist/gatedeck folder, to iterate on the tests
    if prebuilt:
        return Bundle(Path(prebuilt), f"build: {prebuilt}: 0 MB, built in 0 s (prebuilt)")
    out = tmp_path_factory.mktemp("bundle")
    result = subprocess.run(
        ["bash", str(PACKAGING / "build"), "--dist", str(out / "dist"), "--work", str(out / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    built = Bundle(out / "dist" / "gatedeck", output)
    assert built.exe.is_file() and os.access(built.exe, os.X_OK), output[-3000:]
    return built


# ---------------------------------------------------------------- a trap for outbound traffic
@dataclass
class ProxyTrap:
    """A listening socket set as HTTP(S) proxy; records what connects and hangs up."""

    port: int = 0
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(200).decode(errors="replace").split("\r\n")[0])
                except OSError:
                    self.seen.append("(connected, sent nothing)")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def trap() -> Iterator[ProxyTrap]:
    proxy = ProxyTrap()
    yield proxy
    proxy.close()
    assert proxy.seen == [], f"the bundle tried to reach the network: {proxy.seen}"


def _inherited(name: str) -> bool:
    """What the user's environment keeps: not ours, LiteLLM's, Python's, Qt's or a proxy."""
    if name == "XDG_RUNTIME_DIR":  # a desktop session has one; the other XDG folders are the developer's
        return True
    proxies = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    return (
        not name.startswith(("LITELLM_", "GATEDECK_", "XDG_", "QT_", "PYTHON"))
        and name.upper() not in proxies
    )


@pytest.fixture
def env(tmp_path: Path, trap: ProxyTrap) -> dict[str, str]:
    """A user's environment: its own home and config, no LiteLLM settings, no network."""
    base = {k: v for k, v in os.environ.items() if _inherited(k)}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    proxy = f"http://127.0.0.1:{trap.port}"
    base.update(
        HOME=str(home),
        GATEDECK_CONFIG_DIR=str(tmp_path / "gatedeck"),
        GATEDECK_SECRET_STORE="file",
        QT_QPA_PLATFORM="offscreen",
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        ALL_PROXY=proxy,
        http_proxy=proxy,
        https_proxy=proxy,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return base


# ---------------------------------------------------------------- helpers
def run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen[str], log: Path) -> None:
    """Poll ``condition`` until it holds; fail at once if ``proc`` dies, or after a long timeout."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"GateDeck exited ({proc.returncode}) before {what}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {START_TIMEOUT_S} s:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def gateway_up(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    return check


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def first_run(exe: Path, env: dict[str, str], fake: FakeOllama, port: int) -> str:
    """Create the config as a first run does, move the gateway to ``port``; return the master key."""
    shown = run(
        [str(exe), "--ollama-url", fake.url, "--default-model", MODEL, "config", "show", "--show-secrets"],
        env,
    )
    assert shown.returncode == 0, shown.stderr
    key = re.search(r"^# master key: (\S+)$", shown.stdout, re.M)
    assert key, shown.stdout
    config_file = Path(env["GATEDECK_CONFIG_DIR"]) / "config.yaml"
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["gateway"]["port"] = port
    config_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return key.group(1)


def ask_both_dialects(port: int, key: str, fake: FakeOllama) -> None:
    """One OpenAI and one Anthropic request through the bundle's gateway to the fake Ollama."""
    fake.set_reply(MODEL, text="Hello from the bundle", chunks=3)
    chat = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, timeout=60, max_retries=0)
    reply = chat.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from the bundle"

    # /v1/messages is one of LiteLLM's lazily imported routers: 404 if the module is not bundled.
    claude = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key=key, timeout=60, max_retries=0)
    message = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert [block.text for block in message.content if block.type == "text"] == ["Hello from the bundle"]

    bodies = fake.bodies("/api/chat")
    assert len(bodies) == 2
    # The first-run mappings ask for a 32k context; it must reach Ollama's options.
    assert all(body["options"]["num_ctx"] == 32768 for body in bodies), bodies


def assert_clean_log(log_file: Path) -> None:
    text = log_file.read_text(encoding="utf-8", errors="replace")
    bad = [line for line in text.splitlines() if re.search(r" (ERROR|CRITICAL) |Traceback", line)]
    assert bad == [], text[-4000:]


# ---------------------------------------------------------------- the checks
def test_bundle_fits_the_size_budget(bundle: Bundle) -> None:
    size = bundle.size_mb()
    reported = re.search(r"build: .*: (\d+) MB, built in (\d+) s", bundle.build_output)
    assert reported, bundle.build_output[-2000:]
    assert size < SIZE_BUDGET_MB, f"bundle is {size:.0f} MB (budget {SIZE_BUDGET_MB} MB)"
    assert not list(bundle.folder.rglob("libqgtk3.so")), "the GTK platform theme came back"
    assert not list(bundle.folder.rglob("_polars_runtime*")), "Polars came back"


def test_version(bundle: Bundle, env: dict[str, str]) -> None:
    result = run([str(bundle.exe), "--version"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"GateDeck {__version__}"


def test_config_path_points_into_the_config_folder(bundle: Bundle, env: dict[str, str]) -> None:
    result = run([str(bundle.exe), "config", "path"], env)
    assert result.returncode == 0, result.stderr
    folder = env["GATEDECK_CONFIG_DIR"]
    assert f"config file:  {folder}/config.yaml\n" in result.stdout
    assert f"data folder:  {folder}/data\n" in result.stdout
    assert f"secrets:      {folder}/data/secrets.json\n" in result.stdout


def _cli_has_serve() -> bool:
    from core.cli.main import build_parser

    return "serve" in build_parser().format_help()


@pytest.mark.skipif(not _cli_has_serve(), reason="`gatedeck serve` is not in core/cli/main.py yet")
def test_serve_answers_through_fake_ollama_and_stops_on_sigterm(
    bundle: Bundle, env: dict[str, str], fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    port = free_port()
    key = first_run(bundle.exe, env, fake_ollama, port)
    output = tmp_path / "serve.out"
    with output.open("w") as sink:
        proc = subprocess.Popen(
            [
                str(bundle.exe),
                "serve",
                "--port",
                str(port),
                "--ollama-url",
                fake_ollama.url,
                "--default-model",
                MODEL,
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(gateway_up(port), "a healthy gateway", proc, output)
            ask_both_dialects(port, key, fake_ollama)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(QUIT_TIMEOUT_S) == 0, _tail(output)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert port_closed(port)


def test_installed_app_starts_from_its_menu_entry_serves_and_quits_on_sigterm(
    bundle: Bundle, env: dict[str, str], fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """packaging/install, then the menu entry's command: the window (offscreen) and the gateway
    it starts on launch, one request in each dialect, SIGTERM, exit 0, no errors logged."""
    installed = run(["bash", str(PACKAGING / "install"), "--bundle", str(bundle.folder)], env, timeout=300)
    assert installed.returncode == 0, installed.stderr
    home = Path(env["HOME"])
    entry = (home / ".local/share/applications/gatedeck.desktop").read_text(encoding="utf-8")
    command = desktop_exec(entry_keys(entry, "Exec")[0])
    assert command == [str(home / ".local/lib/gatedeck/gatedeck")]
    linked = run([str(home / ".local/bin/gatedeck"), "--version"], env)
    assert linked.stdout.strip() == f"GateDeck {__version__}", linked.stderr

    port = free_port()
    key = first_run(Path(command[0]), env, fake_ollama, port)
    log_file = Path(env["GATEDECK_CONFIG_DIR"]) / "data" / "logs" / "gatedeck.log"
    output = tmp_path / "gui.out"
    with output.open("w") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: "window shown" in _tail(log_file, 100_000), "the window", proc, output)
            wait_for(gateway_up(port), "the gateway started on launch", proc, log_file)
            ask_both_dialects(port, key, fake_ollama)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(QUIT_TIMEOUT_S) == 0, _tail(output)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert port_closed(port)
    assert_clean_log(log_file)
    # Qt prints its warnings on stderr; a missing plugin or library would show here.
    assert "Could not" not in output.read_text(errors="replace"), _tail(output)

    removed = run(["bash", str(PACKAGING / "uninstall"), "--purge"], env)
    assert removed.returncode == 0, removed.stderr
    assert not (home / ".local/lib/gatedeck").exists()
    assert not Path(env["GATEDECK_CONFIG_DIR"]).exists()
