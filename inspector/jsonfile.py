"""One JSON file read whole, every way it can fail turned into one InspectorError that names the
file: unreadable, not UTF-8, not JSON, or nested past Python's recursion limit."""

from __future__ import annotations

import json
from pathlib import Path

from inspector.errors import InspectorError


def read_json(path: Path, error: type[InspectorError], what: str = "JSON file") -> object:
    """The value in `path`; on failure `error(path, "not a readable <what>: <why>")`, so a spec
    reader raises SpecError and a checkpoint reader CheckpointError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise error(path, f"not a readable {what}: {e}") from e
    except RecursionError as e:
        deep = "nested too deeply" if "JSON" in what else "JSON nested too deeply"  # JSON once
        raise error(path, f"not a readable {what}: {deep}") from e
