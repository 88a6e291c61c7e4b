"""Rows of dicts -> text: an aligned table, Markdown, CSV or JSON. Never prints.

One renderer for every command (the way simonw/llm and the hf CLI do it): a command builds its
rows once and the user's --format picks the text.
"""

from __future__ import annotations

import csv
import io
import json
from operator import itemgetter, methodcaller

from inspector.terminal import escape

FORMATS = ("table", "json", "csv", "markdown")


def cell(value: object, for_humans: bool = True) -> str:
    if value is None:
        return "-" if for_humans else ""
    if isinstance(value, bool):
        return ("yes" if value else "NO") if for_humans else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if for_humans else str(value)
    if isinstance(value, float):  # machines get every digit; people get six
        return f"{value:.6g}" if for_humans else repr(value)
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value) if value else "scalar"
    # A name from a file on a terminal: a newline would start a fake row, an escape sequence
    # would be obeyed. CSV files written for machines keep the name as it is (quoted).
    return escape(str(value)) if for_humans else str(value)


def _columns(rows: list[dict], columns: list[str] | None) -> list[str]:
    if columns:
        return columns
    seen: dict[str, None] = dict.fromkeys(rows[0]) if rows else {}
    for row in rows:
        if row.keys() != seen.keys():  # most tables have one set of keys: compared in C
            seen.update(dict.fromkeys(row))
    return list(seen)


def _numeric(rows: list[dict], column: str) -> bool:
    values = [r.get(column) for r in rows if r.get(column) is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                for v in values)


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Aligned columns for a terminal: numbers right-aligned with thousands separators."""
    columns = _columns(rows, columns)
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    right = [_numeric(rows, c) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w)
                         for v, w, r in zip(values, widths, right)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(values) for values in cells]
    return "\n".join(out)


def markdown(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = _columns(rows, columns)
    out = ["| " + " | ".join(columns) + " |",
           "|" + "|".join("---:" if _numeric(rows, c) else "---" for c in columns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(cell(r.get(c)) for c in columns) + " |")
    return "\n".join(out)


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = _columns(rows, columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    # Every row's cells as a tuple, and every column's kinds, taken by itemgetter, zip and map
    # in C. The csv writer already writes str, int, float (repr) and None ("") as
    # cell(..., for_humans=False) would; only columns holding other kinds (bools, shapes) go
    # through cell(). Tables of tens of thousands of rows (GPT-3 175B's heads) are then written
    # at the csv module's C speed.
    if len(columns) > 1 and all(map(methodcaller("__ge__", set(columns)), map(dict.keys, rows))):
        cells = list(map(itemgetter(*columns), rows))
    else:
        cells = [tuple(r.get(c) for c in columns) for r in rows]
    by_column = list(zip(*cells))
    special = [i for i, values in enumerate(by_column) if not set(map(type, values)) <= _AS_IS]
    if special:  # converted a column at a time (map in C), then zipped back into rows
        for i in special:
            by_column[i] = map(_machine_cell, by_column[i])
        cells = zip(*by_column)
    writer.writerows(cells)
    return buffer.getvalue().rstrip("\n")


_AS_IS = {str, int, float, type(None)}


def _machine_cell(value: object) -> object:
    """A CSV cell for a machine: shapes joined by "x", bools lower case, the rest as the csv
    module writes it."""
    if type(value) in _AS_IS:
        return value
    return cell(value, for_humans=False)


def json_text(document: object) -> str:
    return json.dumps(document, indent=2)


def render(rows: list[dict], fmt: str, columns: list[str] | None = None,
           document: object = None) -> str:
    """`document` is what JSON shows (the full answer); the other formats show `rows`."""
    if fmt == "json":
        return json_text(rows if document is None else document)
    return {"table": table, "markdown": markdown, "csv": csv_text}[fmt](rows, columns)


def summary(pairs: list[tuple[str, object]], fmt: str) -> str:
    """Key-value lines that head a table (table and markdown formats only)."""
    if fmt == "markdown":
        return "\n".join(f"- **{k}**: {cell(v)}" for k, v in pairs) + "\n"
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {cell(v)}" for k, v in pairs) + "\n"
