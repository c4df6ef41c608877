"""GateDeck's icons. This folder installs as the package ``gui.assets`` (see pyproject.toml), so
``importlib.resources`` finds the files the same way in every install; gui/resources.py reads them."""
