"""The words of `inspector fit`: its document (inspector.spec.fit) as summary lines, a table of
what holds memory, each row saying how it was counted, and the verdict."""

from __future__ import annotations

from inspector.output.rendering import render, summary
from inspector.spec.costs import human_bytes

COLUMNS = ["part", "bytes", "approx", "how"]


def fit_rows(doc: dict) -> list[dict]:
    """What holds memory, then the total against the memory: part, bytes, approx, how."""
    rows = [_row("weights", doc["weights_bytes"], doc["weights_are"]),
            _row("KV cache", doc["kv_cache_bytes"], _kv_how(doc))]
    if "kv_cache_bytes_up_projected" in doc:
        rows.append(_row("KV cache up-projected (not in the total)",
                         doc["kv_cache_bytes_up_projected"],
                         "an engine that caches the keys and values brought up from the latent,"
                         " not the latent"))
    for k in doc.get("state_kinds", ()):
        rows.append(_row(f"fixed state {k['kind']}", k["bytes"], _state_how(doc, k)))
    if doc["overhead_bytes"]:
        rows.append(_row("overhead", doc["overhead_bytes"], "--overhead"))
    rows.append(_row("total", doc["total_bytes"], _total_how(doc)))
    rows.append(_row("memory", doc["memory_bytes"], "--memory"))
    rows.append(_row("headroom", doc["headroom_bytes"], "memory - total"
                     + ("" if doc["fits"] else ": short by this much")))
    return rows


def _row(part: str, value: int, how: str) -> dict:
    approx = human_bytes(value) if value >= 0 else "-" + human_bytes(-value)
    return {"part": part, "bytes": value, "approx": approx, "how": how}


def _kv_how(doc: dict) -> str:
    """Each kind's bytes a token times the tokens it keeps, times the sequences."""
    kinds = [k for k in doc["kv_cache_kinds"] if k["values_per_token"]]
    if not kinds:
        return doc.get("no_cache_because", "an encoder caches no keys or values")
    bits = doc["kv_bits"]
    terms = []
    for k in kinds:
        per_token = -(-k["layers"] * k["values_per_token"] * bits // 8)
        tokens = min(doc["context"], k["window"] or doc["context"])
        kept = ": their window" if tokens < doc["context"] else ""
        terms.append(f"{per_token:,} bytes a token x {tokens:,} tokens ({k['layers']}"
                     f" {k['kind']} layers{kept})")
    batch = doc["batch"]
    summed = terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"
    return f"{summed} x {batch:,} sequence{'s' if batch != 1 else ''}, {doc['kv_dtype']}"


def _state_how(doc: dict, kind: dict) -> str:
    """A kind's state: its values a layer (the formula), layers, sequences, the dtype's bytes."""
    batch = doc["batch"]
    return (f"({kind['how']}) x {kind['layers']} layers x {batch:,}"
            f" sequence{'s' if batch != 1 else ''} x {doc['kv_bits']} bits, {doc['kv_dtype']}:"
            " the same at any context")


def _total_how(doc: dict) -> str:
    parts = ["weights", "KV cache"] + (["fixed state"] if doc["state_bytes"] else []) + (
        ["overhead"] if doc["overhead_bytes"] else [])
    return " + ".join(parts)


def fit_verdict(doc: dict) -> str:
    """One line: fits or not, by how much, and the longest context that fits."""
    limit = f"(n_ctx {doc['n_ctx']:,})" if doc["n_ctx"] else "(the --context asked: the" \
        " config gives no n_ctx)"
    if doc["max_context"] == 0:
        longest = "no context fits: the weights alone do not"
    else:
        longest = f"the longest context that fits: {doc['max_context']:,} tokens {limit}"
    if doc["fits"]:
        return f"fits, with {human_bytes(doc['headroom_bytes'])} to spare; {longest}"
    return f"does not fit: {human_bytes(-doc['headroom_bytes'])} short; {longest}"


def fit_text(doc: dict, fmt: str) -> str:
    """All `fit` prints in `fmt`: JSON the document; csv the rows; table and markdown the
    summary, the rows, the verdict and what is not counted."""
    if fmt in ("json", "csv"):
        return render(fit_rows(doc), fmt, COLUMNS, document=doc)
    head = summary([("model", doc["model"]),
                    ("context", (f"{doc['context']:,} tokens x batch {doc['batch']:,},"
                                f" KV cache in {doc['kv_dtype']}")),
                    ("fits", doc["fits"])], fmt)
    return "\n".join([head, render(fit_rows(doc), fmt, COLUMNS), "",
                      fit_verdict(doc), doc["leaves_out"]])
