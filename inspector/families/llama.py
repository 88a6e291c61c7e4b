"""Llama as transformers and the hub store it, Mistral, and the multimodal models whose language
model is a Llama. The names, keys and block they share with the families that kept them are in
families.helpers.

llama.cpp's GGUF names come from the `gguf` package (families.gguf_names); its converter reorders
the rows of attn_q and attn_k within each head for its rotary kernel (interleaved pairs instead of
halves), which `rotary_permuted` undoes when values are loaded.
"""

from inspector.families.base import (
    LANGUAGE_MODEL,
    PROJECTOR,
    VISION,
    ComponentPrefix,
    Composite,
    text_parts,
    tower_parts,
)
from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, family, read_rope, write_rope
from inspector.families.vision import CLIP_VISION


def read_mistral(config: dict, data: dict) -> None:
    """sliding_window (the key table's local_window): every layer attends over that many
    tokens; null (v0.2 on) means every layer dense."""
    read_rope(config, data)
    if "sliding_window" in config and config["sliding_window"] is None:
        data["local_window"] = None
    data["attention_pattern"] = ["local"] if data.get("local_window") is not None else ["dense"]


def write_mistral(spec, config: dict) -> None:
    """Only "every layer local" has a key (any other pattern is written dense, with a note)."""
    write_rope(spec, config)
    config["sliding_window"] = spec.local_window if spec.attention_pattern == ("local",) else None


LLAMA = family("llama", "LlamaForCausalLM")
# llama.cpp converts Mistral as a Llama (general.architecture "llama"). MistralConfig's default
# sliding_window is 4096 (Mistral 7B v0.1's).
MISTRAL = family("mistral", "MistralForCausalLM", bias_keys={}, gguf_arch=None,
                 config_keys={**CONFIG_KEYS, "local_window": "sliding_window"},
                 defaults={**DEFAULTS, "n_ctx": 131072, "d_ff": 14336, "n_kv_heads": 8,
                           "attention_pattern": ["local"], "local_window": 4096},
                 read_config=read_mistral, write_config=write_mistral)

FAMILIES = (LLAMA, MISTRAL)

# Multimodal models whose language model is a Llama (stored names: transformers 5.24's
# save_pretrained of LlavaForConditionalGeneration, Idefics3ForConditionalGeneration and
# SmolVLMForConditionalGeneration).
LLAVA = Composite("llava", "llama",
                  tower_parts("vision_tower", "multi_modal_projector", CLIP_VISION))
# Idefics 3 and SmolVLM: a SigLIP `vision_model`, a pixel-shuffle `connector`, a `text_model`.
IDEFICS3_PARTS = (*text_parts("model.text_model.",
                              ComponentPrefix("model.vision_model.", VISION),
                              ComponentPrefix("model.connector.", PROJECTOR)),
                  ComponentPrefix("lm_head.", LANGUAGE_MODEL, "lm_head."))
COMPOSITES = (LLAVA, Composite("idefics3", "llama", IDEFICS3_PARTS),
              Composite("smolvlm", "llama", IDEFICS3_PARTS))
