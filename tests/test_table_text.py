"""CSV and JSON text of tables, written a column at a time, against the csv module writing row
by row and json.dumps writing the whole list: the same bytes, whatever the cells hold."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.output.rendering import csv_text, json_rows, json_text

# Cells the shortcut must not confuse: equal values of other types (1, 1.0, True; 0.0, -0.0),
# strings csv must quote, None, shapes (lists), NaN, a '%' (the rows were once %-formatted).
CELLS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                  st.sampled_from(["", "a,b", 'say "x"', "line\nbreak", "cr\rx", "%s", "{", "é"]),
                  st.text(max_size=5), st.lists(st.integers(0, 9), max_size=3))
KEYS = st.sampled_from(["layer", "head", "role", "a,b", 'q"', "%d", "{"])


def reference_csv(rows: list[dict]) -> str:
    """csv.writer, one row at a time: columns in order of first appearance, a missing key an
    empty cell, a list "x"-joined, a bool lower case, no line end after the last row."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [row.get(c) for c in columns]
        writer.writerow(["x".join(map(str, v)) if isinstance(v, list) and v else
                         "scalar" if isinstance(v, list) else
                         str(v).lower() if isinstance(v, bool) else v for v in cells])
    return buffer.getvalue().rstrip("\n")


def reference_json(rows: list[dict]) -> str:
    """json.dumps of the list, a line break before each row."""
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n"


same_keys_rows = st.lists(KEYS, min_size=1, max_size=4, unique=True).flatmap(
    lambda keys: st.lists(st.fixed_dictionaries({k: CELLS for k in keys}), max_size=8))
# (An empty row has no '}, {"' after it: a list of {} stays on one line, as it always has.)
any_rows = st.lists(st.dictionaries(KEYS, CELLS, min_size=1, max_size=4), max_size=8)


@given(st.one_of(same_keys_rows, any_rows))
def test_csv_as_the_csv_module_writes_it(rows):
    assert csv_text(rows) == reference_csv(rows)


@given(st.one_of(same_keys_rows, any_rows))
def test_json_as_json_dumps_writes_it(rows):
    assert json_rows(rows) == reference_json(rows)


def test_a_column_of_equal_values_of_other_types():
    """1, 1.0 and True are equal (and hash alike), as are 0.0 and -0.0: each is written as
    itself, not as the first of them met."""
    rows = [{"v": 1, "w": 0.0}, {"v": 1.0, "w": -0.0}, {"v": True, "w": 0}]
    assert csv_text(rows) == "v,w\n1,0.0\n1.0,-0.0\ntrue,0"
    assert json_rows(rows) == ('[\n{"v": 1, "w": 0.0},\n{"v": 1.0, "w": -0.0},\n'
                               '{"v": true, "w": 0}\n]\n')


# Documents for json_text: any nesting, and the lists of flat rows it writes a column at a time
# (the same keys, other keys, lists inside rows, rows holding containers, empty rows).
TEXTS = st.one_of(st.text(max_size=6), st.sampled_from(
    ["", 'q"', "\\", "\x00", "\x1f\x7f", "é", "\u2028", "\ud800", "😀", ", ", '", "', "]\x00[",
     "], [", "a\nb"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXTS,
                    st.sampled_from([0, 1, True, False, 0.0, -0.0, 1.0, float("nan"),
                                     float("inf"), float("-inf")]))
FLAT_CELLS = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.lists(st.integers(), max_size=3),
                       st.tuples(st.integers(0, 9), st.integers(0, 9)))
ROW_KEYS = st.one_of(KEYS, TEXTS)
flat_rows = st.one_of(
    st.lists(ROW_KEYS, max_size=4, unique=True).flatmap(
        lambda keys: st.lists(st.fixed_dictionaries({k: FLAT_CELLS for k in keys}), max_size=8)),
    st.lists(st.dictionaries(ROW_KEYS, FLAT_CELLS, max_size=4), max_size=8),
    st.lists(st.sampled_from([0, 1, 2]), max_size=12).map(  # few distinct values, two kinds
        lambda picks: [{"n": [1, 1.0, True][p], "s": [None, "a", (2, 3)][p]} for p in picks]))
documents = st.recursive(
    st.one_of(SCALARS, flat_rows),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXTS, inner, max_size=4),
                            st.lists(st.dictionaries(KEYS, inner, max_size=3), max_size=4)),
    max_leaves=30)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)  # a busy machine
@given(documents)
def test_json_text_as_json_dumps_writes_it(document):
    assert json_text(document) == json.dumps(document, indent=2)


def test_json_text_of_what_json_writes_its_own_way():
    """Keys not strings, subclasses, a cycle, an object json rejects: json.dumps decides."""
    class Number(int):
        pass
    assert json_text({1: [{"a": 1}], None: {2.5: True}}) == json.dumps(
        {1: [{"a": 1}], None: {2.5: True}}, indent=2)
    rows = [{"a": Number(3), "b": [Number(4)]}, {"a": 1, "b": [2]}]
    assert json_text({"rows": rows}) == json.dumps({"rows": rows}, indent=2)
    looped: list = []
    looped.append({"x": looped})
    for document in (looped, {"a": [{"b": object()}]}):
        with pytest.raises((ValueError, TypeError)) as by_json:
            json.dumps(document, indent=2)
        with pytest.raises(by_json.type, match=re.escape(str(by_json.value))):
            json_text(document)


def test_json_text_of_a_table_of_tensors():
    """Shapes at depth 3 are written one number a line, as json.dumps writes them."""
    rows = [{"tensor": f"layers.{i}.w", "layer": i % 3 or None, "shape": [2048, 7168][:i % 3],
             "dtype": "F8_E4M3", "numel": 2048 * 7168, "tied_to": None} for i in range(200)]
    document = {"tensors": len(rows), "bookkeeping": [{"name": "x", "numel": 1, "bytes": 4}] * 50,
                "tensor_rows": rows}
    assert json_text(document) == json.dumps(document, indent=2)
