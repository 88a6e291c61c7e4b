"""Checkpoints written for tests and benchmarks: header-only "hole" safetensors of any size.

A safetensors file whose data region is a hole (`truncate` after the header) is a valid checkpoint
that costs no disk and no time: 175B or 1T parameters for header work, for free. Reading its values
gives zeros. `stored_shapes` lays a spec out under a family's stored names by running the layout
table backwards (canonical -> stored), so a hole checkpoint has the names and shapes that the
reader and decoupler meet in real files.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from inspector.formats.safetensors import DTYPE_BYTES
from inspector.spec.describe import parameter_shapes
from inspector.spec.schema import Spec


def write_hole_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]],
                           metadata: dict | None = None) -> Path:
    """A valid safetensors file whose data region is a hole: any size, no disk, no time.

    `tensors` maps name -> (dtype, shape); offsets are laid out in order.
    """
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = DTYPE_BYTES[dtype]
        for d in shape:
            size *= d
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.truncate(8 + len(raw) + offset)
    return Path(path)


def stored_shapes(spec: Spec, layout_name: str | None = None) -> dict[str, list[int]]:
    """The spec's parameters under the stored names of its family, in the order a token meets them.

    Each layout rule is read backwards: its canonical targets' shapes are transposed back where
    the rule transposes, and concatenated on `split_axis` where it fuses (GPT-2's c_attn). A tied
    unembedding is left out, as save_pretrained leaves it out. Buffers are not written.
    """
    from inspector import families

    layout = (families.hub_layouts()[layout_name] if layout_name
              else families.get(spec.family).hub_layout)
    shapes = dict(parameter_shapes(spec))
    if spec.tied_embeddings:
        shapes.pop("unembed.weight", None)
    prefix = layout.prefixes[-1]  # GPT-2: `transformer.`, as transformers saves it today
    order = {name: i for i, name in enumerate(shapes)}
    out: list[tuple[int, str, list[int]]] = []
    for layer in [None, *range(spec.n_layers)]:
        for rule in layout.rules:
            if rule.is_buffer or (("{i}" in rule.pattern) != (layer is not None)):
                continue
            targets = [t.replace("{i}", str(layer)) for t in rule.targets]
            if not all(t in shapes for t in targets):
                continue
            parts = [list(reversed(shapes[t])) if rule.transposed else list(shapes[t])
                     for t in targets]
            shape = parts[0]
            if rule.split_axis is not None:
                shape[rule.split_axis] = sum(p[rule.split_axis] for p in parts)
            name = prefix + rule.pattern.replace("{i}", str(layer))
            out.append((order[targets[0]], name, shape))
    out.sort(key=lambda entry: entry[0])
    return {name: shape for _, name, shape in out}


def write_hole_checkpoint(folder: Path, spec: Spec, dtype: str = "BF16", shards: int = 1,
                          layout_name: str | None = None) -> Path:
    """A hole checkpoint of `spec` in `folder`: model.safetensors, or `shards` files of about
    equal size plus model.safetensors.index.json, named as transformers names them."""
    shapes = stored_shapes(spec, layout_name)
    return write_hole_shards(folder, {name: (dtype, shape) for name, shape in shapes.items()},
                             shards)


def write_hole_shards(folder: Path, tensors: dict[str, tuple[str, list[int]]],
                      shards: int = 1) -> Path:
    """`tensors` (name -> (dtype, shape)) as model.safetensors, or as `shards` files of about
    equal size plus model.safetensors.index.json, named as transformers names them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if shards == 1:
        write_hole_safetensors(folder / "model.safetensors", tensors)
        return folder
    sizes = {name: _nbytes(dtype, shape) for name, (dtype, shape) in tensors.items()}
    total = sum(sizes.values())
    groups: list[dict[str, tuple[str, list[int]]]] = [{} for _ in range(shards)]
    done = 0
    for name, entry in tensors.items():
        # Cut in tensor order where the running total crosses each 1/shards of the whole.
        groups[min(shards - 1, done * shards // total)][name] = entry
        done += sizes[name]
    groups = [g for g in groups if g]  # more shards asked than tensors to fill them
    weight_map = {}
    for k, group in enumerate(groups, start=1):
        file = f"model-{k:05d}-of-{len(groups):05d}.safetensors"
        write_hole_safetensors(folder / file, group)
        weight_map.update(dict.fromkeys(group, file))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return folder


def _nbytes(dtype: str, shape: list[int]) -> int:
    size = DTYPE_BYTES[dtype]
    for d in shape:
        size *= d
    return size


def deepseek_fp8_tensors(c: dict) -> dict[str, tuple[str, list[int]]]:
    """The tensors of a DeepSeek-V3-style config.json `c` as its FP8 hub checkpoints name and
    store them (DeepSeek-V3, Kimi-K2-Instruct): every linear layer's weight in F8_E4M3 with a
    float32 `weight_scale_inv` of one value per 128 x 128 block; the embedding, the
    unembedding, the norms and the router in BF16, the router's score correction bias in F32.
    Kimi-K2: 3 + 20 (the dense layer 0) + 60 x 2,326 = 139,583 tensors."""
    d, heads, vocab = c["hidden_size"], c["num_attention_heads"], c["vocab_size"]
    qk = c["qk_nope_head_dim"] + c["qk_rope_head_dim"]
    out: dict[str, tuple[str, list[int]]] = {}

    def fp8(name: str, rows: int, cols: int) -> None:
        out[f"{name}.weight"] = ("F8_E4M3", [rows, cols])
        out[f"{name}.weight_scale_inv"] = ("F32", [-(-rows // 128), -(-cols // 128)])

    def mlp(prefix: str, width: int) -> None:
        fp8(f"{prefix}.gate_proj", width, d)
        fp8(f"{prefix}.up_proj", width, d)
        fp8(f"{prefix}.down_proj", d, width)

    out["model.embed_tokens.weight"] = ("BF16", [vocab, d])
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        out[f"{p}.input_layernorm.weight"] = ("BF16", [d])
        fp8(f"{p}.self_attn.q_a_proj", c["q_lora_rank"], d)
        out[f"{p}.self_attn.q_a_layernorm.weight"] = ("BF16", [c["q_lora_rank"]])
        fp8(f"{p}.self_attn.q_b_proj", heads * qk, c["q_lora_rank"])
        fp8(f"{p}.self_attn.kv_a_proj_with_mqa", c["kv_lora_rank"] + c["qk_rope_head_dim"], d)
        out[f"{p}.self_attn.kv_a_layernorm.weight"] = ("BF16", [c["kv_lora_rank"]])
        fp8(f"{p}.self_attn.kv_b_proj",
            heads * (c["qk_nope_head_dim"] + c["v_head_dim"]), c["kv_lora_rank"])
        fp8(f"{p}.self_attn.o_proj", d, heads * c["v_head_dim"])
        out[f"{p}.post_attention_layernorm.weight"] = ("BF16", [d])
        if i < c["first_k_dense_replace"]:
            mlp(f"{p}.mlp", c["intermediate_size"])
            continue
        out[f"{p}.mlp.gate.weight"] = ("BF16", [c["n_routed_experts"], d])
        out[f"{p}.mlp.gate.e_score_correction_bias"] = ("F32", [c["n_routed_experts"]])
        for e in range(c["n_routed_experts"]):
            mlp(f"{p}.mlp.experts.{e}", c["moe_intermediate_size"])
        mlp(f"{p}.mlp.shared_experts", c["moe_intermediate_size"] * c["n_shared_experts"])
    out["model.norm.weight"] = ("BF16", [d])
    out["lm_head.weight"] = ("BF16", [vocab, d])
    return out
