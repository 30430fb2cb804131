"""Machine-readable output of the commands (``--json``)."""

from __future__ import annotations

import json


def dumps(value) -> str:
    """Indented JSON keeping accents readable; dates and other objects as strings."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
