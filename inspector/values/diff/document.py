"""The comparison as a document: every row's status and change rolled up by role, layer, head
or tensor, the structural changes by stored tensor, the verdict and its reasons; and their words
(summary_pairs, structural_lines)."""

from __future__ import annotations

import re

from inspector.formats.base import TensorInfo
from inspector.spec.compare import Difference
from inspector.values.diff.pairing import (
    CHANGED,
    COMPARED,
    DTYPE,
    ONLY_A,
    ONLY_B,
    SAME,
    SHAPE,
    TIED,
    TIED_A,
    TIED_B,
    Entry,
)
from inspector.values.diff.reading import Change
from inspector.vocab.roles import role_sort_key
from inspector.vocab.rows import BUFFER, Row
from inspector.vocab.tables import TABLE_KEYS, head_order, layer_sort_key, role_name

METRICS = ("values", "changed", "rel_l2", "max_abs", "cosine", "nonfinite")
SHOWN_METRICS = METRICS[:-1]  # the tables leave out the NaN/Inf count; JSON keeps it
SHOWN = 20  # structural changes listed in the table and markdown formats


def _dtype(row_a: Row | None, row_b: Row | None) -> str:
    if row_a is None or row_b is None:
        return (row_a or row_b).dtype
    return row_a.dtype if row_a.dtype == row_b.dtype else f"{row_a.dtype} -> {row_b.dtype}"


def _rollup(entries: list[Entry]) -> dict:
    if all(e.status == TIED for e in entries):  # a tied role: its storage is compared once
        tied_to = entries[0].row.tied_to
        return {**dict.fromkeys(METRICS), "dtype": _dtype(entries[0].a, entries[0].b),
                "status": f"tied to {tied_to.value}" if tied_to else TIED}
    dtypes = ", ".join(sorted({_dtype(e.a, e.b) for e in entries}))
    stored = [e for e in entries if e.status != TIED]
    missing = [e for e in stored if e.status not in COMPARED]
    if missing:  # a sum over the rest would pass for the group's change: none is given
        why = ", ".join(dict.fromkeys(e.status for e in missing))
        part = "" if len(missing) == len(stored) else f" ({len(missing)} of {len(stored)} rows)"
        return {**dict.fromkeys(METRICS), "dtype": dtypes, "status": why + part}
    change = Change()
    for e in stored:
        change.merge(e.change)
    statuses = {e.status for e in stored}
    status = CHANGED if CHANGED in statuses else DTYPE if DTYPE in statuses else SAME
    return {**{k: change.as_dict()[k] for k in METRICS}, "dtype": dtypes, "status": status}


def rows_by(by: str, entries: list[Entry]) -> list[dict]:
    if by == "tensor":
        out = []
        for e in entries:
            shape = list(e.row.shape)
            if e.a is not None and e.b is not None and e.a.shape != e.b.shape:
                shape = f"{'x'.join(map(str, e.a.shape))} -> {'x'.join(map(str, e.b.shape))}"
            metrics = e.change.as_dict() if e.change is not None else {}
            out.append({"tensor": e.a.tensor if e.a else e.b.tensor,
                        "tensor_b": e.b.tensor if e.b and e.a and e.b.tensor != e.a.tensor
                        else None,
                        "canonical": e.row.canonical or None, "role": role_name(e.row),
                        "layer": e.row.layer, "kind": e.row.kind, "shape": shape,
                        "dtype": _dtype(e.a, e.b),
                        **{k: metrics.get(k) for k in METRICS}, "status": e.status})
        return out
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        if by == "layer" and e.status == TIED:
            continue  # a tied repeat adds nothing to its layer: its storage is counted once
        if by != "head" and e.row.kind == BUFFER:
            continue  # buffers are not parameters: listed by --by tensor and below
        if by == "role":
            key = (role_name(e.row),)
        elif by == "layer":
            key = (e.row.layer,)
        else:
            key = (e.row.layer, e.head, role_name(e.row), e.row.tensor, e.row.kind)
        groups.setdefault(key, []).append(e)
    if by == "role":
        keys = sorted(groups, key=lambda k: role_sort_key(k[0]))
        return [{"role": k[0], **_rollup(groups[k])} for k in keys]
    if by == "layer":
        keys = sorted(groups, key=lambda k: layer_sort_key(k[0]))
        return [{"layer": k[0], **_rollup(groups[k])} for k in keys]
    keys = sorted(groups, key=lambda k: head_order(k[0], k[2]))
    return [{"layer": k[0], "head": k[1], "role": k[2], "tensor": k[3], "kind": k[4],
             **_rollup(groups[k])} for k in keys]


def _stored(inspection) -> dict[str, TensorInfo]:
    return {t.name: t for t in inspection.decoupled.checkpoint.tensors}


def _held(inspection) -> dict[str, list[str]]:
    """Stored name -> the canonical names it holds (its own rows, not tied repeats)."""
    held: dict[str, list[str]] = {t.name: [] for t in inspection.decoupled.checkpoint.tensors}
    for row in inspection.rows:
        if row.canonical and row.tied_to is None:
            held[row.tensor].append(row.canonical)
    return held


def _one_side(entries: list[Entry], status: str, stored: dict[str, TensorInfo]) -> list[dict]:
    """The stored tensors holding rows found on one side only, each once, as stored."""
    held: dict[str, list[str]] = {}
    for e in entries:
        # A tied repeat names the storage of another row, present on both sides: a tie change.
        if e.status == status and e.row.tied_to is None:
            held.setdefault(e.row.tensor, []).extend([e.row.canonical] if e.row.canonical else [])
    return [_as_stored(stored[name], canonical) for name, canonical in held.items()]


def _as_stored(info: TensorInfo, canonical: list[str]) -> dict:
    return {"tensor": info.name, "canonical": canonical, "shape": list(info.shape),
            "dtype": info.dtype}


def _once(items: list[dict]) -> list[dict]:
    """A fused tensor is several rows: each stored tensor's change listed once."""
    seen: set[str] = set()
    return [c for c in items if not (c["tensor"] in seen or seen.add(c["tensor"]))]


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _differences(total: Change, buffers_changed: int, structural: dict) -> list[str]:
    """Why two checkpoints are not identical, each reason once, in words."""
    out = []
    if total.changed:
        out.append(f"{total.changed:,} of {_count(total.count, 'value')} changed")
    if buffers_changed:
        out.append(f"values changed in {_count(buffers_changed, 'buffer')}")
    for key, what in (("dtype_changes", "dtype changed in {}"),
                      ("shape_changes", "shape changed in {}"),
                      ("only_in_a", "{} only in A"), ("only_in_b", "{} only in B")):
        if structural[key]:
            out.append(what.format(_count(len(structural[key]), "stored tensor")))
    if structural["tie_changes"]:
        out.append(f"tying changed for {_count(len(structural['tie_changes']), 'row')}")
    return out


def build_document(source_a: str, source_b: str, by: str, tolerance: float,
                   entries: list[Entry], shown: list[Entry], nbytes: int, tensors: int, a,
                   b, architecture: list[dict]) -> dict:
    """`entries`: every row, whole; `shown`: the rows of the table (the same, but per head and
    of the attention only for --by head)."""
    total = Change()
    for e in entries:
        if e.counted and e.change is not None:
            total.merge(e.change)
    # Rows whose values were not compared, and the parameters they hold.
    skipped = [e for e in entries if e.status not in (*COMPARED, TIED)]
    not_compared = {
        "rows": len(skipped),
        "values_a": sum(e.a.numel for e in skipped if e.a is not None and e.a.counted),
        "values_b": sum(e.b.numel for e in skipped if e.b is not None and e.b.counted),
        "why": {status: sum(e.status == status for e in skipped)
                for status in dict.fromkeys(e.status for e in skipped)},
    }
    stored_a, stored_b = _stored(a), _stored(b)
    both = [e for e in entries if e.a is not None and e.b is not None]
    structural = {
        "only_in_a": _one_side(entries, ONLY_A, stored_a),
        "only_in_b": _one_side(entries, ONLY_B, stored_b),
        "shape_changes": _once([
            {"tensor": e.a.tensor, **({"tensor_b": e.b.tensor} if e.b.tensor != e.a.tensor
                                      else {}),
             "a": list(stored_a[e.a.tensor].shape), "b": list(stored_b[e.b.tensor].shape)}
            for e in both if e.status == SHAPE]),
        "dtype_changes": _once([
            {"tensor": e.a.tensor, **({"tensor_b": e.b.tensor} if e.b.tensor != e.a.tensor
                                      else {}),
             "a": e.a.dtype, "b": e.b.dtype}
            for e in both if e.a.dtype != e.b.dtype]),
        "tie_changes": [{"tensor": e.row.tensor, "canonical": e.row.canonical or None,
                         "change": e.status}
                        for e in entries if e.status in (TIED_A, TIED_B)
                        or (e.status in (ONLY_A, ONLY_B) and e.row.tied_to is not None)],
    }
    buffers_changed = sum(e.status == CHANGED and e.row.kind == BUFFER for e in entries)
    identical = all(e.status in (SAME, TIED) for e in entries)
    return {
        "a": source_a,
        "b": source_b,
        "identical": identical,
        "differences": [] if identical else _differences(total, buffers_changed, structural),
        "architecture": architecture,
        "architectures": {"a": a.shape.family, "b": b.shape.family},
        "tolerance": tolerance,
        "tensors_compared": tensors,
        "bytes_read": nbytes,
        "total": {k: total.as_dict()[k] for k in METRICS},
        "not_compared": not_compared,
        **structural,
        TABLE_KEYS[by]: rows_by(by, shown),
    }


def unrelated(source_a: str, source_b: str, by: str, tolerance: float, a, b,
              architecture: list[dict]) -> dict:
    """Two architectures: no row pairs up, so no value is compared. Stored tensors are set side
    by side by their stored name only: a name on one side is only in A (or B), a name on both
    with another shape or dtype is a shape (dtype) change, never two one-sided entries; the one
    difference says why no values were compared."""
    held_a, held_b = _held(a), _held(b)
    stored_a, stored_b = _stored(a), _stored(b)
    both = [name for name in stored_a if name in stored_b]
    rows = len(a.rows) + len(b.rows)
    return {
        "a": source_a,
        "b": source_b,
        "identical": False,
        "differences": [(f"different architectures: A is {a.shape.family}, B is"
                         f" {b.shape.family}; no tensor is paired across them, so no values"
                         " were compared")],
        "architecture": architecture,
        "architectures": {"a": a.shape.family, "b": b.shape.family},
        "tolerance": tolerance,
        "tensors_compared": 0,
        "bytes_read": 0,
        "total": Change().as_dict(),
        "not_compared": {"rows": rows,
                         "values_a": sum(r.numel for r in a.rows if r.counted),
                         "values_b": sum(r.numel for r in b.rows if r.counted),
                         "why": {"different architectures": rows}},
        "only_in_a": [_as_stored(t, held_a[t.name]) for t in stored_a.values()
                      if t.name not in stored_b],
        "only_in_b": [_as_stored(t, held_b[t.name]) for t in stored_b.values()
                      if t.name not in stored_a],
        "in_both": len(both),  # stored names on both sides (their values not compared)
        "shape_changes": [{"tensor": n, "a": list(stored_a[n].shape), "b": list(stored_b[n].shape)}
                          for n in both if stored_a[n].shape != stored_b[n].shape],
        "dtype_changes": [{"tensor": n, "a": stored_a[n].dtype, "b": stored_b[n].dtype}
                          for n in both if stored_a[n].dtype != stored_b[n].dtype],
        "tie_changes": [],
        TABLE_KEYS[by]: [],
    }


COLUMNS = {
    "role": ["role", *SHOWN_METRICS, "dtype", "status"],
    "layer": ["layer", *SHOWN_METRICS, "dtype", "status"],
    "head": ["layer", "head", "role", "kind", *SHOWN_METRICS, "status"],
    # The shape is the row's, PyTorch (out, in) like its canonical name (a fused tensor's part):
    # the canonical column says which, as in `inspector inspect --by tensor`.
    "tensor": ["tensor", "role", "canonical", "layer", "kind", "shape", "dtype", *SHOWN_METRICS,
               "status"],
}


def summary_pairs(doc: dict) -> list[tuple[str, object]]:
    t, skipped = doc["total"], doc["not_compared"]
    within = f" within {doc['tolerance']:g}" if doc["tolerance"] else ""
    if doc["identical"]:
        verdict = f"identical ({within.strip() or 'bit for bit'})"
    else:
        verdict = "DIFFERENT: " + "; ".join(doc["differences"])
        if t["values"] and not t["changed"]:  # the reasons above are all structural
            verdict += f" (the {t['values']:,} parameter values compared are all equal{within})"
    pairs: list[tuple[str, object]] = [("a", doc["a"]), ("b", doc["b"]), ("verdict", verdict)]
    # The cause before the tensors it changes: what differs in the architecture.
    pairs += [("architecture", Difference(d["key"], d["a"], d["b"]).line("A", "B"))
              for d in doc["architecture"]]
    if "different architectures" in skipped["why"]:
        # Nothing was compared, as the verdict says: how much each side holds instead.
        pairs.append(("not compared", (f"all parameter values: {skipped['values_a']:,} of A,"
                                       f" {skipped['values_b']:,} of B")))
        for side, key in (("A", "only_in_a"), ("B", "only_in_b")):
            pairs.append((f"only in {side}", _count(len(doc[key]), "stored tensor")))
        if doc["in_both"]:
            other = [f"{len(doc[key]):,} of another {what}" for key, what in
                     (("shape_changes", "shape"), ("dtype_changes", "dtype")) if doc[key]]
            pairs.append(("in both", "; ".join([(f"{_count(doc['in_both'], 'stored tensor')} of"
                                                " the same name (values not compared)"), *other])))
        return pairs
    read = (f"{doc['tensors_compared']:,} stored tensors read from each side"
            f" ({doc['bytes_read']:,} bytes in all)")
    if skipped["rows"]:
        pairs.append(("compared", (f"{t['values']:,} parameter values, of A's"
                                   f" {t['values'] + skipped['values_a']:,} and B's"
                                   f" {t['values'] + skipped['values_b']:,}; {read}")))
        why = ", ".join(skipped["why"]) if len(skipped["why"]) == 1 else ", ".join(
            f"{status}: {n:,}" for status, n in skipped["why"].items())
        pairs.append(("not compared", (f"{_count(skipped['rows'], 'row')} ({why}):"
                                       f" {skipped['values_a']:,} parameter values of A,"
                                       f" {skipped['values_b']:,} of B")))
    else:
        pairs.append(("compared", f"{t['values']:,} parameter values; {read}"))
    if t["values"]:
        over = " (over the values compared)" if skipped["rows"] else ""
        pairs.append(("change", (f"{t['changed']:,} values changed; relative L2"
                                 f" {_g(t['rel_l2'])}, largest {_g(t['max_abs'])}, cosine"
                                 f" {_g(t['cosine'])}{over}")))
    if t["nonfinite"]:
        pairs.append(("NaN/Inf", (f"{t['nonfinite']:,} values are NaN or Inf on one side"
                                  " only (left out of the sums)")))
    return pairs


def _pattern(name: str) -> str:
    """h.0.attn.bias ... h.11.attn.bias: one line, h.N.attn.bias."""
    return re.sub(r"(?<=\.)\d+(?=\.)", "N", name)


def _grouped(items: list[dict], what) -> list[tuple[str, tuple, list[dict]]]:
    """(shown name, what, items) per group of stored tensors that differ only in their layer
    number: the name itself when alone, "12 x h.N.mlp.c_fc.weight" otherwise."""
    groups: dict[tuple, list[dict]] = {}
    for item in items:
        groups.setdefault((_pattern(item["tensor"]), what(item)), []).append(item)
    return [(group[0]["tensor"] if len(group) == 1 else f"{len(group)} x {pattern}", key, group)
            for (pattern, key), group in groups.items()]


def _shape(shape) -> str:
    return f"[{', '.join(map(str, shape))}]"


def structural_lines(doc: dict) -> list[str]:
    """Tensors on one side only, shape, dtype and tie changes, by stored name and stored shape:
    one line each (layers alike in one line), SHOWN at most."""
    lines = []
    for key, label in (("only_in_a", "only in A"), ("only_in_b", "only in B")):
        for shown, (dtype, shape), _ in _grouped(doc[key], lambda i: (i["dtype"], tuple(i["shape"]))):
            lines.append(f"{label}: {shown} {dtype} {_shape(shape)}")
    for shown, (name_b, was, now), group in _grouped(
            doc["shape_changes"],
            lambda i: (_pattern(i.get("tensor_b", "")), tuple(i["a"]), tuple(i["b"]))):
        shown_b = _shape(now)
        if name_b:  # B names it otherwise (GPT-2's published and transformers forms)
            shown_b = f"{group[0]['tensor_b'] if len(group) == 1 else name_b} {shown_b}"
        lines.append(f"shape: {shown} {_shape(was)} -> {shown_b}")
    by_change: dict[tuple[str, str], list[str]] = {}
    for item in doc["dtype_changes"]:
        by_change.setdefault((item["a"], item["b"]), []).append(item["tensor"])
    for (was, now), names in by_change.items():
        if len(names) == 1:
            lines.append(f"dtype: {names[0]} {was} -> {now}")
        else:
            lines.append(f"dtype: {was} -> {now} in {len(names)} stored tensors ({names[0]},"
                         f" {names[1]}{', ...' if len(names) > 2 else ''})")
    for item in doc["tie_changes"]:
        lines.append(f"tie: {item['canonical'] or item['tensor']}: {item['change']}")
    if len(lines) > SHOWN:
        lines = lines[:SHOWN] + [f"... and {len(lines) - SHOWN} more (--format json lists all)"]
    return lines


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
