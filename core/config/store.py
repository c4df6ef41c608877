"""Loading and saving the config file without ever losing a good one.

Loading collects *every* problem (YAML syntax, unknown or mistyped keys, bad references) with
its key path and line, instead of stopping at the first. A broken file is never overwritten
silently: the store falls back to the last good config (``config.yaml.bak``, always the last
file that loaded and validated) or the defaults, says so, and a later save first moves the
broken file aside as ``config.yaml.broken-<time>``. A file with no settings in it (emptied, or
all comments) counts as broken, not as a config with no mappings.

Saving is atomic: write a temp file in the same folder, fsync, rename over, then copy it to
``.bak`` the same way. A crash at any point leaves loadable files.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from core.config.schema import SCHEMA_VERSION, Config, dotted_path
from core.config.yaml_source import YamlSource, parse_yaml
from core.errors import ConfigError, ConfigProblem
from core.paths import AppPaths

#: A migration step: ``step(document, moved_out)`` returns the document one schema newer. Values
#: that leave the config for another file (the window's state file) go into ``moved_out``.
Migration = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def move_ui_state_out(doc: dict[str, Any], moved_out: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 → 2: the last panel and the tray notice flag are window state, not settings.

    They move to the state file (:mod:`core.config.ui_state`), which takes them when it does not
    exist yet; ``ui.theme`` and ``ui.start_on_login`` stay.
    """
    ui = doc.get("ui")
    if not isinstance(ui, dict):
        return doc
    ui = dict(ui)
    if "last_panel" in ui:
        moved_out["last_panel"] = ui.pop("last_panel")
    if "hide_to_tray_hint_shown" in ui:
        moved_out["tray_hint_shown"] = ui.pop("hide_to_tray_hint_shown")
    return {**doc, "ui": ui}


#: ``MIGRATIONS[n]`` turns a version-``n`` document into a version-``n + 1`` one. Each is a small
#: named function; add one whenever SCHEMA_VERSION goes up.
MIGRATIONS: dict[int, Migration] = {1: move_ui_state_out}

Source = Literal["file", "backup", "defaults", "new"]

_HEADER = (
    "# GateDeck configuration. Edit it in the app, or here by hand: GateDeck checks every key\n"
    "# and line on load and keeps the last good config if this file is broken.\n"
    "# The master key and API keys are not in this file (see `gatedeck config path`).\n"
)


@dataclass
class LoadResult:
    """What :meth:`ConfigStore.load` found.

    Attributes:
        config: the config to use (always valid).
        source: where it came from: the file, its backup, the defaults, or a brand-new file.
        problems: what is wrong with the file, if it could not be used (empty when source is
            ``file`` or ``new``).
        moved_out: values an older file held that now live elsewhere (see ``Migration``); the
            file itself keeps them until the next save.
    """

    config: Config
    source: Source
    problems: list[ConfigProblem] = field(default_factory=list)
    moved_out: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_config(text: str, source: str = "config", migrations: dict[int, Migration] | None = None) -> Config:
    """Turn YAML text into a :class:`Config` or raise :class:`ConfigError` listing every problem."""
    return _parse(text, source, MIGRATIONS if migrations is None else migrations)[0]


def _parse(text: str, source: str, migrations: dict[int, Migration]) -> tuple[Config, dict[str, Any]]:
    """:func:`parse_config`, plus the values the migrations moved out of the file."""
    parsed, issues = parse_yaml(text)
    problems = [ConfigProblem(dotted_path(i.path), i.line, i.message) for i in issues]
    if problems and parsed.root is None:
        raise ConfigError(source, problems)
    data = parsed.data
    if data is None or data == {}:
        # An emptied file is a mistake, not a request for a config with no mappings (every
        # request would then fail); treat it as broken so the last good config stays in use.
        raise ConfigError(
            source,
            [
                *problems,
                ConfigProblem(
                    "",
                    1,
                    "holds no settings (it is empty or all comments); GateDeck keeps using the last good "
                    "config: fix the file, or delete it to start again from the defaults",
                ),
            ],
        )
    if not isinstance(data, dict):
        raise ConfigError(
            source,
            [
                ConfigProblem(
                    "", parsed.line_of(()), "the file must hold a mapping of keys (gateway:, mappings:, …)"
                )
            ],
        )
    moved_out: dict[str, Any] = {}
    try:
        data = _migrate(data, parsed, migrations, moved_out)
        config = Config.model_validate(data, context={"defer_references": True})
    except _MigrationProblem as exc:
        raise ConfigError(source, [*problems, exc.problem]) from None
    except ValidationError as exc:
        problems += _validation_problems(exc, parsed)
        raise ConfigError(source, problems) from None
    except (RecursionError, ValueError, TypeError) as exc:  # cyclic aliases and the like
        raise ConfigError(
            source, [*problems, ConfigProblem("", parsed.line_of(()), f"cannot be read: {exc}")]
        ) from None
    problems += [
        ConfigProblem(dotted_path(loc), parsed.line_of(loc), message)
        for loc, message in config.reference_problems()
    ]
    if problems:
        raise ConfigError(source, problems)
    return config, moved_out


class _MigrationProblem(Exception):
    def __init__(self, problem: ConfigProblem) -> None:
        self.problem = problem


def _migrate(
    data: dict[str, Any], parsed: YamlSource, migrations: dict[int, Migration], moved_out: dict[str, Any]
) -> dict[str, Any]:
    version = data.get("schema_version", SCHEMA_VERSION)
    line = parsed.line_of(("schema_version",))
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise _MigrationProblem(ConfigProblem("schema_version", line, "must be a whole number"))
    if version > SCHEMA_VERSION:
        raise _MigrationProblem(
            ConfigProblem(
                "schema_version",
                line,
                f"this file was written by a newer GateDeck (schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}). Update GateDeck or restore config.yaml.bak.",
            )
        )
    while version < SCHEMA_VERSION:
        step = migrations.get(version)
        if step is None:
            raise _MigrationProblem(
                ConfigProblem("schema_version", line, f"no migration from schema {version}; restore a backup")
            )
        data = step(dict(data), moved_out)
        version += 1
        data["schema_version"] = version
    return data


def _validation_problems(exc: ValidationError, parsed: YamlSource) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (misspelt, or not used by this version of GateDeck)"
        elif error["type"] == "missing":
            message = "this key is required"
        problems.append(ConfigProblem(dotted_path(loc), parsed.line_of(loc), message))
    return problems


def config_to_yaml(config: Config) -> str:
    """The text GateDeck writes: header comment + the config without empty (None) options."""
    data = config.model_dump(mode="json", exclude_none=True)
    data = {"schema_version": data.pop("schema_version"), **data}
    return _HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


class ConfigStore:
    """Reads and writes ``config.yaml`` in GateDeck's config folder."""

    def __init__(self, paths: AppPaths, migrations: dict[int, Migration] | None = None) -> None:
        self.paths = paths
        self._migrations = MIGRATIONS if migrations is None else migrations
        self._file_is_broken = False

    @classmethod
    def from_env(cls) -> ConfigStore:
        return cls(AppPaths.from_env())

    @property
    def path(self) -> Path:
        return self.paths.config_file

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + ".bak")

    def exists(self) -> bool:
        return self.path.exists()

    def read(self, path: Path | None = None) -> Config:
        """Parse one file; raises :class:`ConfigError` with every problem."""
        return self._read(path or self.path)[0]

    def _read(self, path: Path) -> tuple[Config, dict[str, Any]]:
        """:meth:`read`, plus the values the migrations moved out of the file."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                str(path), [ConfigProblem("", None, f"is not UTF-8 text ({exc.reason})")]
            ) from None
        except OSError as exc:
            raise ConfigError(
                str(path), [ConfigProblem("", None, f"cannot be read: {exc.strerror}")]
            ) from None
        return _parse(text, str(path), self._migrations)

    def load(self, default: Callable[[], Config] = Config) -> LoadResult:
        """The config to use now. Never raises for a bad file and never rewrites it.

        Args:
            default: builds the config used when there is no file yet (first run) or when
                neither the file nor its backup can be used.
        """
        if not self.path.exists():
            self._file_is_broken = False
            return LoadResult(default(), "new")
        try:
            config, moved_out = self._read(self.path)
        except ConfigError as exc:
            self._file_is_broken = True
            problems = exc.problems
        else:
            self._file_is_broken = False
            self._keep_as_last_good(self.path.read_bytes())
            return LoadResult(config, "file", moved_out=moved_out)
        with contextlib.suppress(ConfigError):
            if self.backup_path.exists():
                config, moved_out = self._read(self.backup_path)
                return LoadResult(config, "backup", problems, moved_out)
        return LoadResult(default(), "defaults", problems)

    def save(self, config: Config) -> Path | None:
        """Write ``config`` atomically. Returns where a broken file was moved aside, if it was."""
        self.paths.ensure()
        _remove_stale_temps(self.path)
        text = config_to_yaml(config)
        moved: Path | None = None
        if self.path.exists() and (self._file_is_broken or not self._loads(self.path)):
            # Keep the user's hand edits for them to fix or copy from; never overwrite them.
            moved = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(self.path, moved)
        data = text.encode("utf-8")
        _atomic_write(self.path, data)
        self._file_is_broken = False
        self._keep_as_last_good(data)
        return moved

    def _keep_as_last_good(self, data: bytes) -> None:
        """``.bak`` holds the last config that loaded and validated: what a file broken later
        (by hand, or emptied) falls back to. Never a config that did not validate."""
        try:
            if not self.backup_path.exists() or self.backup_path.read_bytes() != data:
                _atomic_write(self.backup_path, data)
        except OSError:  # a read-only folder: loading still works, without the safety copy
            pass

    def _loads(self, path: Path) -> bool:
        try:
            self.read(path)
        except ConfigError:
            return False
        return True


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _remove_stale_temps(path: Path) -> None:
    """Temp files left by a save that was killed half-way (never the live file)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        if stale.name != f".{path.name}.tmp-{os.getpid()}":
            with contextlib.suppress(OSError):
                stale.unlink()


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
