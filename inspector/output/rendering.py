"""Rows of dicts -> text: an aligned table, Markdown, CSV or JSON. Never prints.

One renderer for every command (the way simonw/llm and the hf CLI do it): a command builds its
rows once and the user's --format picks the text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from operator import itemgetter, methodcaller

from inspector.output.json_document import JSON as _JSON
from inspector.output.json_document import json_cells as _json_cells
from inspector.output.json_document import json_text
from inspector.output.markup import markdown_text
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


def _same_keys(rows: list[dict]) -> bool:
    """Every row has the first row's keys (most tables): compared in C."""
    return bool(rows) and all(map(rows[0].keys().__eq__, map(dict.keys, rows)))


def _columns(rows: list[dict], columns: list[str] | None) -> list[str]:
    if columns:
        return columns
    if not rows:
        return []
    if _same_keys(rows):
        return list(rows[0])
    seen: dict[str, None] = dict.fromkeys(rows[0])
    for row in rows:
        if row.keys() != seen.keys():
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
    """A pipe table; a cell holding markup (a name from a file) is a code span, its `|`
    escaped (see inspector.output.markup)."""
    columns = _columns(rows, columns)
    out = ["| " + " | ".join(columns) + " |",
           "|" + "|".join("---:" if _numeric(rows, c) else "---" for c in columns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_markdown_cell(r.get(c)) for c in columns) + " |")
    return "\n".join(out)


def _markdown_cell(value: object) -> str:
    return markdown_text(cell(value), in_table=True) if isinstance(value, str) else cell(value)


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    """The rows as CSV, exactly as the csv module writes them (minimal quoting, "\n" between
    rows, none after the last), written a column at a time (see _column_text)."""
    complete = not columns and _same_keys(rows)  # every row has every column
    columns = list(rows[0]) if complete else _columns(rows, columns)
    if len(columns) < 2 or not rows:  # one column: csv quotes an empty row ("")
        return _csv_rows(rows, columns)
    last = len(columns) - 1
    texts = [_column_text(values, "," if i else "", "\n" if i == last else "", _csv_cells)
             for i, values in enumerate(_by_column(rows, columns, complete))]
    return ",".join(_csv_cells(columns)) + "\n" + _joined(texts)[:-1]


def json_rows(rows: list[dict]) -> str:
    """A JSON list of flat rows, one row a line: json.dumps of the list, with a line break
    before each row. Rows with the same keys in the same order are written a column at a time
    (see _column_text); else json's C encoder takes the whole list."""
    if not rows:
        return "[]\n"
    keys = list(rows[0])
    # The same keys in the same order: all keys of all rows in one list, compared at once.
    if keys and all(type(k) is str for k in keys) and \
            list(chain.from_iterable(rows)) == keys * len(rows):
        texts = [_column_text(values, ("{" if i == 0 else ", ") + _JSON.encode(key) + ": ",
                              "},\n" if i == len(keys) - 1 else "", _json_cells)
                 for i, (key, values) in enumerate(zip(keys, _by_column(rows, keys, True)))]
        return "[\n" + _joined(texts)[:-2] + "\n]\n"
    # '}, {"' can only stand between two rows, since rows are flat (no dict inside) and a '"'
    # inside a string is written as '\"'.
    text = _JSON.encode(rows)
    return "[\n" + text[1:-1].replace('}, {"', '},\n{"') + "\n]\n"


_NONE = type(None)


def _column_text(values: list, prefix: str, suffix: str, cells) -> Iterable[str]:
    """Each cell of a column as text (`cells` of a list of values), between prefix and suffix.

    Tables of tens of thousands of rows (GPT-3 175B's 36,864 head rows) are written this way, a
    row then being one join of its cells' texts. A column of exact ints, strings and None has
    a few hundred distinct values: each is put into text once and the column looked up with map
    in C. Any other column (1.0 == 1 == True, -0.0 == 0.0, a list is unhashable) has each cell
    converted. GPT-3 175B's head rows, in a fresh process, took 2.1x as long with the csv
    writer (it compares every character of every cell with the line terminator) and 1.7x with
    json's encoder on the whole list (it encodes every key of every row)."""
    kinds = set(map(type, values))
    if kinds <= {int, _NONE} or kinds <= {str, _NONE}:
        distinct = list(set(values))
        text = {v: f"{prefix}{t}{suffix}" for v, t in zip(distinct, cells(distinct))}
        return map(text.__getitem__, values)
    if kinds == {list}:  # shapes: a few distinct ones among 140,000 rows. Keyed by their repr,
        # which tells 1, 1.0 and True apart (equal reprs are written alike)
        keys = list(map(repr, values))
        one_of_each = dict(zip(keys, values))
        text = {k: f"{prefix}{t}{suffix}"
                for k, t in zip(one_of_each, cells(list(one_of_each.values())))}
        return map(text.__getitem__, keys)
    return [f"{prefix}{t}{suffix}" for t in cells(values)]


def _joined(texts: list[Iterable[str]]) -> str:
    """The columns' cell texts joined row by row, in one join (no string made per row)."""
    return "".join(chain.from_iterable(zip(*texts)))


def _csv_rows(rows: list[dict], columns: list[str]) -> str:
    """CSV by the csv writer, row by row."""
    import csv  # only for CSV: the table and JSON formats start without it

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_machine_cell(r.get(c)) for c in columns] for r in rows)
    return buffer.getvalue().rstrip("\n")


def _by_column(rows: list[dict], columns: Sequence[str], complete: bool = False) -> list[list]:
    """Each column's values, None where a row has no such key (`complete`: none lacks one)."""
    if complete or all(map(methodcaller("__ge__", set(columns)), map(dict.keys, rows))):
        return [list(map(itemgetter(c), rows)) for c in columns]
    return [[r.get(c) for r in rows] for c in columns]


class _Lines(list):
    """A file for the csv writer that keeps each row's line (it writes a row in one call)."""
    write = list.append


def _csv_cells(values: Iterable) -> list[str]:
    """Each value as the csv writer writes it in a cell (quoted where it must be, None empty, a
    float by repr; shapes and bools as _machine_cell makes them). Each is written as the first
    of two cells (a lone empty cell is quoted), then the comma and line end are cut off."""
    import csv

    lines = _Lines()
    csv.writer(lines, lineterminator="\n").writerows(zip(map(_machine_cell, values), repeat("")))
    return [line[:-2] for line in lines]


_AS_IS = {str, int, float, _NONE}


def _machine_cell(value: object) -> object:
    """A CSV cell for a machine: shapes joined by "x", bools lower case, the rest as the csv
    module writes it."""
    if type(value) in _AS_IS:
        return value
    return cell(value, for_humans=False)


def render(rows: list[dict], fmt: str, columns: list[str] | None = None,
           document: object = None) -> str:
    """`document` is what JSON shows (the full answer); the other formats show `rows`."""
    if fmt == "json":
        return json_text(rows if document is None else document)
    text = {"table": table, "markdown": markdown, "csv": csv_text}[fmt](rows, columns)
    if fmt != "csv" and "layer" in _columns(rows, columns) and any(
            r.get("layer") is None for r in rows):
        text += "\n\n" + OUTSIDE_LAYERS  # a person reads '-'; CSV and JSON keep it empty, null
    return text


# What a layer '-' is (an empty CSV field, null in JSON).
OUTSIDE_LAYERS = ("layer -: outside the layers (what no block holds: embeddings, final norm,"
                  " unembedding)")


def summary(pairs: list[tuple[str, object]], fmt: str) -> str:
    """Key-value lines that head a table (table and markdown formats only)."""
    if fmt == "markdown":
        return "\n".join(f"- **{k}**: {markdown_text(cell(v))}" for k, v in pairs) + "\n"
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {cell(v)}" for k, v in pairs) + "\n"
