"""First-run setup without Qt: the model table, the fit rules, the config change and the Ollama check."""
