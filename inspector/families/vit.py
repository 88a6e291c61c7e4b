"""ViT (Dosovitskiy et al. 2021) as transformers saves it (ViTModel; `vit.` inside
ViTForImageClassification). transformers 5 names the modules anew in memory (`layers.0.attention
.q_proj`) but reads and writes the hub's names, the ones below.

An image encoder with a pre-norm block and biases everywhere. Its input side, in the role
vocabulary:

- the patch projection (a Conv2d, weight [d, channels, p, p], with a bias) is what turns the input
  into d_model vectors, as a token embedding does: `embedding`;
- the [CLS] vector (`cls_token`, [1, 1, d]) is an input vector learned for the token no image
  patch gives, as BERT's [CLS] is a learned row of its word embedding: `embedding` too, not
  `position` (it is one vector, added at no position; the position table adds row 0 to it);
- `position_embeddings` ([1, patches + 1, d]) is a learned position table: `position`.
"""

from inspector.families.base import STANDARD_KEYS, Family
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
B = "encoder.layer.{i}"

VIT_LAYOUT = Layout(
    name="vit",
    prefixes=("", "vit."),
    has_lm_head=False,
    rules=(
        Rule("embeddings.cls_token", ("cls.weight",)),
        Rule("embeddings.position_embeddings", ("pos.weight",)),
        Rule("embeddings.patch_embeddings.projection.weight", ("embed.weight",)),
        Rule("embeddings.patch_embeddings.projection.bias", ("embed.bias",)),
        *(Rule(f"{B}.{stored}.{kind}", (f"{L}.{canonical}.{kind}",))
          for stored, canonical in (
              ("layernorm_before", "attn_norm"), ("attention.attention.query", "attn.query"),
              ("attention.attention.key", "attn.key"), ("attention.attention.value", "attn.value"),
              ("attention.output.dense", "attn.output"), ("layernorm_after", "mlp_norm"),
              ("intermediate.dense", "mlp.up"), ("output.dense", "mlp.down"))
          for kind in ("weight", "bias")),
        Rule("layernorm.weight", ("final_norm.weight",)),
        Rule("layernorm.bias", ("final_norm.bias",)),
        Rule("pooler.dense.weight", ("pooler.weight",)),
        Rule("pooler.dense.bias", ("pooler.bias",)),
    ),
)


def read_vit(config: dict, data: dict) -> None:
    """n_ctx is the patches of the image + 1 ([CLS]); the pooler is d_model -> d_model, tanh."""
    image, patch = data.get("image_size"), data.get("patch_size")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (image, patch)):
        raise ValueError(f"image_size and patch_size must be positive integers (a square image"
                         f" in square patches), got {image!r} and {patch!r}")
    data["n_ctx"] = (image // patch) ** 2 + 1
    pooled = config.get("pooler_output_size")
    if pooled is not None and pooled != data.get("d_model"):
        raise ValueError(f"pooler_output_size {pooled!r} differs from hidden_size; the pooler"
                         " here maps hidden_size to itself")
    if config.get("pooler_act", "tanh") != "tanh":
        raise ValueError(f"pooler_act {config['pooler_act']!r}: only tanh is built")


VIT = Family(
    name="vit", hf_class="ViTModel", layouts=(VIT_LAYOUT,),
    # (no vocabulary, and n_ctx follows from the image: patches + 1)
    config_keys={**{k: v for k, v in STANDARD_KEYS.items() if k not in ("vocab_size", "n_ctx")},
                 "norm_eps": "layer_norm_eps", "image_size": "image_size",
                 "patch_size": "patch_size", "num_channels": "num_channels"},
    # ViTConfig's defaults (vit-base-patch16-224); ViTModel adds its pooler by default.
    defaults={"d_model": 768, "n_layers": 12, "n_heads": 12, "d_ff": 3072, "norm_eps": 1e-12,
              "image_size": 224, "patch_size": 16, "num_channels": 3,
              "architecture": "encoder", "activation": "gelu", "norm": "layernorm",
              "norm_placement": "pre", "final_norm": True, "position": "learned",
              "pooler": True,
              "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True,
                         "pooler": True}},
    bias_keys={"qkv_bias": ("qkv",)}, read_config=read_vit, tie_key=None,
)

FAMILIES = (VIT,)
