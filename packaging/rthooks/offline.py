"""PyInstaller runtime hook: runs before any GateDeck or LiteLLM code inside the bundle.

- LiteLLM fetches its model cost map from GitHub at import unless told to use its local copy
  (DESIGN.md: 5 s timeout, then retry warnings). The bundle carries the copy, so it never asks.
- The bootloader puts the bundle's own libraries on LD_LIBRARY_PATH. Programs GateDeck starts
  (xdg-open behind "open folder", a terminal, ``ollama``) must see the system's libraries, not
  ours, so children get the user's original value back. This process is unaffected: the dynamic
  loader read the variable when the process started.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

for _name in ("LD_LIBRARY_PATH",):
    _original = os.environ.pop(f"{_name}_ORIG", None)
    if _original is not None:
        os.environ[_name] = _original
    else:
        os.environ.pop(_name, None)
