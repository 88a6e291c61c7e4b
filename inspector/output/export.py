"""Tables -> files, whole or not at all (inspector.files.atomic): an interrupted run leaves the old
files or the new ones, never a part."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from inspector.checkpoint.expert_groups import tensor_table_of
from inspector.checkpoint.inspection import Inspection
from inspector.files.atomic import make_folder, write_atomically
from inspector.output.rendering import csv_text, json_rows
from inspector.vocab.tables import HEADS_UNKNOWN, head_table, layer_table, role_table

# The tables of one export. One that a run cannot write (heads, with no head count) is removed
# if an earlier run left it, so that the folder never holds a set made of two runs.
TABLES = ("roles", "layers", "heads", "tensors")


def checkpoint_tables(source: str, inspection: Inspection) -> tuple[dict[str, list[dict]],
                                                                   list[str]]:
    """The tables `export` writes of SOURCE, and a note for each it leaves out (heads, when
    nothing gives the head count), after the warnings of the inspection itself."""
    rows, shape = inspection.decoupled.held, inspection.shape  # (sums: experts held once)
    notes = list(inspection.warnings)
    tables = {"roles": role_table(rows), "layers": layer_table(rows)}
    if shape.n_heads:
        tables["heads"] = head_table(rows, shape.n_heads, shape.n_kv_heads, source)
    else:
        notes.append(f"{source}: heads table not written: {HEADS_UNKNOWN}")
    tables["tensors"] = tensor_table_of(inspection.decoupled)
    return tables, notes


def write_tables(tables: dict[str, list[dict]], out_dir: str | Path, fmt: str) -> list[Path]:
    out_dir = Path(out_dir)
    make_folder(out_dir)
    return write_atomically(out_dir, {f"{name}.{fmt}": partial(_write, rows, fmt=fmt)
                                      for name, rows in tables.items()}, "export",
                            remove=tuple(f"{name}.{fmt}" for name in TABLES
                                         if name not in tables))


def _write(rows: list[dict], path: Path, fmt: str) -> None:
    if fmt == "csv":
        path.write_text(csv_text(rows) + "\n" if rows else "", encoding="utf-8")
    elif fmt == "json":
        path.write_text(json_rows(rows), encoding="utf-8")
    else:
        import pandas as pd

        frame = pd.DataFrame(rows).convert_dtypes()  # nullable ints: a missing layer stays an int
        frame.to_parquet(path, index=False)
