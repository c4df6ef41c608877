"""The helpers gatedeck.spec uses to decide what goes into the bundle."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.helpers import PACKAGING, load_packaging_module

prune = load_packaging_module("prune")
source_modules = load_packaging_module("source_modules")
strip_debug = load_packaging_module("strip_debug")


# ---------------------------------------------------------------- modules_in
def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_modules_in_finds_namespace_folders_and_honours_exclusions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "gdpkg_probe"
    _write(pkg / "__init__.py")
    _write(pkg / "plain.py")
    _write(pkg / "ns" / "lazy_router.py")  # no __init__.py: pkgutil never reports it
    _write(pkg / "ns" / "deeper" / "endpoints.py")
    _write(pkg / "ns" / "__pycache__" / "lazy_router.cpython-311.pyc")
    _write(pkg / "sub" / "__init__.py")
    _write(pkg / "ui-build" / "chunk.py")  # not an importable name
    _write(pkg / "data.json", "{}")
    _write(pkg / "skipped" / "__init__.py")
    _write(pkg / "skipped" / "inner.py")
    monkeypatch.syspath_prepend(str(tmp_path))

    names = source_modules.modules_in("gdpkg_probe", exclude=["gdpkg_probe.skipped"])

    assert names == [
        "gdpkg_probe",
        "gdpkg_probe.ns.deeper.endpoints",
        "gdpkg_probe.ns.lazy_router",
        "gdpkg_probe.plain",
        "gdpkg_probe.sub",
    ]


def test_modules_in_refuses_a_missing_package() -> None:
    with pytest.raises(ModuleNotFoundError):
        source_modules.modules_in("gdpkg_surely_not_installed")


def test_every_lazily_loaded_litellm_router_is_collected() -> None:
    """LiteLLM registers these routers by module name on their first request (404 when the
    module is missing from the bundle): /v1/messages is one of them."""
    litellm_spec = importlib.util.find_spec("litellm")  # found, not imported
    assert litellm_spec is not None and litellm_spec.origin is not None
    lazy_file = Path(litellm_spec.origin).parent / "proxy" / "_lazy_features.py"
    lazy_modules = set(re.findall(r'module_path="([\w.]+)"', lazy_file.read_text(encoding="utf-8")))
    assert "litellm.proxy.anthropic_endpoints.endpoints" in lazy_modules

    spec_text = (PACKAGING / "gatedeck.spec").read_text(encoding="utf-8")
    excluded = re.search(r'modules_in\("litellm", exclude=\[(.*?)\]\)', spec_text)
    assert excluded, "gatedeck.spec no longer collects LiteLLM with modules_in"
    collected = set(
        source_modules.modules_in("litellm", exclude=re.findall(r'"([\w.]+)"', excluded.group(1)))
    )
    assert lazy_modules <= collected, sorted(lazy_modules - collected)


# ---------------------------------------------------------------- drop_binaries
def test_drop_binaries_removes_the_plugin_and_only_its_orphans() -> None:
    entries = [
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/src/libqgtk3.so", "BINARY"),
        ("libgtk-only.so.1", "/src/libgtk-only.so.1", "BINARY"),
        ("libgtk-deep.so.2", "/src/libgtk-deep.so.2", "BINARY"),
        ("libshared.so.6", "/src/libshared.so.6", "BINARY"),
        ("libpython3.11.so.1.0", "/src/libpython3.11.so.1.0", "BINARY"),
        ("PySide6/QtGui.abi3.so", "/src/QtGui.abi3.so", "EXTENSION"),
    ]
    links = {
        "/src/libqgtk3.so": {"libgtk-only.so.1", "libshared.so.6", "libc.so.6"},
        "/src/libgtk-only.so.1": {"libgtk-deep.so.2"},
        "/src/libgtk-deep.so.2": set(),
        "/src/libshared.so.6": set(),
        "/src/libpython3.11.so.1.0": set(),  # nothing links it: the bootloader loads it
        "/src/QtGui.abi3.so": {"libshared.so.6"},
    }

    kept, removed = prune.drop_binaries(entries, ["platformthemes/libqgtk3.so"], imports=links.__getitem__)

    assert removed == [
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "libgtk-deep.so.2",
        "libgtk-only.so.1",
    ]
    assert [e[0] for e in kept] == ["libshared.so.6", "libpython3.11.so.1.0", "PySide6/QtGui.abi3.so"]


def test_drop_binaries_without_a_match_changes_nothing() -> None:
    entries = [("libshared.so.6", "/src/libshared.so.6", "BINARY")]
    kept, removed = prune.drop_binaries(entries, ["libqgtk3.so"], imports=lambda _: set())
    assert kept == entries
    assert removed == []


# ---------------------------------------------------------------- strip_debug
def _extension_with_debug_info() -> Path:
    import yaml

    candidates = sorted(Path(yaml.__file__).parent.glob("_yaml*.so"))
    if not (shutil.which("strip") and shutil.which("readelf")):
        pytest.skip("binutils (strip, readelf) not installed")
    for path in candidates:
        if strip_debug.has_debug_info(path):
            return path
    pytest.skip("this PyYAML build carries no debug sections to strip")


def test_strip_debug_shrinks_libraries_that_still_load_and_skips_auditwheel_folders(tmp_path: Path) -> None:
    original = _extension_with_debug_info()
    bundle = tmp_path / "bundle"
    (bundle / "yaml").mkdir(parents=True)
    (bundle / "numpy.libs").mkdir()
    target = bundle / "yaml" / original.name
    untouched = bundle / "numpy.libs" / original.name
    shutil.copy2(original, target)
    shutil.copy2(original, untouched)
    (bundle / "notes.so.txt").write_text("not an ELF file", encoding="utf-8")

    count, saved = strip_debug.strip_debug(bundle)

    assert count == 1
    assert saved == original.stat().st_size - target.stat().st_size > 0
    assert not strip_debug.has_debug_info(target)
    assert untouched.read_bytes() == original.read_bytes()
    # The stripped extension still loads and works.
    probe = (
        "import importlib.machinery, importlib.util, sys\n"
        f"loader = importlib.machinery.ExtensionFileLoader('yaml._yaml', {str(target)!r})\n"
        "spec = importlib.util.spec_from_loader('yaml._yaml', loader)\n"
        "module = importlib.util.module_from_spec(spec); loader.exec_module(module)\n"
        "print(module.CParser.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "CParser"
