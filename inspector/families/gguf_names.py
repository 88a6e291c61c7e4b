"""llama.cpp's tensor names for a family, taken from the `gguf` package's own name map.

`gguf.get_tensor_name_map(arch, n_blocks)` is the table llama.cpp's converter uses to rename every
Hugging Face tensor; running each rule of a family's hub layout through it gives the GGUF layout,
so no GGUF name is written here. GGUF stores every matrix in PyTorch's (out, in) order once its
reader has reversed the dims (the converter transposes GPT-2's Conv1D weights), so a GGUF rule
is never transposed, and a fused tensor splits on its rows into consecutive query, key and value
blocks: the converter regroups per-head layouts (GPT-NeoX, BLOOM, Falcon 40B) that way.

A mixture of experts' hub checkpoint stores one tensor per expert (`experts.{e}.gate_proj`); the
converter stacks a layer's into one tensor [E, out, in] under the name the map gives the merged
Hugging Face name (`experts.gate_proj` -> `ffn_gate_exps`), so such a rule becomes an `experts`
rule, axis 0 the expert. transformers 5's fused `experts.gate_up_proj` the converter splits into
the same gate and up tensors: the per-expert rules already name them.
"""

from __future__ import annotations

from dataclasses import replace

from inspector.families.base import Family
from inspector.vocab.canonical import parse
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.roles import Role

# Stand-in layer number while names go through the map (any block index the map covers).
PROBE = 7


def gguf_layout(family: Family, layout_name: str) -> Layout:
    import gguf

    arch = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == family.gguf_arch), None)
    if arch is None:
        raise ValueError(f"family {family.name}: gguf has no architecture {family.gguf_arch!r}")
    names = gguf.get_tensor_name_map(arch, PROBE + 1)
    rules: dict[str, Rule] = {}
    for rule in family.hub_layout.rules:
        stored = _gguf_name(names, family.hub_layout, rule.pattern)
        if stored is not None and rule.experts and not stored.endswith((".weight", ".bias")):
            stored += ".weight"  # transformers 5's `experts.down_proj`: the converter adds it
        if stored is None or stored in rules:
            continue
        rules[stored] = _gguf_rule(family, rule, stored)
    # Rotary scaling factors the converter writes as tensors: Llama 3.1's, Phi-3's longrope.
    for factors in ("rope_freqs", "rope_factors_long", "rope_factors_short"):
        rules.setdefault(f"{factors}.weight", Rule(f"{factors}.weight", what="rotary-frequency"))
    return Layout(name=layout_name, rules=tuple(rules.values()), family=family.name)


def _gguf_name(names, layout: Layout, pattern: str) -> str | None:
    pattern = pattern.replace(".{e}.", ".")  # one expert's tensor: the stacked one's name
    hub = layout.prefixes[-1] + pattern.replace("{i}", str(PROBE))
    for candidate in (hub, pattern.replace("{i}", str(PROBE))):
        found = names.get_name(candidate, try_suffixes=(".weight", ".bias"))
        if found is not None:
            return found.replace(f".{PROBE}.", ".{i}.")
    return None


def _gguf_rule(family: Family, rule: Rule, stored: str) -> Rule:
    if rule.is_buffer:
        return replace(rule, pattern=stored)
    split_axis = rule.split_axis
    if rule.transposed and split_axis is not None:
        split_axis = 1 - split_axis  # the converter wrote it (out, in)
    permuted = family.gguf_rotary_permuted and any(
        t.endswith(("attn.query.weight", "attn.key.weight")) for t in rule.targets)
    gain = all(parse(t.replace("{i}", "0"))[::2] == (Role.NORM, "weight") for t in rule.targets)
    offset = family.gguf_norm_offset if gain else 0.0  # a norm's weight, never its bias
    return replace(rule, pattern=stored, transposed=False, split_axis=split_axis,
                   rotary_permuted=permuted, head_interleaved=False, value_offset=offset,
                   experts=rule.experts or "{e}" in rule.pattern)


# llama.cpp's architecture name -> transformers' model_type, where they differ other than by
# "-" for "_" (a GGUF whose architecture no family module has is read by the transformers path).
GGUF_MODEL_TYPES = {
    "qwen3next": "qwen3_next", "qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe",
    "gptneox": "gpt_neox", "command-r": "cohere", "deepseek2": "deepseek_v2",
    "granitehybrid": "granitemoehybrid", "lfm2moe": "lfm2_moe", "ernie4_5-moe": "ernie4_5_moe",
    "hunyuan-moe": "hunyuan_v1_moe", "hunyuan-dense": "hunyuan_v1_dense", "phimoe": "phimoe",
}


def model_type_of_gguf_arch(arch: str) -> str:
    """transformers' model_type of llama.cpp's architecture `arch` (its own name as a guess)."""
    return GGUF_MODEL_TYPES.get(arch, arch.replace("-", "_"))


def described_by_gguf_name(arch_name: object, described: dict[str, dict]) -> dict[str, dict]:
    """llama.cpp's name of each tensor the transformers path describes (by its Hugging Face
    name) -> its description, through gguf's own name map in reverse. The converter stacks a
    layer's experts into one tensor [E, out, in] named for the merged Hugging Face name
    (`experts.gate_proj` -> `ffn_gate_exps`): that tensor is described as every expert's
    (expert -1, axis 0 the expert), as the transformers path describes a stacked one."""
    import re

    import gguf

    arch = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch_name), None)
    if arch is None:
        return {}
    layers = [t["layer"] for t in described.values() if isinstance(t.get("layer"), int)]
    names = gguf.get_tensor_name_map(arch, max(layers, default=0) + 1)
    out: dict[str, dict] = {}
    for name, t in described.items():
        one_expert = isinstance(t.get("expert"), int) and t["expert"] >= 0
        merged = re.sub(r"\.experts\.\d+\.", ".experts.", name) if one_expert else name
        found = names.get_name(merged, try_suffixes=(".weight", ".bias"))
        if found is None or found in out:
            continue
        out[found] = {**t, "name": merged, "expert": -1} if one_expert else t
    return out
