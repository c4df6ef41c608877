"""``gatedeck models …`` and ``gatedeck hw`` against the fake Ollama server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.format import parse_size, render_progress
from core.cli.main import main
from core.config.schema import Config, OllamaBackend
from core.config.store import ConfigStore
from core.ollama.pull import PullPhase, PullProgress
from tests.fakes.fake_ollama import FakeOllama

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_show_and_ps(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    url = ("--ollama-url", fake_ollama.url)
    code, out, _ = run(capsys, "models", "list", *url)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "SIZE", "FAMILY", "PARAMS", "QUANT", "MODIFIED"]
    assert rows[0].split()[:5] == ["qwen2.5-coder:7b", "4.7", "GB", "qwen2", "7.6B"]
    code, out, _ = run(capsys, "models", "show", "llama3.2:3b", *url)
    assert code == 0
    assert "context length    131072" in out and "capabilities      completion, tools" in out
    assert "attention heads   24 (8 KV heads)" in out
    code, out, _ = run(capsys, "models", "ps", *url)
    assert (code, out) == (0, "No models loaded.\n")


def test_load_ps_unload(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    url = ("--ollama-url", fake_ollama.url)
    code, out, _ = run(
        capsys, "models", "load", "qwen2.5-coder:7b", "--num-ctx", "8192", "--keep-alive", "1h", *url
    )
    assert code == 0 and "loaded 'qwen2.5-coder:7b'" in out
    assert fake_ollama.bodies("/api/generate")[-1]["options"] == {"num_ctx": 8192}
    assert fake_ollama.bodies("/api/generate")[-1]["keep_alive"] == "1h"
    fake_ollama.set_vram_fraction("qwen2.5-coder:7b", 0.75)
    code, out, _ = run(capsys, "models", "ps", *url)
    row = out.splitlines()[1]
    assert row.split()[0] == "qwen2.5-coder:7b" and "25%/75% CPU/GPU" in row and "8192" in row
    assert re.search(r"(59m\d\ds|1h00m) from now$", row)
    code, out, _ = run(capsys, "models", "unload", "qwen2.5-coder:7b", *url)
    assert code == 0 and fake_ollama.loaded() == []


def test_rm_and_errors_in_plain_words(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--ollama-url", fake_ollama.url, "models", "rm", "llama3.2:3b")
    assert code == 0 and "llama3.2:3b" not in fake_ollama.installed()
    code, _, err = run(capsys, "models", "rm", "llama3.2:3b", "--ollama-url", fake_ollama.url)
    assert code == 1 and err.startswith("error: Model 'llama3.2:3b' is not installed")
    code, _, err = run(capsys, "models", "list", "--ollama-url", "http://127.0.0.1:9")
    assert code == 1 and "ollama serve" in err


def test_url_comes_from_the_config(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    ConfigStore.from_env().save(Config(backends=[OllamaBackend(name="local", url=fake_ollama.url)]))
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and "llama3.2:3b" in out
    assert len(fake_ollama.requests) == 1


def test_pull_draws_progress_and_installs(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.set_pull_plan("tinyllama:1.1b", [40_000_000, 500], steps_per_layer=4)
    code, _, err = run(capsys, "models", "pull", "tinyllama:1.1b", "--ollama-url", fake_ollama.url)
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == "tinyllama:1.1b: pulling manifest"
    assert any("50%" in line and "20.0 MB/40.0 MB" in line for line in lines)
    assert lines[-1].endswith("done") and "100%" in lines[-1]
    assert "tinyllama:1.1b" in fake_ollama.installed()
    code, _, err = run(capsys, "models", "pull", "no-such:7b", "--ollama-url", fake_ollama.url)
    assert code == 1 and "no model called 'no-such:7b'" in err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_cancels_a_pull_cleanly(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_pull_plan("tinyllama:1.1b", [1000], steps_per_layer=4)
    fake_ollama.stall_pull("tinyllama:1.1b", after_bytes=500)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.cli.main",
            "models",
            "pull",
            "tinyllama:1.1b",
            "--ollama-url",
            fake_ollama.url,
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake_ollama.wait_until(lambda: fake_ollama.held == 1, timeout=30)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "cancelled" in err and "resume" in err and "Traceback" not in err
    (session,) = fake_ollama.wait_for_pull_sessions("tinyllama:1.1b", 1)
    assert (session.outcome, session.ended_at) == ("client-gone", 500)
    assert fake_ollama.wait_until(lambda: fake_ollama.in_flight == 0)


def test_hw_summary_and_fit(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "hw")
    assert code == 0 and out.startswith("CPU ") and "\nRAM " in out and "\nGPU " in out
    url = ("--ollama-url", fake_ollama.url)
    code, out, _ = run(capsys, "hw", "--fit", "qwen2.5-coder:7b", "--ctx", "32768", "--vram", "6GiB", *url)
    assert code == 0
    assert "partly on the GPU: 25 of 29 layers" in out
    assert "KV cache 1.9 GB" in out
    code, out, _ = run(capsys, "hw", "--fit", "qwen2.5-coder:7b", "--vram", "1GiB", "--num-gpu", "29", *url)
    assert code == 2 and "does NOT fit" in out
    code, _, err = run(capsys, "hw", "--fit", "missing:1b", *url)
    assert code == 1 and "not installed" in err


def test_render_progress() -> None:
    p = PullProgress(
        "qwen2.5-coder:7b", PullPhase.DOWNLOADING, 2_000_000_000, 4_683_087_332, 11_300_000, 237.4, "", 0
    )
    assert render_progress(p, width=10) == (
        "qwen2.5-coder:7b [####......]  43% 2.0 GB/4.7 GB 11.3 MB/s ETA 3m57s"
    )
    resuming = PullProgress("m", PullPhase.RESUMING, 1, 2, 0.0, None, "", 1)
    assert "resuming (attempt 2)" in render_progress(resuming)


def test_parse_size() -> None:
    assert parse_size("24GiB") == 24 * 2**30
    assert parse_size("8GB") == 8_000_000_000
    assert parse_size("512mib") == 512 * 2**20
    assert parse_size("1000") == 1000
    with pytest.raises(Exception, match="not a size"):
        parse_size("lots")
