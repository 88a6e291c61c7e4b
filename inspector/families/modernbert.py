"""ModernBERT (Warner et al. 2024) as transformers stores it (ModernBertModel; `model.` inside
ModernBertForMaskedLM, whose masked-LM head is read too when config.json's `architectures` names
it; the other task heads' classifiers are not).

An encoder with a decoder's block: pre-norm LayerNorms without biases, rotary positions, a
gated MLP (GeGLU), no bias anywhere by default. Its own ways:

- the embedding norm feeds layer 0 directly: that layer's attn_norm is an Identity (nothing
  stored), spec `first_attn_norm: false`;
- every global_attn_every_n_layers-th layer (3; layer 0 first) attends over the whole sequence,
  the others over a band of local_attention // 2 tokens on each side (`attention_pattern` dense,
  local, local; `local_window` = local_attention), with a rotary base of their own (global
  160,000, local 10,000: `rope_theta`, `local_rope_theta`);
- query, key and value are one matrix `Wqkv`, in consecutive thirds (`view(.., 3, h, d)`);
- the MLP's `Wi` holds two halves, `input, gate = Wi(x).chunk(2)`, and computes
  `Wo(act(input) * gate)`. transformers' names are the reverse of Llama's: its `input` is the
  half under the activation, which is Llama's gate_proj (`down(act(gate x) * up x)`), and its
  `gate` is the plain multiplier, Llama's up_proj. Roles follow what each half computes:
  the first half is the `gate`, the second the `up`.
"""

from inspector.families.base import STANDARD_KEYS, Family
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"

RULES = (
    Rule("embeddings.tok_embeddings.weight", ("embed.weight",)),
    Rule("embeddings.norm.weight", ("embed_norm.weight",)),
    Rule("embeddings.norm.bias", ("embed_norm.bias",)),
    *(Rule(f"{L}.{stored}.{kind}", (f"{L}.{canonical}.{kind}",))
      for stored, canonical in (("attn_norm", "attn_norm"), ("attn.Wo", "attn.output"),
                                ("mlp_norm", "mlp_norm"), ("mlp.Wo", "mlp.down"))
      for kind in ("weight", "bias")),
    *(Rule(f"{L}.attn.Wqkv.{kind}", tuple(f"{L}.attn.{part}.{kind}"
                                          for part in ("query", "key", "value")), split_axis=0)
      for kind in ("weight", "bias")),
    *(Rule(f"{L}.mlp.Wi.{kind}", (f"{L}.mlp.gate.{kind}", f"{L}.mlp.up.{kind}"), split_axis=0)
      for kind in ("weight", "bias")),
    Rule("final_norm.weight", ("final_norm.weight",)),
    Rule("final_norm.bias", ("final_norm.bias",)),
)

# ModernBertForMaskedLM's head (the encoder under `model.`): head.norm(act(head.dense(x))),
# then `decoder`, tied to the token embedding (not saved) with a bias of its own.
HEAD_RULES = (
    Rule("head.dense.weight", ("mlm_transform.weight",)),
    Rule("head.dense.bias", ("mlm_transform.bias",)),
    Rule("head.norm.weight", ("mlm_norm.weight",)),
    Rule("head.norm.bias", ("mlm_norm.bias",)),
    Rule("decoder.weight", ("unembed.weight",)),
    Rule("decoder.bias", ("unembed.bias",)),
)

MODERNBERT_LAYOUT = Layout(name="modernbert", prefixes=("", "model."), has_lm_head=False,
                           rules=RULES + HEAD_RULES)

MASKED_LM = "ModernBertForMaskedLM"

# transformers' layer_types names -> the spec's attention_pattern entries.
LAYER_KINDS = {"full_attention": "dense", "sliding_attention": "local"}
GLOBAL_EVERY = 3  # ModernBertConfig's global_attn_every_n_layers
ROPE_KEYS = {"rope_theta": ("full_attention", "global_rope_theta"),
             "local_rope_theta": ("sliding_attention", "local_rope_theta")}


def read_modernbert(config: dict, data: dict) -> None:
    """The layer pattern and the two rotary bases: transformers 5 writes `layer_types` and
    `rope_parameters`; the hub's configs (transformers 4) `global_attn_every_n_layers` and
    `global_rope_theta` / `local_rope_theta`."""
    types = config.get("layer_types")
    if isinstance(types, list):
        if not all(kind in LAYER_KINDS for kind in types):
            raise ValueError(f"layer_types must be full_attention or sliding_attention, got"
                             f" {types!r}")
        data["attention_pattern"] = [LAYER_KINDS[kind] for kind in types]
    else:  # as ModernBertConfig spells it out: one entry per layer
        every = config.get("global_attn_every_n_layers", GLOBAL_EVERY)
        if not isinstance(every, int) or isinstance(every, bool) or every <= 0:
            raise ValueError(f"global_attn_every_n_layers must be a positive integer, got"
                             f" {every!r}")
        n_layers = data["n_layers"] if isinstance(data["n_layers"], int) else every
        data["attention_pattern"] = ["local" if i % every else "dense" for i in range(n_layers)]
    _read_head(config, data)
    rope = config.get("rope_parameters")
    for key, (layer_type, old_key) in ROPE_KEYS.items():
        theta = (rope.get(layer_type) or {}).get("rope_theta") if isinstance(rope, dict) \
            else config.get(old_key)
        if theta is not None:
            data[key] = theta


def _read_head(config: dict, data: dict) -> None:
    """The masked-LM head when config.json's `architectures` names ModernBertForMaskedLM. Its
    decoder always has a bias here, and its activation is the block's."""
    architectures = config.get("architectures")
    if not isinstance(architectures, list) or MASKED_LM not in architectures:
        return
    data["mlm_head"] = True
    if config.get("decoder_bias") is False:
        raise ValueError("decoder_bias false: a masked-LM decoder without a bias is not built")
    act = config.get("classifier_activation", "gelu")
    if act != config.get("hidden_activation", "gelu"):
        raise ValueError(f"classifier_activation {act!r} differs from hidden_activation: the"
                         " masked-LM head here uses the block's activation")


def write_modernbert(spec, config: dict) -> None:
    if spec.mlm_head:
        config["architectures"] = [MASKED_LM]
    names = {ours: theirs for theirs, ours in LAYER_KINDS.items()}
    config["layer_types"] = [names[spec.layer_attention(i)] for i in range(spec.n_layers)]
    config["rope_parameters"] = {
        layer_type: {"rope_type": "default", "rope_theta": getattr(spec, key) or spec.rope_theta}
        for key, (layer_type, _) in ROPE_KEYS.items()}


MODERNBERT = Family(
    name="modernbert", hf_class="ModernBertModel", layouts=(MODERNBERT_LAYOUT,),
    config_keys={**STANDARD_KEYS, "norm_eps": "norm_eps", "local_window": "local_attention"},
    # ModernBertConfig's defaults (ModernBERT-base).
    defaults={"vocab_size": 50368, "n_ctx": 8192, "d_model": 768, "n_layers": 22,
              "n_heads": 12, "d_ff": 1152, "norm_eps": 1e-5, "architecture": "encoder",
              "activation": "gelu", "gated_mlp": True, "norm": "layernorm",
              "norm_placement": "pre", "embedding_norm": True, "first_attn_norm": False,
              "final_norm": True, "position": "rotary", "rope_theta": 160000.0,
              "local_rope_theta": 10000.0, "local_window": 128, "tied_embeddings": True,
              "biases": False},
    activation_key="hidden_activation",
    bias_keys={"attention_bias": ("qkv", "attn_output"), "mlp_bias": ("mlp",),
               "norm_bias": ("norm",), "classifier_bias": ("head",)},
    read_config=read_modernbert, write_config=write_modernbert,
)

FAMILIES = (MODERNBERT,)
