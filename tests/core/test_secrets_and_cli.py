"""The master key and the `gatedeck` command line, tried as a new user would."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.config.first_run import open_installation
from core.logs import REDACTED, register_secret, setup_logging
from core.secrets import (
    MASTER_KEY,
    FileSecretStore,
    ensure_master_key,
    ensure_metrics_token,
    open_secret_store,
    regenerate_master_key,
)
from core.version import __version__


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli.main", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )


def test_master_key_is_random_per_install_and_kept_out_of_the_yaml(tmp_path: Path) -> None:
    install = open_installation()
    key = install.master_key
    assert key.startswith("sk-gd-") and len(key) >= 40
    assert key not in install.store.path.read_text()
    assert open_installation().master_key == key, "the key must survive a restart"

    other = FileSecretStore(tmp_path / "elsewhere" / "secrets.json")
    assert ensure_master_key(other) != key, "two installs must not share a key"


def test_master_key_file_is_readable_by_the_user_only() -> None:
    install = open_installation()
    store = install.secrets
    assert isinstance(store, FileSecretStore)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert json.loads(store.path.read_text())[MASTER_KEY] == install.master_key


def test_regenerating_replaces_the_key() -> None:
    install = open_installation()
    new = regenerate_master_key(install.secrets)
    assert new != install.master_key
    assert install.secrets.get(MASTER_KEY) == new


def test_config_dir_override_keeps_secrets_in_a_file_not_the_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEDECK_SECRET_STORE", "auto")
    install = open_installation()
    assert open_secret_store(install.paths).kind == "file"


def test_master_key_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    install = open_installation()
    register_secret(install.master_key)
    log_file = setup_logging(install.paths.log_dir)
    try:
        logging.getLogger("litellm.proxy").warning("auth header was Bearer %s", install.master_key)
        logging.getLogger("gatedeck").error("key=" + install.master_key)
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "baseFilename", None) == str(log_file):
                logging.getLogger().removeHandler(handler)
                handler.close()
    text = log_file.read_text()
    assert install.master_key not in text
    assert text.count(REDACTED) == 2


def test_config_show_hides_the_master_key_unless_asked() -> None:
    key = open_installation().master_key
    shown = run_cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert key not in shown.stdout + shown.stderr
    assert "master key: hidden" in shown.stdout
    revealed = run_cli("config", "show", "--show-secrets")
    assert key in revealed.stdout


def test_the_metrics_token_is_made_per_install_kept_out_of_the_yaml_and_printed_for_headless_boxes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install = open_installation()
    token = install.metrics_token
    assert token.startswith("gd-metrics-") and len(token) >= 40 and token != install.master_key
    assert token not in install.store.path.read_text()
    assert open_installation().metrics_token == token, "the token must survive a restart"
    assert ensure_metrics_token(FileSecretStore(tmp_path / "other" / "secrets.json")) != token
    assert main(["metrics-token"]) == 0
    assert capsys.readouterr().out == token + "\n"
    assert main(["metrics-token", "--scrape-config"]) == 0
    job = capsys.readouterr().out
    port = install.config.gateway.port
    assert f'targets: ["127.0.0.1:{port}"]' in job and "metrics_path: /metrics" in job
    assert "credentials_file: /etc/prometheus/gatedeck-metrics-token" in job and token not in job
    assert main(["config", "show"]) == 0
    assert token not in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"GateDeck {__version__}"


def test_config_path_lists_every_location(capsys: pytest.CaptureFixture[str], fresh_user: Path) -> None:
    assert main(["config", "path"]) == 0
    out = capsys.readouterr().out
    assert f"config file:  {fresh_user / 'config.yaml'}" in out
    assert str(fresh_user / "data" / "secrets.json") in out


def test_config_validate_reports_lines_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("gateway:\n  port: 4100\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "gateway:\n  port: 4100\nmappings:\n  - name: x\n    model: y\n    options: {num_ctx: 10}\n"
    )
    assert main(["config", "validate", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["config", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 6: mappings[0].options.num_ctx" in err
    assert main(["config", "validate", str(tmp_path / "missing.yaml")]) == 2


def test_config_show_with_a_broken_file_warns_and_leaves_it(fresh_user: Path) -> None:
    open_installation()
    config_file = fresh_user / "config.yaml"
    config_file.write_text("gateway:\n  port: -1\n")
    shown = run_cli("config", "show")
    assert shown.returncode == 0
    assert "line 2: gateway.port" in shown.stderr
    assert "using the last good config" in shown.stderr  # what open_installation saved
    assert config_file.read_text() == "gateway:\n  port: -1\n"


BLOCK_QT = "import sys; sys.modules['PySide6'] = None; sys.modules['qasync'] = None; sys.modules['pyqtgraph'] = None\n"


@pytest.mark.parametrize(
    "args", [["--version"], ["config", "path"], ["config", "show"], ["config", "validate"]]
)
def test_cli_commands_run_without_qt(args: list[str]) -> None:
    open_installation()
    code = BLOCK_QT + f"from core.cli.main import main\nraise SystemExit(main({args!r}))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_core_module_imports_without_qt() -> None:
    core_dir = Path(__file__).resolve().parents[2] / "core"
    modules = sorted(
        ".".join(("core", *p.relative_to(core_dir).with_suffix("").parts)).removesuffix(".__init__")
        for p in core_dir.rglob("*.py")
    )
    assert "core.config.store" in modules and "core.fastpath.route" in modules
    code = BLOCK_QT + "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", [["config", "show"], ["serve"], ["claude-env"]])
def test_a_config_folder_that_cannot_be_written_is_said_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where GateDeck's folder should be")
    monkeypatch.setenv("GATEDECK_CONFIG_DIR", str(blocker / "gatedeck"))  # fails even for root
    done = run_cli(*command)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: GateDeck cannot write") and "GATEDECK_CONFIG_DIR" in done.stderr
