"""JSON text as json.dumps(document, indent=2) writes it, fast for long lists of flat rows;
and the texts of a list of scalars in one call of json's C encoder (for rendering's json_rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import chain, repeat

JSON = json.JSONEncoder(check_circular=False)  # flat rows: no cycles
_NONE = type(None)
SCALARS = frozenset({str, int, float, bool, _NONE})  # exact types: json writes each as C does
# A NUL between items: json writes one inside a string as \u0000, so it can only be a separator.
CUT = json.JSONEncoder(check_circular=False, separators=("\0", ": "))
_string_text = json.encoder.encode_basestring_ascii  # json's, in C


def json_cells(values: Sequence) -> list[str]:
    """Each value's text: strings one by one in C; other scalars in one call, cut at the
    separators (see CUT)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(_string_text, values))
    if values and kinds <= SCALARS:
        return CUT.encode(values)[1:-1].split("\0")
    return list(map(JSON.encode, values))  # a list inside a row of json_rows; or raises


def json_text(document: object) -> str:
    """json.dumps(document, indent=2), byte for byte. With an indent json encodes in Python, a
    call or more per value: the containers are walked here instead and each list of flat rows
    (Kimi-K2's 69,608 bookkeeping entries, its 139,705 rows by tensor) written a column at a
    time with the C encoder, as rendering's json_rows and csv_text write theirs. Anything
    json.dumps would write some other way than this (a subclass, a key not a str, an object it
    rejects, a cycle) goes to json.dumps."""
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


def _indent(level: int) -> str:
    return "\n" + "  " * level


def _write(value: object, level: int, out: list[str]) -> None:
    """Append json.dumps(value, indent=2)'s text of `value` at depth `level` to `out`."""
    kind = type(value)
    if kind in SCALARS:
        out.append(JSON.encode(value))
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
        out.append(opening + _indent(level + 1) + _string_text(key) + ": ")
        _write(item, level + 1, out)
        opening = ","
    out.append(_indent(level) + "}")


def _write_list(value: list | tuple, level: int, out: list[str]) -> None:
    kinds = set(map(type, value))
    if not value or kinds <= SCALARS:
        out.append(_flat_list(json_cells(value), level))
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
    fixed = [("," if i else "{") + _indent(level + 1) + _string_text(key) + ": "
             for i, key in enumerate(keys)] + [_indent(level) + "}" + after]
    opening = fixed[0] if rotated else ""
    fixed[0], fixed[-1] = fixed[0][len(opening):], fixed[-1] + opening
    every = list(chain.from_iterable(map(dict.values, rows)))  # row by row; a column a slice
    cells = [_json_column(every[i::len(keys)], level + 1) for i in range(len(keys))]
    return None if None in cells else (_streams(fixed, cells), opening)


def _few(values: list, distinct: set | None = None) -> bool:
    """At most one value in two distinct (names of tensors are not)."""
    return len(set(values) if distinct is None else distinct) * 2 <= len(values)


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
    if kinds <= SCALARS:
        if (kinds <= {int, _NONE} or kinds <= {str, _NONE}) and _few(values[:64]):
            distinct = set(values)
            if _few(values, distinct):
                distinct = list(distinct)
                return values, dict(zip(distinct, json_cells(distinct)))
        return json_cells(values), None
    if not kinds <= SCALARS | _LISTS:
        return None
    lists = values if kinds <= _LISTS else [v for v in values if type(v) in _LISTS]
    if not set(map(type, chain.from_iterable(lists))) <= SCALARS:
        return None
    if kinds <= _LISTS:  # in one call: no item's text ends in ']' or starts with '['
        items = CUT.encode(values)[2:-2].split("]\0[")
        return items, {t: _flat_list(t.split("\0") if t else (), level) for t in set(items)}
    return [_flat_list(json_cells(v), level) if type(v) in _LISTS else JSON.encode(v)
            for v in values], None
