"""What an execution process starts with: where flow_api lives, and an environment built from nothing."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# flow_api is found through this directory; nothing else of Engine's is on the script's path list.
_spec = importlib.util.find_spec("flow_api")
SDK_ROOT = str(Path(_spec.origin if _spec and _spec.origin else "flow_api/__init__.py").resolve().parent.parent)


def sandbox_env(home: str) -> dict[str, str]:
    """The script's whole environment: nothing is inherited from Engine's (no store location, no secrets)."""
    path = os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]))
    return {"PATH": path, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
