"""Qwen 2 and Qwen 3: Llama's names and block, with two changes.

Qwen 2 gives the query, key and value projections a bias (not the output projection), fixed in
Qwen2Attention rather than switched by a config key. Qwen 3 drops those biases and normalises
each head's queries and keys (RMSNorm over d_head, before rotary: `q_norm`, `k_norm`).
llama.cpp stores both as transformers does (no rotary reordering: only its Llama converter
permutes).
"""

from inspector.families.base import PROJECTOR, VISION, ComponentPrefix, Composite, text_parts
from inspector.families.helpers import DEFAULTS, family
from inspector.families.vision import QWEN2_VL_VISION

# The config classes' defaults where config.json is silent: their sizes, 32 key/value heads
# (Qwen 2 and 3), head_dim 128 (Qwen 3).
SIZES = {"vocab_size": 151936, "n_ctx": 32768, "d_ff": 22016}
QWEN2 = family("qwen2", "Qwen2ForCausalLM", bias_keys={},
               defaults={**DEFAULTS, **SIZES, "biases": {"qkv": True}, "n_kv_heads": 32},
               gguf_rotary_permuted=False)
QWEN3 = family("qwen3", "Qwen3ForCausalLM",
               defaults={**DEFAULTS, **SIZES, "qk_norm": "head", "n_kv_heads": 32,
                         "d_head": 128},
               bias_keys={"attention_bias": ("qkv", "attn_output")}, gguf_rotary_permuted=False)

FAMILIES = (QWEN2, QWEN3)

# Qwen2-VL and Qwen2.5-VL: a `visual` tower whose `merger` projects into a Qwen 2 language model
# (save_pretrained writes `visual.*`, `model.*`, `lm_head`; transformers' own names put both
# under `model.`: `model.visual.*`, `model.language_model.*`).
QWEN2_VL_PARTS = (ComponentPrefix("visual.merger.", PROJECTOR),
                  ComponentPrefix("visual.", VISION, layout=QWEN2_VL_VISION),
                  *text_parts("model.language_model.",
                              ComponentPrefix("model.visual.merger.", PROJECTOR),
                              ComponentPrefix("model.visual.", VISION, layout=QWEN2_VL_VISION)),
                  *text_parts(""))
COMPOSITES = (Composite("qwen2_vl", "qwen2", QWEN2_VL_PARTS),
              Composite("qwen2_5_vl", "qwen2", QWEN2_VL_PARTS))
