"""Opening GateDeck's config and secrets, creating them on first run."""

from __future__ import annotations

from dataclasses import dataclass

from core.config.defaults import default_config
from core.config.schema import Config
from core.config.store import ConfigStore, LoadResult
from core.errors import FolderNotWritable
from core.paths import AppPaths
from core.secrets import SecretStore, ensure_master_key, ensure_metrics_token, open_secret_store


@dataclass
class Installation:
    """Everything GateDeck reads at start: paths, config store and its load, secrets."""

    paths: AppPaths
    store: ConfigStore
    loaded: LoadResult
    secrets: SecretStore
    master_key: str
    #: the read-only token that opens only the gateway's ``GET /metrics`` (for Prometheus)
    metrics_token: str = ""

    @property
    def config(self) -> Config:
        return self.loaded.config


def open_installation(
    paths: AppPaths | None = None,
    ollama_url: str | None = None,
    default_model: str | None = None,
) -> Installation:
    """Load (or on first run write) the config and master key.

    ``ollama_url`` and ``default_model`` only shape a brand-new config; an existing one is kept
    as the user left it.

    Raises:
        FolderNotWritable: the config or data folder cannot be created or written.
    """
    paths = paths or AppPaths.from_env()
    try:
        paths.ensure()
        store = ConfigStore(paths)
        loaded = store.load(default=lambda: default_config(ollama_url, default_model))
        if loaded.source == "new":
            store.save(loaded.config)
    except OSError as exc:
        where = str(exc.filename or paths.config_dir)
        raise FolderNotWritable(where, exc.strerror or str(exc)) from None
    secrets = open_secret_store(paths)
    return Installation(
        paths, store, loaded, secrets, ensure_master_key(secrets), ensure_metrics_token(secrets)
    )
