"""packaging/install and packaging/uninstall, run against a stand-in bundle in a temporary home.

The stand-in is a shell script with the real bundle's layout and CLI answers; the real bundle
goes through the same scripts in test_bundle.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.helpers import PACKAGING, desktop_exec, desktop_string, entry_keys

ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16"/></svg>\n'


def make_fake_bundle(folder: Path, version: str = "9.9.9") -> Path:
    """A folder shaped like dist/gatedeck whose executable answers --version and config path."""
    (folder / "_internal" / "gui" / "assets" / "icons").mkdir(parents=True)
    (folder / "_internal" / "gui" / "assets" / "icons" / "gatedeck.svg").write_text(ICON, encoding="utf-8")
    exe = folder / "gatedeck"
    exe.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = --version ] && {{ echo "GateDeck {version}"; exit 0; }}\n'
        'if [ "$1 $2" = "config path" ]; then\n'
        '  printf "config file:  %s/config.yaml\\n" "$GATEDECK_CONFIG_DIR"\n'
        '  printf "data folder:  %s/data\\n" "$GATEDECK_CONFIG_DIR"\n'
        "  exit 0\n"
        "fi\n"
        "exit 3\n",
        encoding="utf-8",
    )
    exe.chmod(0o755)
    return folder


@dataclass
class Home:
    root: Path
    env: dict[str, str]

    @property
    def lib(self) -> Path:
        return self.root / ".local" / "lib" / "gatedeck"

    @property
    def bin(self) -> Path:
        return self.root / ".local" / "bin" / "gatedeck"

    @property
    def desktop(self) -> Path:
        return self.root / ".local" / "share" / "applications" / "gatedeck.desktop"

    @property
    def icon(self) -> Path:
        return self.root / ".local" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "gatedeck.svg"

    @property
    def autostart(self) -> Path:
        return self.root / ".config" / "autostart" / "gatedeck.desktop"

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(PACKAGING / script), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def files(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    root = tmp_path / "home"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GATEDECK_"))}
    env["HOME"] = str(root)
    env["GATEDECK_CONFIG_DIR"] = str(root / "gatedeck-config")
    return Home(root, env)


def test_install_puts_bundle_command_menu_entry_and_icon_in_place(home: Home, tmp_path: Path) -> None:
    bundle = make_fake_bundle(tmp_path / "dist" / "gatedeck")

    result = home.run("install", "--bundle", str(bundle))

    assert result.returncode == 0, result.stderr
    assert "GateDeck 9.9.9 installed" in result.stdout
    assert (home.lib / "gatedeck").read_bytes() == (bundle / "gatedeck").read_bytes()
    assert home.bin.is_symlink() and os.readlink(home.bin) == str(home.lib / "gatedeck")
    version = subprocess.run([str(home.bin), "--version"], capture_output=True, text=True, timeout=30)
    assert version.stdout.strip() == "GateDeck 9.9.9"
    assert home.icon.read_text(encoding="utf-8") == ICON

    entry = home.desktop.read_text(encoding="utf-8")
    commands = [desktop_exec(value) for value in entry_keys(entry, "Exec")]
    assert commands == [
        [str(home.lib / "gatedeck")],
        [str(home.lib / "gatedeck"), "--panel", "gateway"],
        [str(home.lib / "gatedeck"), "--panel", "models"],
    ]
    assert [desktop_string(v) for v in entry_keys(entry, "TryExec")] == [str(home.lib / "gatedeck")]
    assert "Icon=gatedeck\n" in entry
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(home.desktop)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_install_quotes_an_awkward_home_folder_in_the_menu_entry(tmp_path: Path) -> None:
    root = tmp_path / 'my "home" $USER `x` 100% \\ dir'
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GATEDECK_"))}
    home = Home(root, {**env, "HOME": str(root)})

    result = home.run("install", "--bundle", str(make_fake_bundle(tmp_path / "b" / "gatedeck")))

    assert result.returncode == 0, result.stderr
    entry = home.desktop.read_text(encoding="utf-8")
    command = desktop_exec(entry_keys(entry, "Exec")[0])
    assert command == [str(home.lib / "gatedeck")]
    launched = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=30)
    assert launched.stdout.strip() == "GateDeck 9.9.9"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(home.desktop)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_install_again_replaces_the_old_bundle(home: Home, tmp_path: Path) -> None:
    old = make_fake_bundle(tmp_path / "old" / "gatedeck", version="1.0.0")
    (old / "_internal" / "only-in-old.txt").write_text("stale", encoding="utf-8")
    new = make_fake_bundle(tmp_path / "new" / "gatedeck", version="2.0.0")
    assert home.run("install", "--bundle", str(old)).returncode == 0

    result = home.run("install", "--bundle", str(new))

    assert result.returncode == 0, result.stderr
    assert "GateDeck 2.0.0 installed" in result.stdout
    assert not (home.lib / "_internal" / "only-in-old.txt").exists()
    leftovers = sorted(p.name for p in home.lib.parent.iterdir())
    assert leftovers == ["gatedeck"]


def test_install_without_a_built_bundle_says_how_to_build_one(home: Home, tmp_path: Path) -> None:
    result = home.run("install", "--bundle", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "run packaging/build first" in result.stderr
    assert not (home.root / ".local").exists()


def test_uninstall_removes_exactly_what_install_made_and_keeps_the_config(home: Home, tmp_path: Path) -> None:
    before = home.files()
    config = home.root / "gatedeck-config" / "config.yaml"
    config.parent.mkdir()
    config.write_text("schema_version: 1\n", encoding="utf-8")
    unrelated = [
        home.root / ".local" / "bin" / "other-tool",
        home.root / ".local" / "share" / "applications" / "other.desktop",
        home.root / ".config" / "autostart" / "other.desktop",
    ]
    for path in unrelated:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep me\n", encoding="utf-8")
    assert home.run("install", "--bundle", str(make_fake_bundle(tmp_path / "b" / "gatedeck"))).returncode == 0
    # What GateDeck's "start on login" writes for this install (core/autostart.py).
    home.autostart.write_text(f"[Desktop Entry]\nExec={home.lib / 'gatedeck'}\n", encoding="utf-8")

    result = home.run("uninstall")

    assert result.returncode == 0, result.stderr
    for gone in (home.lib, home.bin, home.desktop, home.icon, home.autostart):
        assert not gone.exists() and not gone.is_symlink(), gone
    assert all(path.read_text(encoding="utf-8") == "keep me\n" for path in unrelated)
    assert config.read_text(encoding="utf-8") == "schema_version: 1\n"
    assert home.files() == before | {str(p.relative_to(home.root)) for p in [config, *unrelated]}
    assert "configuration is kept" in result.stdout


def test_uninstall_leaves_a_gatedeck_command_it_did_not_make(home: Home, tmp_path: Path) -> None:
    assert home.run("install", "--bundle", str(make_fake_bundle(tmp_path / "b" / "gatedeck"))).returncode == 0
    home.bin.unlink()
    home.bin.write_text("#!/bin/sh\n# a pip-installed gatedeck\n", encoding="utf-8")
    home.autostart.parent.mkdir(parents=True)
    home.autostart.write_text("[Desktop Entry]\nExec=/usr/bin/python3 -m core.cli.main\n", encoding="utf-8")

    result = home.run("uninstall")

    assert result.returncode == 0, result.stderr
    assert "a pip-installed gatedeck" in home.bin.read_text(encoding="utf-8")
    assert home.autostart.exists()  # it starts another GateDeck, not this install
    assert not home.lib.exists()


def test_uninstall_purge_removes_config_and_data_where_gatedeck_says_they_are(
    home: Home, tmp_path: Path
) -> None:
    assert home.run("install", "--bundle", str(make_fake_bundle(tmp_path / "b" / "gatedeck"))).returncode == 0
    config_dir = home.root / "gatedeck-config"
    (config_dir / "data" / "logs").mkdir(parents=True)
    (config_dir / "config.yaml").write_text("schema_version: 1\n", encoding="utf-8")
    (config_dir / "data" / "secrets.json").write_text("{}", encoding="utf-8")

    result = home.run("uninstall", "--purge")

    assert result.returncode == 0, result.stderr
    assert not config_dir.exists()
    assert not home.lib.exists()
    assert home.files() == set()


def test_uninstall_when_nothing_is_installed_says_so(home: Home) -> None:
    result = home.run("uninstall")
    assert result.returncode == 0, result.stderr
    assert "was not installed" in result.stdout
