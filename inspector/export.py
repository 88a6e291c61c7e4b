"""Tables -> files, whole or not at all: each is written to a temporary file in the target
folder, and only when every one is complete are they renamed into place (os.replace is atomic
on one filesystem), so an interrupted run leaves the old files or the new ones, never a part."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from inspector.errors import InspectorError
from inspector.report import csv_text

EXPORT_FORMATS = ("csv", "json", "parquet")


def write_tables(tables: dict[str, list[dict]], out_dir: str | Path, fmt: str) -> list[Path]:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InspectorError(out_dir, f"cannot create the output folder: {e.strerror or e}") from e
    staged: list[tuple[str, Path]] = []
    try:
        for name, rows in tables.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".partial")
            os.close(fd)
            staged.append((tmp, out_dir / f"{name}.{fmt}"))
            _write(rows, Path(tmp), fmt)
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as e:
        raise InspectorError(out_dir, f"cannot write the export: {e.strerror or e}") from e
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [final for _, final in staged]


def _write(rows: list[dict], path: Path, fmt: str) -> None:
    if fmt == "csv":
        path.write_text(csv_text(rows) + "\n" if rows else "", encoding="utf-8")
    elif fmt == "json":
        # One row per line, each by json's C encoder: indent= falls back to the pure-Python
        # encoder, which took 0.44 s and 100+ MB for GPT-3 175B's 64,512 head rows.
        with open(path, "w", encoding="utf-8") as f:
            f.write("[\n" + ",\n".join(map(json.dumps, rows)) + "\n]\n" if rows else "[]\n")
    else:
        import pandas as pd

        frame = pd.DataFrame(rows).convert_dtypes()  # nullable ints: a missing layer stays an int
        frame.to_parquet(path, index=False)
