"""Rows of dicts -> text: an aligned table, Markdown, CSV or JSON. Never prints.

One renderer for every command (the way simonw/llm and the hf CLI do it): a command builds its
rows once and the user's --format picks the text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from operator import itemgetter, methodcaller

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
    return [f"{prefix}{t}{suffix}" for t in cells(values)]


def _joined(texts: list[Iterable[str]]) -> str:
    """The columns' cell texts joined row by row, in one join (no string made per row)."""
    return "".join(chain.from_iterable(zip(*texts)))


def _csv_rows(rows: list[dict], columns: list[str]) -> str:
    """CSV by the csv writer, row by row."""
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
    lines = _Lines()
    csv.writer(lines, lineterminator="\n").writerows(zip(map(_machine_cell, values), repeat("")))
    return [line[:-2] for line in lines]


_JSON = json.JSONEncoder(check_circular=False)  # flat rows: no cycles
_SCALARS = frozenset({str, int, float, bool, _NONE})  # exact types: json writes each as the C one
# A NUL between items: json writes one inside a string as \u0000, so it can only be a separator.
_CUT = json.JSONEncoder(check_circular=False, separators=("\0", ": "))


def _json_cells(values: Sequence) -> list[str]:
    """Each value's text; a list of scalars in one call, cut at its separators (see _CUT)."""
    if values and set(map(type, values)) <= _SCALARS:
        return _CUT.encode(values)[1:-1].split("\0")
    return list(map(_JSON.encode, values))  # a list inside a row of json_rows; or raises


_AS_IS = {str, int, float, _NONE}


def _machine_cell(value: object) -> object:
    """A CSV cell for a machine: shapes joined by "x", bools lower case, the rest as the csv
    module writes it."""
    if type(value) in _AS_IS:
        return value
    return cell(value, for_humans=False)


def json_text(document: object) -> str:
    """json.dumps(document, indent=2), byte for byte. With an indent json encodes in Python, a
    call or more per value: the containers are walked here instead and each list of flat rows
    (Kimi-K2's 69,608 bookkeeping entries, its 139,705 rows by tensor) written a column at a
    time with the C encoder (see _column_text). Anything json.dumps would write some other way
    than this (a subclass, a key not a str, an object it rejects, a cycle) goes to json.dumps."""
    parts: list[str] = []
    try:
        _write(document, 0, parts)
    except _NotPlain:
        return json.dumps(document, indent=2)
    return "".join(parts)


class _NotPlain(Exception):
    """A value json_text leaves to json.dumps."""


_LISTS = frozenset({list, tuple})
_DEEPEST = 200  # deeper is a cycle (json.dumps says so) or beyond what anyone writes
_key_text = json.encoder.encode_basestring_ascii


def _indent(level: int) -> str:
    return "\n" + "  " * level


def _write(value: object, level: int, out: list[str]) -> None:
    """Append json.dumps(value, indent=2)'s text of `value` at depth `level` to `out`."""
    kind = type(value)
    if kind in _SCALARS:
        out.append(_JSON.encode(value))
    elif level > _DEEPEST:
        raise _NotPlain
    elif kind is dict:
        _write_dict(value, level, out)
    elif kind in _LISTS:
        _write_list(value, level, out)
    else:
        raise _NotPlain


def _write_dict(value: dict, level: int, out: list[str]) -> None:
    if not value:
        out.append("{}")
        return
    opening = "{"
    for key, item in value.items():
        if type(key) is not str:  # json writes 1, 1.5, True and None keys as strings
            raise _NotPlain
        out.append(opening + _indent(level + 1) + _key_text(key) + ": ")
        _write(item, level + 1, out)
        opening = ","
    out.append(_indent(level) + "}")


def _write_list(value: list | tuple, level: int, out: list[str]) -> None:
    kinds = set(map(type, value))
    if not value or kinds <= _SCALARS:
        out.append(_flat_list(_json_cells(value), level))
        return
    between = "," + _indent(level + 1)
    out.append("[" + _indent(level + 1))
    if kinds == {dict}:
        _write_rows(value, level + 1, between, out)
    else:
        for item in value:
            _write(item, level + 1, out)
            out.append(between)
        out.pop()
    out.append(_indent(level) + "]")


def _flat_list(cells: Sequence[str], level: int) -> str:
    """A list of scalars (their texts) at depth `level`: one item a line, a level deeper."""
    if not cells:
        return "[]"
    return "[" + _indent(level + 1) + ("," + _indent(level + 1)).join(cells) + _indent(level) + "]"


def _write_rows(rows: list[dict], level: int, between: str, out: list[str]) -> None:
    """Rows at depth `level`, `between` after each but the last. Rows of the same keys in the
    same order (most lists) are written a column at a time, their texts joined once with the
    rest; else each set of rows of the same keys, and a row holding containers on its own."""
    keys = tuple(rows[0])
    if list(chain.from_iterable(rows)) == list(keys) * len(rows):
        # The row's opening ('{' and the first key) is written after each row's end instead.
        written = _flat_columns(rows, keys, level, between, rotated=True)
        if written is not None:
            streams, opening = written
            out.append(opening)
            out.extend(chain.from_iterable(zip(*streams)))
            out[-1] = out[-1][:-len(between + opening)]
            return
    texts: list[str] = [""] * len(rows)
    groups: dict[tuple, list[int]] = {}
    for i, signature in enumerate(map(tuple, rows)):
        groups.setdefault(signature, []).append(i)
    for keys, where in groups.items():
        group = [rows[i] for i in where]
        written = _flat_columns(group, keys, level, "")
        row_texts = map("".join, zip(*written[0])) if written else map(_row_text, group,
                                                                          repeat(level))
        for i, text in zip(where, row_texts):
            texts[i] = text
    out.append(between.join(texts))


def _row_text(row: dict, level: int) -> str:
    out: list[str] = []
    _write_dict(row, level, out)
    return "".join(out)


def _flat_columns(rows: list[dict], keys: tuple, level: int, after: str,
                  rotated: bool = False) -> tuple[list, str] | None:
    """Rows of these keys at depth `level`, `after` each, as streams of texts (a row's text is
    the n-th text of each stream), and the opening of the rows if `rotated` put it after each
    row's end. None if a cell holds other than a scalar or a flat list."""
    if not keys:
        return [["{}" + after] * len(rows)], ""
    if not all(type(key) is str for key in keys):
        raise _NotPlain
    fixed = [("," if i else "{") + _indent(level + 1) + _key_text(key) + ": "
             for i, key in enumerate(keys)] + [_indent(level) + "}" + after]
    opening = fixed[0] if rotated else ""
    fixed[0], fixed[-1] = fixed[0][len(opening):], fixed[-1] + opening
    cells = [_json_column(values, level + 1) for values in _by_column(rows, keys, True)]
    return None if None in cells else (_streams(fixed, cells), opening)


def _streams(fixed: list[str], cells: list[tuple]) -> list[Iterable[str]]:
    """The streams of a row's texts: fixed[0], cells[0], fixed[1], ..., fixed[-1]. The fixed
    texts on either side of a column of few distinct values are put into each of their texts
    (once a value, not once a row); any other fixed text is a stream of its own."""
    streams: list[Iterable[str]] = []
    for i, (texts, distinct) in enumerate(cells):
        if distinct is None:
            streams += [repeat(fixed[i]), texts] if fixed[i] else [texts]
            continue
        before, after, fixed[i + 1] = fixed[i], fixed[i + 1], ""
        text = {value: f"{before}{t}{after}" for value, t in distinct.items()}
        streams.append(map(text.__getitem__, texts))
    return streams + [repeat(fixed[-1])] if fixed[-1] else streams


def _json_column(values: list, level: int) -> tuple[list, dict | None] | None:
    """A column's cells at depth `level` (scalars; flat lists, one item a line): the cells'
    texts, or if few values are distinct (ints, names of roles, shapes; exact types, so that 1,
    1.0 and True stay apart) the cells' keys and each key's text. None if a cell holds anything
    else."""
    kinds = set(map(type, values))
    if kinds <= _SCALARS:
        if kinds <= {int, _NONE} or kinds <= {str, _NONE}:
            distinct = set(values)
            if len(distinct) * 2 <= len(values):
                distinct = list(distinct)
                return values, dict(zip(distinct, _json_cells(distinct)))
        return _json_cells(values), None
    if not kinds <= _SCALARS | _LISTS:
        return None
    lists = values if kinds <= _LISTS else [v for v in values if type(v) in _LISTS]
    if not set(map(type, chain.from_iterable(lists))) <= _SCALARS:
        return None
    if kinds <= _LISTS:  # in one call: no item's text ends in ']' or starts with '['
        items = _CUT.encode(values)[2:-2].split("]\0[")
        return items, {t: _flat_list(t.split("\0") if t else (), level) for t in set(items)}
    return [_flat_list(_json_cells(v), level) if type(v) in _LISTS else _JSON.encode(v)
            for v in values], None


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
