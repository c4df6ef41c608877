"""GateDeck's Qt-free core: config, gateway, Ollama operations, hardware, metrics, CLI."""
