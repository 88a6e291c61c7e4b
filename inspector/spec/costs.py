"""What a spec costs to hold and to run, from its integers alone (no torch): weight bytes per
dtype, KV-cache bytes per token and at the full context, forward and training FLOPs per token.

The conventions, stated once here and repeated in every row's `how`:

- Weights: every stored parameter once (a tied unembedding is the embedding's storage), times the
  dtype's width. int4 is 4 bits a value and nothing else: real 4-bit formats add scales
  (GGUF Q4_0 is 4.5 bits a weight, Q4_1 5).
- KV cache: per token 2 (K and V) x n_layers x n_kv_heads x d_head x bytes. Grouped-query
  attention caches n_kv_heads heads, not n_heads. At the full context a locally banded layer keeps
  only its window of tokens.
- N, the parameters a token is multiplied by: all parameters except the lookup tables (token,
  position and token-type embeddings, which cost no multiply), with the unembedding counted even
  when tied to the embedding, since its matmul runs for every token. That is Kaplan et al. 2020's
  non-embedding N plus the "de-embed" row of their Table 1 (2 d_model n_vocab FLOPs), which they
  drop as small for large models; it is a third of GPT-2 124M's compute.
- Forward FLOPs per token = 2N + the attention term. The attention term is Kaplan's
  2 n_layer n_ctx d_attn (d_attn = n_heads x d_head, the query width: grouped-query attention
  shares keys and values, not the score and weighted-sum work): scores (Q K^T) and weighted sum
  (A V) each cost 2 FLOPs per multiply-add over a causal token's average context of n_ctx / 2 keys,
  so 2 x 2 x n_ctx/2 x d_attn per layer. Chinchilla (Hoffmann et al. 2022) counts the full n_ctx,
  twice this. A locally banded layer of window w averages w - w^2 / (2 n_ctx) keys instead; an
  encoder token attends to all n_ctx keys (twice the causal term), or in a local layer to the
  h = w // 2 on each side and itself, 2h + 1 - h(h + 1) / n_ctx on average.
  encoder token attends to all n_ctx keys (twice the causal term).
- A mixture of experts: memory (weights) holds every parameter; the FLOPs of a token count only
  the parameters it passes through, k of each MoE layer's E routed experts (N is taken from the
  active parameters).
- Training FLOPs per token = 3 x forward (the backward pass costs twice the forward): 6N + 3 x the
  attention term.
"""

from __future__ import annotations

from fractions import Fraction

from inspector.spec.describe import spec_rows
from inspector.vocab.roles import Role
from inspector.spec.schema import Spec
from inspector.vocab.tables import active_total, total

# (name, bits per value). fp16 and bf16 share a width, so one row serves both.
WEIGHT_DTYPES = (("fp32", 32), ("fp16/bf16", 16), ("int8", 8), ("int4", 4))
KV_DTYPES = (("fp32", 32), ("fp16/bf16", 16), ("int8", 8))
HEADLINE_KV = "fp16/bf16"  # what inference servers cache by default

LOOKUP_ROLES = (Role.EMBEDDING, Role.POSITION, Role.TOKEN_TYPE)


def _bytes(values: int, bits: int) -> int:
    return -(-values * bits // 8)  # whole bytes, rounded up


def weight_bytes(spec: Spec) -> list[dict]:
    n = total(spec_rows(spec))
    return [{"dtype": name, "bits": bits, "bytes": _bytes(n, bits)} for name, bits in WEIGHT_DTYPES]


def _span(spec: Spec, layer: int) -> int:
    """Tokens a layer attends over: the whole context, or a banded layer's window."""
    if spec.layer_attention(layer) == "local":
        return min(spec.n_ctx, spec.local_window)
    return spec.n_ctx


def kv_cache(spec: Spec) -> dict | None:
    """Bytes of keys and values cached per token and at the full context; None for an encoder."""
    if spec.architecture != "decoder":
        return None
    per_layer_token = 2 * spec.n_kv_heads * spec.d_head  # values: K and V, every KV head
    tokens_cached = sum(_span(spec, i) for i in range(spec.n_layers))  # over layers, at n_ctx
    return {
        "n_layers": spec.n_layers, "n_kv_heads": spec.n_kv_heads, "d_head": spec.d_head,
        "n_ctx": spec.n_ctx,
        "values_per_token": spec.n_layers * per_layer_token,
        "per_token": [{"dtype": name, "bytes": _bytes(spec.n_layers * per_layer_token, bits)}
                      for name, bits in KV_DTYPES],
        "at_n_ctx": [{"dtype": name, "bytes": _bytes(tokens_cached * per_layer_token, bits)}
                     for name, bits in KV_DTYPES],
        "local_layers": sum(spec.layer_attention(i) == "local" for i in range(spec.n_layers)),
    }


def _attention_flops(spec: Spec, layer: int) -> Fraction:
    """Scores plus weighted sum for one token in one layer: 4 x (mean keys attended) x d_attn."""
    n, width = spec.n_ctx, spec.attn_width
    if spec.architecture != "decoder":
        if spec.layer_attention(layer) == "local":  # ModernBERT: h = w // 2 keys each side, cut
            h = min(spec.local_window // 2, n - 1)  # at the ends: 2h + 1 - h(h + 1) / n on average
            return 4 * (Fraction(2 * h + 1) - Fraction(h * (h + 1), n)) * width
        return Fraction(4 * n * width)
    w = _span(spec, layer)
    mean_keys = Fraction(w) - Fraction(w * w, 2 * n)  # n/2 when w = n (dense): Kaplan's term
    return 4 * mean_keys * width


def flops(spec: Spec) -> dict:
    rows = spec_rows(spec)
    parameters = total(rows)
    lookup = sum(r.numel for r in rows if r.counted and r.role in LOOKUP_ROLES
                 and not (spec.patch_size and r.canonical.startswith("embed.")))  # ViT's
    # embedding is a convolution: every patch is multiplied by it, not looked up
    unembedding = sum(r.numel for r in rows if r.role == Role.UNEMBEDDING)  # tied or not
    unembedding_stored = sum(r.numel for r in rows if r.counted and r.role == Role.UNEMBEDDING)
    non_embedding = parameters - lookup - unembedding_stored  # Kaplan's N
    active = active_total(rows, spec.experts_per_token)  # (all of them in a dense model)
    skipped = parameters - active  # routed experts a token does not pass through
    n = non_embedding + unembedding - skipped
    attention = round(sum(_attention_flops(spec, i) for i in range(spec.n_layers)))
    return {
        "parameters": parameters,
        "lookup_tables": lookup,
        "non_embedding": non_embedding,
        "unembedding": unembedding,
        "tied_unembedding": unembedding - unembedding_stored,  # multiplied, not stored again
        "experts_skipped": skipped,
        "n": n,
        "n_is": "parameters a token is multiplied by: all but the lookup tables (token, position,"
                " token-type embeddings), the unembedding counted even when tied (Kaplan's"
                " non-embedding N + the unembedding); of a mixture of experts only the k routed"
                " experts a token passes through (weights still hold them all)",
        "attention": attention,
        "attention_is": "2 x n_layers x n_ctx x n_heads x d_head (Kaplan et al. 2020: scores and"
                        " weighted sum over a causal token's mean n_ctx/2 keys); banded layers"
                        " use their mean window, encoders all n_ctx keys",
        "forward_per_token": 2 * n + attention,
        "training_per_token": 3 * (2 * n + attention),
    }


def costs(spec: Spec) -> dict:
    """The JSON document of `inspector count SPEC --costs` (key "costs")."""
    return {"weights": weight_bytes(spec), "kv_cache": kv_cache(spec), "flops": flops(spec)}


def human_bytes(n: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}" if n / size < 1000 else f"{n / size:,.0f} {unit}"
    return f"{n} B"


def human_flops(n: int) -> str:
    for unit, size in (("PFLOP", 10**15), ("TFLOP", 10**12), ("GFLOP", 10**9), ("MFLOP", 10**6),
                       ("kFLOP", 10**3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} FLOP"


def cost_rows(spec: Spec, document: dict | None = None) -> list[dict]:
    """The costs as table rows: cost, value, unit, approx (human units), how (the arithmetic)."""
    doc = document or costs(spec)
    f = doc["flops"]
    rows = []
    notes = (["tied counted once"] if f["tied_unembedding"] else [])
    for w in doc["weights"]:
        said = notes + (["no quantization scales"] if w["bits"] < 8 else [])
        extra = f" ({'; '.join(said)})" if said else ""
        rows.append(_row(f"weights {w['dtype']}", w["bytes"], "bytes",
                         f"{w['bits']} bits x {f['parameters']:,} parameters{extra}"))
    kv = doc["kv_cache"]
    if kv is None:
        rows.append({"cost": "KV cache", "value": None, "unit": "", "approx": "",
                     "how": "an encoder caches no keys or values"})
    else:
        per_token = next(x for x in kv["per_token"] if x["dtype"] == HEADLINE_KV)
        at_ctx = next(x for x in kv["at_n_ctx"] if x["dtype"] == HEADLINE_KV)
        rows.append(_row(f"KV cache per token {HEADLINE_KV}", per_token["bytes"], "bytes",
                         f"2 (K, V) x {kv['n_layers']} layers x {kv['n_kv_heads']} KV heads x"
                         f" {kv['d_head']} d_head x 2 bytes"))
        banded = (f"; {kv['local_layers']} banded layers keep only their window"
                  if kv["local_layers"] else f" = {per_token['bytes']:,} x {kv['n_ctx']:,}")
        rows.append(_row(f"KV cache at n_ctx {kv['n_ctx']:,} {HEADLINE_KV}", at_ctx["bytes"],
                         "bytes", f"one full context{banded}"))
    parts = [f"{f['parameters']:,} parameters"]
    if f["lookup_tables"]:
        parts.append(f"- {f['lookup_tables']:,} lookup tables")
    if f["tied_unembedding"]:
        parts.append(f"+ {f['tied_unembedding']:,} tied unembedding (a matmul every token)")
    if f["experts_skipped"]:
        parts.append(f"- {f['experts_skipped']:,} in the routed experts a token skips"
                     f" ({spec.experts_per_token} of {spec.n_experts} run; memory holds all)")
    rows.append(_row("N: parameters multiplied per token", f["n"], "parameters", " ".join(parts),
                     human=False))
    rows.append(_row("attention term per token", f["attention"], "FLOPs", _attention_how(spec)))
    rows.append(_row("forward per token", f["forward_per_token"], "FLOPs",
                     "2 x N + attention term"))
    rows.append(_row("training per token", f["training_per_token"], "FLOPs",
                     "3 x forward = 6 x N + 3 x attention term"))
    return rows


def _attention_how(spec: Spec) -> str:
    kaplan = (f"2 x {spec.n_layers} layers x {spec.n_ctx:,} n_ctx x {spec.n_heads} heads x"
              f" {spec.d_head} d_head")
    if spec.architecture != "decoder":
        return f"2 x {kaplan}: an encoder token attends to all n_ctx keys (scores + weighted sum)"
    local = sum(spec.layer_attention(i) == "local" for i in range(spec.n_layers))
    if local:
        w, heads = _span(spec, next(i for i in range(spec.n_layers)
                                    if spec.layer_attention(i) == "local")), spec.n_heads
        return (f"2 x {spec.n_layers - local} dense layers x {spec.n_ctx:,} n_ctx x {heads} heads"
                f" x {spec.d_head} d_head (Kaplan 2020) + {local} banded layers x 4 x"
                f" ({w} - {w}^2 / (2 x {spec.n_ctx:,})) mean keys x {heads} x {spec.d_head}")
    return f"{kaplan} (Kaplan 2020: scores + weighted sum)"


def _row(cost: str, value: int, unit: str, how: str, human: bool = True) -> dict:
    approx = ""
    if human:
        approx = human_flops(value) if unit == "FLOPs" else human_bytes(value)
    return {"cost": cost, "value": value, "unit": unit, "approx": approx, "how": how}
