"""The bundle's entry point: the same ``gatedeck`` command as ``pip install`` gives."""

from core.cli.main import entry

if __name__ == "__main__":
    entry()
