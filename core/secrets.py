"""Where the master key and cloud API keys live: never in config.yaml.

The OS keyring is used when a real one answers; otherwise (headless Linux, portable installs) a
file in the data folder readable by the user alone. ``GATEDECK_SECRET_STORE=keyring|file|auto``
forces the choice.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from core.errors import SecretStoreError
from core.paths import AppPaths

SERVICE = "gatedeck"
MASTER_KEY = "master-key"
MASTER_KEY_PREFIX = "sk-gd-"
#: The read-only token a Prometheus server scrapes ``/metrics`` with (it opens nothing else).
METRICS_TOKEN = "metrics-token"
METRICS_TOKEN_PREFIX = "gd-metrics-"


def cloud_key_name(entry: str) -> str:
    """Secret-store name for a cloud entry's API key."""
    return f"cloud:{entry}"


class SecretStore(Protocol):
    """Small key/value store for secrets."""

    kind: str

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class FileSecretStore:
    """Secrets as JSON in a 0600 file; written atomically."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SecretStoreError(
                f"The secrets file {self.path} cannot be read ({exc}). Fix or delete it; deleting "
                "it makes GateDeck generate a new master key, and clients need the new one."
            ) from None
        if not isinstance(data, dict):
            raise SecretStoreError(f"The secrets file {self.path} is damaged; delete it to start afresh.")
        return {str(k): str(v) for k, v in data.items()}

    def get(self, name: str) -> str | None:
        return self._read().get(name)

    def set(self, name: str, value: str) -> None:
        data = self._read()
        data[name] = value
        self._write(data)

    def delete(self, name: str) -> None:
        data = self._read()
        if data.pop(name, None) is not None:
            self._write(data)

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)


class KeyringSecretStore:
    """Secrets in the OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""

    kind = "keyring"

    def __init__(self) -> None:
        import keyring

        self._keyring = keyring

    def get(self, name: str) -> str | None:
        try:
            value: str | None = self._keyring.get_password(SERVICE, name)
        except Exception as exc:  # the backends raise many types (dbus, locked keychain, …)
            raise SecretStoreError(f"The system keyring did not answer: {exc}") from None
        return value

    def set(self, name: str, value: str) -> None:
        try:
            self._keyring.set_password(SERVICE, name, value)
        except Exception as exc:
            raise SecretStoreError(f"The system keyring refused to store {name}: {exc}") from None

    def delete(self, name: str) -> None:
        try:
            self._keyring.delete_password(SERVICE, name)
        except Exception:
            pass  # absent already: nothing to delete


def _keyring_usable() -> bool:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or backend.priority < 1:
            return False
        keyring.get_password(SERVICE, "probe")
    except Exception:
        return False
    return True


def open_secret_store(paths: AppPaths, env: Mapping[str, str] | None = None) -> SecretStore:
    """The secret store for this install (see module docstring)."""
    env = os.environ if env is None else env
    choice = env.get("GATEDECK_SECRET_STORE", "auto").lower()
    file_store = FileSecretStore(paths.data_dir / "secrets.json")
    if choice == "file":
        return file_store
    if choice == "keyring":
        return KeyringSecretStore()
    # A portable install keeps its secrets beside its config, not in this machine's keyring.
    if env.get("GATEDECK_CONFIG_DIR") or not _keyring_usable():
        return file_store
    return KeyringSecretStore()


def generate_master_key() -> str:
    """A new random master key (LiteLLM wants keys to start with ``sk-``)."""
    return MASTER_KEY_PREFIX + secrets.token_urlsafe(32)


def ensure_master_key(store: SecretStore) -> str:
    """The install's master key, created on first use."""
    return _ensure(store, MASTER_KEY, generate_master_key)


def ensure_metrics_token(store: SecretStore) -> str:
    """The install's read-only metrics token, created on first use: a Prometheus server
    scrapes ``/metrics`` with it and can reach no model with it."""
    return _ensure(store, METRICS_TOKEN, lambda: METRICS_TOKEN_PREFIX + secrets.token_urlsafe(32))


def _ensure(store: SecretStore, name: str, make: Callable[[], str]) -> str:
    value = store.get(name)
    if not value:
        value = make()
        store.set(name, value)
    return value


def regenerate_master_key(store: SecretStore) -> str:
    """Replace the master key; clients using the old one get 401 afterwards."""
    key = generate_master_key()
    store.set(MASTER_KEY, key)
    return key


def mask(secret: str) -> str:
    """A form safe to show: prefix and last four characters."""
    if len(secret) <= 10:
        return "•" * len(secret)
    return f"{secret[:6]}…{secret[-4:]}"
