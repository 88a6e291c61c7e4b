"""CSV and JSON text of tables, written a column at a time, against the csv module writing row
by row and json.dumps writing the whole list: the same bytes, whatever the cells hold."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from inspector.output.rendering import csv_text, json_rows

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
