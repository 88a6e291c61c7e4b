"""What a spec costs to hold and to run, from its integers alone (no torch): weight bytes per
dtype, KV-cache bytes per token and at the full context, forward and training FLOPs per token.

The conventions, stated once here and repeated in every row's `how`:

- Weights: every stored parameter once (a tied unembedding is the embedding's storage), times the
  dtype's width. int4 is 4 bits a value and nothing else: real 4-bit formats add scales
  (GGUF Q4_0 is 4.5 bits a weight, Q4_1 5).
- KV cache: per token 2 (K and V) x n_layers x n_kv_heads x d_head x bytes. Grouped-query
  attention caches n_kv_heads heads, not n_heads (multi-query one). At the full context a locally
  banded layer keeps only its window of tokens. Multi-head latent attention caches the compressed
  latent and the shared rotary key, (kv_lora_rank + qk_rope_head_dim) x n_layers values
  (DeepSeek-V2, arXiv:2405.04434, Table 1), as transformers 5 does; beside it the up-projected
  keys and values, n_heads x (qk_nope + qk_rope + v_head_dim) x n_layers, that an engine without
  a latent cache holds. An encoder-decoder's decoder also caches the keys and values of the
  input in each layer (cross-attention). An encoder caches nothing.
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
from inspector.spec.schema import Spec
from inspector.vocab.roles import Role
from inspector.vocab.tables import active_total, total

# (name, bits per value). fp16 and bf16 share a width, so one row serves both.
WEIGHT_DTYPES = (("fp32", 32), ("fp16/bf16", 16), ("int8", 8), ("int4", 4))
KV_DTYPES = (("fp32", 32), ("fp16/bf16", 16), ("int8", 8))
HEADLINE_KV = "fp16/bf16"  # what inference servers cache by default

LOOKUP_ROLES = (Role.EMBEDDING, Role.POSITION, Role.TOKEN_TYPE)


def whole_bytes(values: int, bits: int) -> int:
    return -(-values * bits // 8)  # whole bytes, rounded up


def weight_bytes(spec: Spec) -> list[dict]:
    n = total(spec_rows(spec))
    return [{"dtype": name, "bits": bits, "bytes": whole_bytes(n, bits)}
            for name, bits in WEIGHT_DTYPES]


def _span(spec: Spec, layer: int) -> int:
    """Tokens a layer attends over: the whole context, or a banded layer's window."""
    if spec.layer_attention(layer) == "local":
        return min(spec.n_ctx, spec.local_window)
    return spec.n_ctx


def _attending(spec: Spec) -> list[int]:
    """The layers with attention (all, but for the transformers path's mixers)."""
    return [i for i in range(spec.n_layers) if spec.attends(i)]


def _caching(spec: Spec) -> list[int]:
    """The attending layers that cache their own keys and values (not another layer's)."""
    shared = getattr(spec, "kv_shared_layers", frozenset())
    return [i for i in _attending(spec) if i not in shared]


def _head_sharing(spec: Spec) -> str:
    if spec.n_kv_heads == spec.n_heads:
        return "full"
    return "multi-query" if spec.n_kv_heads == 1 else "grouped-query"


def cache_kinds(spec: Spec) -> list[dict]:
    """What each kind of layer caches: `values_per_token` values each of its `layers` adds for a
    token, kept for at most `window` tokens (None: all of them), and `state_values` held per
    sequence whatever its length. Kinds: full, grouped-query and multi-query attention (K and V
    of each KV head), sliding window (the same, up to its window), latent (multi-head latent
    attention: the compressed latent and the one shared rotary key, DeepSeek-V2), cross-attention
    (an encoder-decoder's keys and values of the input, per input token). A layer that reads
    another layer's cache adds 0 values, a state-space, linear-attention or short-convolution
    layer only state_values (inspector.spec.state, for the configs the transformers path reads).
    An encoder caches nothing."""
    if spec.architecture == "encoder":
        return []
    shared = len(getattr(spec, "kv_shared_layers", ()))  # (Gemma 3n's build no keys of their own)
    return _growing_kinds(spec) + ([_kind("shared (reads another layer's cache)", shared, 0, None)]
                                   if shared else []) + list(getattr(spec, "state_kinds", ()))


def _growing_kinds(spec: Spec) -> list[dict]:
    """The kinds whose cache grows with the context (attention's keys and values)."""
    if not _attending(spec):
        return []
    if spec.kv_lora_rank:
        return [{"kind": "latent", "layers": len(_caching(spec)), "window": None,
                 "state_values": 0,
                 "values_per_token": spec.kv_lora_rank + spec.qk_rope_head_dim,
                 "uncompressed_values_per_token": spec.n_heads * (
                     spec.qk_nope_head_dim + spec.qk_rope_head_dim + spec.v_head_dim)}]
    per_layer = 2 * spec.n_kv_heads * spec.d_head  # K and V, every KV head
    if spec.architecture == "encoder-decoder":  # the decoder's self- and cross-attention
        n = spec.n_decoder_layers or spec.n_layers
        return [_kind(_head_sharing(spec), n, per_layer, None),
                _kind("cross-attention", n, per_layer, None)]
    kinds = []
    for sort, window in ((_head_sharing(spec), None), ("sliding window", spec.local_window)):
        local = sort == "sliding window"
        n = sum((spec.layer_attention(i) == "local") == local for i in _caching(spec))
        if n:
            kinds.append(_kind(sort, n, per_layer, window if local else None))
    return kinds


def _kind(kind: str, layers: int, values_per_token: int, window: int | None) -> dict:
    return {"kind": kind, "layers": layers, "values_per_token": values_per_token,
            "window": window, "state_values": 0}


def cached_values(kinds: list[dict], context: int, uncompressed: bool = False) -> int:
    """Values the growing caches hold for one sequence of `context` tokens (a window kind only
    its window); `uncompressed`: a latent layer's up-projected keys and values instead."""
    return sum(k["layers"] * k.get("uncompressed_values_per_token" if uncompressed else
                                   "values_per_token", k["values_per_token"])
               * min(context, k["window"] or context) for k in kinds)


def state_values(kinds: list[dict]) -> int:
    """Values held per sequence whatever its length (state-space and linear-attention layers)."""
    return sum(k["layers"] * k["state_values"] for k in kinds)


def kv_cache(spec: Spec) -> dict | None:
    """Bytes of keys and values cached per token and at the full context; None for an encoder."""
    kinds = cache_kinds(spec)
    if not kinds:
        return None
    per_token = cached_values(kinds, 1)
    doc = {
        "n_layers": spec.n_layers, "n_kv_heads": spec.n_kv_heads, "d_head": spec.d_head,
        "n_ctx": spec.n_ctx,
        "values_per_token": per_token,
        "per_token": _by_kv_dtype(per_token),
        "at_n_ctx": _by_kv_dtype(cached_values(kinds, spec.n_ctx)),
        "local_layers": sum(k["layers"] for k in kinds if k["window"]),
        "kinds": kinds,
        "state_per_sequence": _by_kv_dtype(state_values(kinds)),
    }
    if spec.kv_lora_rank:  # what an engine caching up-projected keys and values holds
        doc["uncompressed_per_token"] = _by_kv_dtype(cached_values(kinds, 1, uncompressed=True))
        doc["uncompressed_at_n_ctx"] = _by_kv_dtype(cached_values(kinds, spec.n_ctx, True))
    return doc


def _by_kv_dtype(values: int) -> list[dict]:
    return [{"dtype": name, "bytes": whole_bytes(values, bits)} for name, bits in KV_DTYPES]


def _attention_flops(spec: Spec, layer: int) -> Fraction:
    """Scores plus weighted sum for one token in one layer: 4 x (mean keys attended) x d_attn."""
    n, width = spec.n_ctx, spec.attn_width
    if not spec.attends(layer) or n <= 0:  # (a state-space layer; a context not said)
        return Fraction(0)
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
    rows += _kv_rows(spec, doc["kv_cache"])
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


def _kv_rows(spec: Spec, kv: dict | None) -> list[dict]:
    """The cache's rows: per token and at n_ctx, each saying how; for latent attention also the
    up-projected figure; a fixed state per sequence where layers hold one."""
    if kv is None:
        return [{"cost": "KV cache", "value": None, "unit": "", "approx": "",
                 "how": "an encoder caches no keys or values" if spec.architecture == "encoder"
                 else "no layer attends: no keys or values are cached"}]
    growing = [k for k in kv["kinds"] if k["values_per_token"]]
    if not growing:
        return [{"cost": "KV cache", "value": None, "unit": "", "approx": "",
                 "how": "no layer attends: no keys or values are cached"}] + _state_rows(kv)
    rows = []
    per_token = _headline(kv["per_token"])
    parts = [_kind_how(spec, k) for k in growing]
    summed = parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"
    shared = sum(k["layers"] for k in kv["kinds"] if k["kind"].startswith("shared"))
    note = f"; {shared} layers read another layer's cache and add none" if shared else ""
    rows.append(_row(f"KV cache per token {HEADLINE_KV}", per_token, "bytes",
                     f"{summed} x 2 bytes{note}{_LATENT_SOURCE if spec.kv_lora_rank else ''}"))
    if "uncompressed_per_token" in kv:
        rows.append(_row(f"KV cache per token up-projected {HEADLINE_KV}",
                         _headline(kv["uncompressed_per_token"]), "bytes",
                         f"({spec.qk_nope_head_dim} qk_nope + {spec.qk_rope_head_dim} qk_rope +"
                         f" {spec.v_head_dim} v_head_dim) x {spec.n_heads} heads x"
                         f" {spec.n_layers} layers x 2 bytes: an engine that caches keys and"
                         " values brought up from the latent instead of the latent"))
    both = " of input and one of output" if spec.architecture == "encoder-decoder" else ""
    banded = (f"; {kv['local_layers']} banded layers keep only their window"
              if kv["local_layers"] else f" = {per_token:,} x {kv['n_ctx']:,}")
    rows.append(_row(f"KV cache at n_ctx {kv['n_ctx']:,} {HEADLINE_KV}",
                     _headline(kv["at_n_ctx"]), "bytes", f"one full context{both}{banded}"))
    return rows + _state_rows(kv)


def _state_rows(kv: dict) -> list[dict]:
    """One row per kind of layer holding a fixed state, and their sum where there are two."""
    rows = []
    bits = dict(KV_DTYPES)[HEADLINE_KV]
    kinds = [k for k in kv["kinds"] if k["state_values"]]
    for k in kinds:
        rows.append(_row(f"fixed state per sequence {k['kind']} {HEADLINE_KV}",
                         whole_bytes(k["layers"] * k["state_values"], bits), "bytes",
                         f"({k['how']}) x {k['layers']} layers x {bits // 8} bytes: the same at"
                         " any context"))
    if len(kinds) > 1:
        rows.append(_row(f"fixed state per sequence {HEADLINE_KV}",
                         _headline(kv["state_per_sequence"]), "bytes",
                         " + ".join(k["kind"] for k in kinds)))
    return rows


def _headline(entries: list[dict]) -> int:
    return next(x["bytes"] for x in entries if x["dtype"] == HEADLINE_KV)


def _kind_how(spec: Spec, kind: dict) -> str:
    """How one kind's values a token come about, in the spec's own numbers."""
    layers = f"{kind['layers']} layers"
    if kind["kind"] == "latent":
        return (f"({spec.kv_lora_rank} kv_lora_rank + {spec.qk_rope_head_dim} qk_rope_head_dim)"
                f" x {layers}")
    how = f"2 (K, V) x {layers} x {spec.n_kv_heads} KV heads x {spec.d_head} d_head"
    said = {"full": "", "sliding window": f", up to its window of {kind['window'] or 0:,} tokens",
            "cross-attention": ", per input token"}.get(kind["kind"], "")
    return f"{how} ({kind['kind']}{said})" if kind["kind"] != "full" else how


_LATENT_SOURCE = ("; latent attention caches the compressed latent and the one shared rotary key"
                  " (DeepSeek-V2, arXiv:2405.04434, Table 1)")


def _attention_how(spec: Spec) -> str:
    kaplan = (f"2 x {len(_attending(spec))} layers x {spec.n_ctx:,} n_ctx x {spec.n_heads}"
              f" heads x {spec.d_head} d_head")
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
