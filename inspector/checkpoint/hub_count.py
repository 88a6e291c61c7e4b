"""The hub's own parameter count beside inspector's, and why they differ.

The hub's model info publishes, for a safetensors repo, the values stored per dtype (its
`safetensors` field: {"parameters": {"F32": n}, "total": n}). It counts every stored tensor;
inspector counts parameters. The difference is explained per stored tensor: the values it stores
less the values it adds to inspector's total, grouped by why (a buffer, a stored copy of a tied
matrix, quantization bookkeeping), one line per cause with its exact size. What the stored
tensors cannot explain is said as such.
"""

from __future__ import annotations

from collections import defaultdict

from inspector.formats.base import Checkpoint
from inspector.vocab.rows import BUFFER, Row

BUFFERS = "buffers (masks, rotary frequencies, position ids): stored, not parameters"
TIED = "stored copies of a tied matrix: one storage, counted once"
BOOKKEEPING = "quantization bookkeeping (scales, zero points, group indices): not parameters"
PACKED = ("packed quantized weights: the hub counts their stored elements, inspector the values"
          " they hold (the unquantized model's parameters)")


def reconcile(checkpoint: Checkpoint, decoupled, parameters: int) -> dict | None:
    """{"total", "dtypes", "parameters", "difference", "causes": [...], "unexplained"} or None
    when the checkpoint carries no hub count. `decoupled`: its rows (read only when it does)."""
    hub = (checkpoint.origin or {}).get("safetensors")
    if not hub or not isinstance(hub.get("total"), int):
        return None
    by_tensor: dict[str, list[Row]] = defaultdict(list)
    for row in decoupled.rows:
        by_tensor[row.tensor].append(row)
    causes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for tensor in checkpoint.tensors:
        own = by_tensor.get(tensor.name, [])
        uncounted = tensor.numel - sum(r.numel for r in own if r.counted)
        if uncounted > 0:
            causes[_cause(own)].append((tensor.name, uncounted))
        elif uncounted < 0:  # more values than stored elements: a packed weight
            causes[PACKED].append((tensor.name, uncounted))
    explained = sum(n for found in causes.values() for _, n in found)
    difference = hub["total"] - parameters
    return {
        "total": hub["total"],
        "dtypes": dict(hub.get("parameters") or {}),
        "parameters": parameters,
        "difference": difference,
        "causes": [{"cause": cause, "tensors": [name for name, _ in found],
                    "values": sum(n for _, n in found)} for cause, found in causes.items()],
        "unexplained": difference - explained,
    }


def _cause(rows: list[Row]) -> str:
    if rows and all(r.kind == BUFFER for r in rows):
        return BUFFERS
    if any(r.tied_to is not None for r in rows):
        return TIED
    return BOOKKEEPING  # any other stored value that no row counts: a quantization table


def lines(found: dict) -> list[str]:
    """One line per cause, exact sizes: `12 buffers ... of 1,048,576 values each = 12,582,912`."""
    out = []
    for cause in found["causes"]:
        names, values = cause["tensors"], cause["values"]
        each = values // len(names)
        size = (f"{len(names)} x {each:,} = {values:,} values" if each * len(names) == values
                and len(names) > 1 else
                f"{values:,} values in {len(names)} tensor{'s' * (len(names) > 1)}")
        if values < 0:  # fewer on the hub than in inspector's count
            size = f"{-values:,} values more than stored in {len(names)} tensors"
        shown = ", ".join(names[:2]) + (f", ... {names[-1]}" if len(names) > 2 else "")
        out.append(f"{size}: {cause['cause']} ({shown})")
    if found["unexplained"]:
        out.append(f"{found['unexplained']:,} values that the stored tensors do not explain (the"
                   " hub's total differs from what the headers hold)")
    return out
