"""GateDeck's version, read by the build and by ``gatedeck --version``."""

__version__ = "0.1.0"
