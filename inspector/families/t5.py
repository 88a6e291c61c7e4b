"""T5 as transformers and the hub store it (T5ForConditionalGeneration; T5Model and
T5EncoderModel keep the same names).

An encoder-decoder: one token table `shared` for both stacks (and the unembedding when tied),
`encoder.block.{i}` (self-attention, MLP), `decoder.block.{i}` (causal self-attention,
cross-attention `EncDecAttention` to the encoder's output, MLP), numbered after the encoder's
blocks in canonical names. Pre-norm with T5LayerNorm (RMSNorm: no mean, no bias), no biases
anywhere, scores not scaled by 1/sqrt(d_head), and a relative position bias table
[num_buckets, n_heads] in the first block of each stack only. T5 v1.0 uses a ReLU MLP (`wi`);
v1.1 and Flan-T5 a gated GELU (`wi_0` through the activation, times `wi_1`).
"""

from inspector.families.base import Family
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
E = "encoder.block.{i}.layer"
D = "decoder.block.{i}.layer"

# The names of one sublayer of a block, stored -> canonical (under `layers.{i}.`).
SELF_ATTENTION = (("0.layer_norm", "attn_norm"), ("0.SelfAttention.q", "attn.query"),
                  ("0.SelfAttention.k", "attn.key"), ("0.SelfAttention.v", "attn.value"),
                  ("0.SelfAttention.o", "attn.output"),
                  ("0.SelfAttention.relative_attention_bias", "attn.rel_bias"))  # block 0 only
CROSS_ATTENTION = (("1.layer_norm", "cross_attn_norm"), ("1.EncDecAttention.q", "cross_attn.query"),
                   ("1.EncDecAttention.k", "cross_attn.key"),
                   ("1.EncDecAttention.v", "cross_attn.value"),
                   ("1.EncDecAttention.o", "cross_attn.output"))


def mlp(sublayer: int) -> tuple[tuple[str, str], ...]:
    """The MLP sublayer (1 in an encoder block, 2 in a decoder block): ReLU `wi`, or gated
    `wi_0` (through the activation) times `wi_1`."""
    return ((f"{sublayer}.layer_norm", "mlp_norm"), (f"{sublayer}.DenseReluDense.wi", "mlp.up"),
            (f"{sublayer}.DenseReluDense.wi_0", "mlp.gate"),
            (f"{sublayer}.DenseReluDense.wi_1", "mlp.up"),
            (f"{sublayer}.DenseReluDense.wo", "mlp.down"))


def stack(prefix: str, names: tuple[tuple[str, str], ...], decoder: bool) -> tuple[Rule, ...]:
    return tuple(Rule(f"{prefix}.{stored}.weight", (f"{L}.{canonical}.weight",),
                      after_encoder=decoder) for stored, canonical in names)


T5_LAYOUT = Layout(
    name="t5",
    rules=(
        Rule("shared.weight", ("embed.weight",)),
        # Each stack's own reference to `shared` (tied: transformers writes neither today; a
        # torch .bin of old saved all three names over one storage): the one table seen again.
        Rule("encoder.embed_tokens.weight", what="tied copy of shared.weight"),
        Rule("decoder.embed_tokens.weight", what="tied copy of shared.weight"),
        *stack(E, SELF_ATTENTION + mlp(1), decoder=False),
        Rule("encoder.final_layer_norm.weight", ("encoder_norm.weight",)),
        *stack(D, SELF_ATTENTION + CROSS_ATTENTION + mlp(2), decoder=True),
        # Old exports stored a relative bias for cross-attention that no forward reads;
        # transformers drops it on loading (_keys_to_ignore_on_load_unexpected).
        Rule("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight",
             what="unused cross-attention bias"),
        Rule("decoder.final_layer_norm.weight", ("final_norm.weight",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)



def _without(*modules: str) -> Layout:
    """T5's layout less the named MLP modules: `build --out` writes one MLP kind, and `wi` and
    `wi_1` both hold mlp.up."""
    names = tuple(f".DenseReluDense.{module}.weight" for module in modules)
    return Layout(name=T5_LAYOUT.name, rules=tuple(rule for rule in T5_LAYOUT.rules
                                                   if not rule.pattern.endswith(names)))


WRITTEN = {True: _without("wi"), False: _without("wi_0", "wi_1")}  # by gated_mlp

CONFIG_KEYS = {
    "vocab_size": "vocab_size",
    "n_ctx": "n_positions",  # older config.json files only; relative positions have no table
    "d_model": "d_model",
    "n_layers": "num_layers",
    "n_decoder_layers": "num_decoder_layers",
    "n_heads": "num_heads",
    "d_head": "d_kv",  # independent of d_model / num_heads (T5 11B: 128 heads of 128, d 1024)
    "d_ff": "d_ff",
    "norm_eps": "layer_norm_epsilon",
    "relative_buckets": "relative_attention_num_buckets",
    "relative_max_distance": "relative_attention_max_distance",
}

# T5Config's defaults (t5-small). n_ctx: 512, the length T5 was trained at (Raffel et al.
# 2020); it sizes no tensor. T5 does not scale its scores (T5Attention.scaling = 1.0: the
# 1/sqrt(d_head) is folded into the initialisation of the queries).
DEFAULTS = {"vocab_size": 32128, "n_ctx": 512, "d_model": 512, "d_head": 64, "d_ff": 2048,
            "n_layers": 6, "n_heads": 8, "norm_eps": 1e-6,
            "architecture": "encoder-decoder", "activation": "relu", "gated_mlp": False,
            "norm": "rmsnorm", "norm_placement": "pre", "position": "relative",
            "attention_scale": 1.0, "tied_embeddings": True, "biases": False}


def read_block(config: dict, data: dict, default_proj: str, encoder_class: str) -> bool:
    """feed_forward_proj ("relu", "gated-gelu", ...) -> activation and gating, as T5Config
    reads it ("gated-gelu" is gelu_new); the encoder class's config (T5EncoderModel: `shared`
    and encoder.* only) an encoder. Whether it is that encoder."""
    from inspector.vocab.words import ACTIVATIONS

    proj = config.get("feed_forward_proj", default_proj)
    if not isinstance(proj, str) or len(proj.split("-")) > 2 \
            or ("-" in proj and not proj.startswith("gated-")):
        raise ValueError(f"feed_forward_proj {proj!r} is not relu, gated-gelu or gated-ACT")
    act = proj.split("-")[-1]
    data["gated_mlp"] = proj.startswith("gated-")
    data["activation"] = "gelu_tanh" if proj == "gated-gelu" else ACTIVATIONS.get(act, act)
    if config.get("architectures") != [encoder_class]:
        return False
    data["architecture"] = "encoder"
    data.pop("n_decoder_layers", None)
    return True


def read_t5(config: dict, data: dict) -> None:
    """The block (read_block), and the decoder's output scaled by d_model^-0.5 before the
    unembedding when the config says so (scale_decoder_outputs, written by transformers >= 5;
    before it, whenever tie_word_embeddings was not false: T5 v1.0)."""
    if read_block(config, data, "relu", "T5EncoderModel"):
        return
    scale = config.get("scale_decoder_outputs")
    if scale is None:
        scale = config.get("tie_word_embeddings") is not False
    d_model = data.get("d_model")
    if scale and isinstance(d_model, int) and not isinstance(d_model, bool) and d_model > 0:
        data["logit_scale"] = d_model ** -0.5


def write_block(spec, config: dict, encoder_class: str) -> None:
    from inspector.vocab.words import HF_ACTIVATIONS

    act = "gelu" if spec.gated_mlp and spec.activation == "gelu_tanh" \
        else HF_ACTIVATIONS[spec.activation]
    config["feed_forward_proj"] = f"gated-{act}" if spec.gated_mlp else act
    if spec.architecture == "encoder":
        config["architectures"] = [encoder_class]
        del config["num_decoder_layers"]  # (0: an encoder has no decoder stack)


def write_t5(spec, config: dict) -> None:
    write_block(spec, config, "T5EncoderModel")
    config["scale_decoder_outputs"] = spec.logit_scale != 1.0


def written(spec) -> Layout:
    return WRITTEN[spec.gated_mlp]


T5 = Family(
    name="t5", hf_class="T5ForConditionalGeneration", layouts=(T5_LAYOUT,),
    config_keys=CONFIG_KEYS, defaults=DEFAULTS, activation_key=None,
    read_config=read_t5, write_config=write_t5, writes=written, tie_from_files=True,
    encoder_only_norm="encoder_norm",
)


def read_mt5(config: dict, data: dict) -> None:
    read_block(config, data, "gated-gelu", "MT5EncoderModel")


def write_mt5(spec, config: dict) -> None:
    write_block(spec, config, "MT5EncoderModel")


# mT5 (Xue et al. 2021): T5 v1.1's block and names, a 250,112-token vocabulary; MT5Config's
# defaults (mt5-small). Its decoder's output is never scaled.
MT5 = Family(
    name="mt5", hf_class="MT5ForConditionalGeneration", layouts=(T5_LAYOUT,),
    config_keys=CONFIG_KEYS, activation_key=None, writes=written,
    defaults={**DEFAULTS, "vocab_size": 250112, "d_ff": 1024, "n_layers": 8, "n_heads": 6,
              "activation": "gelu_tanh", "gated_mlp": True},
    read_config=read_mt5, write_config=write_mt5, tie_from_files=True,
    encoder_only_norm="encoder_norm",
)

FAMILIES = (T5, MT5)
