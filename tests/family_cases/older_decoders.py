"""GPT-BigCode, GPT-NeoX, GPT-J, Falcon, OPT, BLOOM and StarCoder 2: decoders with fused
multi-query or per-head qkv, parallel blocks, partial or interleaved rotary, ALiBi, offset
positions. Roles written from transformers' modeling code (modeling_<model_type>.py)."""

from family_cases import FamilyCase
from family_cases.base_families import GPT2_ROLES

# GPT-2's names under nn.Linear storage; c_attn is (query heads, one key head, one value head).
BIGCODE_CONFIG = {"vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 16}

CASES = (
    FamilyCase("gpt_bigcode", BIGCODE_CONFIG, GPT2_ROLES, tied=True, changed={"n_inner": 40}),
    FamilyCase("gpt_bigcode", {**BIGCODE_CONFIG, "multi_query": False}, GPT2_ROLES, tied=True,
               changed={"multi_query": True}),
)
