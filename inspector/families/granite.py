"""IBM Granite (3.x): Llama's names and tensors, with muP-style scalars in the forward pass
(GraniteModel, GraniteForCausalLM): embeddings x embedding_multiplier, each sublayer's output x
residual_multiplier, attention scores x attention_multiplier (instead of 1/sqrt(d_head)), logits
divided by logits_scaling. No tensor changes, so counts are Llama's."""

from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, family, read_rope, write_rope

# Granite's config defaults (GraniteConfig): every scalar 1.0.
SCALARS = {"embedding_multiplier": "embedding_multiplier",
           "residual_multiplier": "residual_multiplier",
           "attention_scale": "attention_multiplier"}


def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    scaling = config.get("logits_scaling")
    if isinstance(scaling, (int, float)) and not isinstance(scaling, bool) and scaling:
        data["logit_scale"] = 1 / scaling  # the spec multiplies (Cohere's logit_scale)


def write_config(spec, config: dict) -> None:
    write_rope(spec, config)
    config["logits_scaling"] = 1 / spec.logit_scale


GRANITE = family("granite", "GraniteForCausalLM", config_keys={**CONFIG_KEYS, **SCALARS},
                 defaults={**DEFAULTS, **dict.fromkeys(SCALARS, 1.0)},
                 read_config=read_config, write_config=write_config,
                 gguf_rotary_permuted=False)

FAMILIES = (GRANITE,)
