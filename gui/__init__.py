"""GateDeck's PySide6 desktop UI; adapts core objects to widgets and signals."""
