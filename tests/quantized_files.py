"""Header-only quantized checkpoints with the tensor names, dtypes and shapes the published ones
have, written around a small Llama that transformers makes (its config.json, and the shapes of its
state dict on the meta device). The data is a hole: headers are all these tests read.

Each maker turns the unquantized model's (name, shape) into the stored tensors of one method, as
the tool that writes that method lays them out (see inspector/quantization.py's table), and adds
the method's config entry. Linear layers of the blocks are quantized; embeddings, norms and
lm_head are kept as they are, as AutoGPTQ, AutoAWQ, bitsandbytes and DeepSeek's FP8 keep them
(MLX quantizes the embedding and lm_head too).
"""

from __future__ import annotations

import json
import struct
from math import prod
from pathlib import Path

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "I64": 8, "U8": 1, "I8": 1,
               "F8_E4M3": 1}

# A Llama of 2 layers: d 64, 4 heads of 16, 2 kv heads, d_ff 128, vocabulary 256.
LLAMA = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False}
GROUP = 32  # values per quantization group (published: 128; this model's inputs are 64 and 128)


def reference_model(llama: dict = LLAMA):
    """transformers' LlamaForCausalLM of `llama`, on the meta device: the truth counts meet."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(LlamaConfig(**llama))


def write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]]) -> Path:
    """A safetensors file of these (dtype, shape) tensors whose data is a hole."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = prod(shape) * DTYPE_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset,
                                                                                offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return path


def _is_block_linear(name: str) -> bool:
    return ".layers." in name and name.endswith("_proj.weight")


def _gptq(name, out, inp, bits=4):
    base, p = name[:-len(".weight")], 32 // bits
    return {f"{base}.qweight": ("I32", (inp // p, out)),  # packed along the input
            f"{base}.qzeros": ("I32", (inp // GROUP, out // p)),
            f"{base}.scales": ("F16", (inp // GROUP, out)),
            f"{base}.g_idx": ("I32", (inp,))}


def _awq(name, out, inp, bits=4):
    base, p = name[:-len(".weight")], 32 // bits
    return {f"{base}.qweight": ("I32", (inp, out // p)),  # packed along the output
            f"{base}.qzeros": ("I32", (inp // GROUP, out // p)),
            f"{base}.scales": ("F16", (inp // GROUP, out))}


def _bnb4(name, out, inp):
    n = out * inp
    return {name: ("U8", (n // 2, 1)),
            f"{name}.absmax": ("F32", (n // 64,)),  # blocksize 64 (double quantised: U8)
            f"{name}.quant_map": ("F32", (16,)),
            f"{name}.nested_absmax": ("F32", (max(1, n // 64 // 256),)),
            f"{name}.nested_quant_map": ("F32", (256,)),
            f"{name}.quant_state.bitsandbytes__nf4": ("U8", (100,))}


def _bnb8(name, out, inp):
    base = name[:-len(".weight")]
    return {name: ("I8", (out, inp)), f"{base}.SCB": ("F32", (out,))}


def _fp8(name, out, inp):
    return {name: ("F8_E4M3", (out, inp)),
            f"{name}_scale_inv": ("F32", (-(-out // 128), -(-inp // 128)))}


def _compressed(name, out, inp, bits=4):
    p = 32 // bits
    return {f"{name}_packed": ("I32", (out, inp // p)),
            f"{name}_scale": ("BF16", (out, inp // GROUP)),
            f"{name}_shape": ("I64", (2,))}


def _mlx(name, out, inp, bits=4):
    base, p = name[:-len(".weight")], 32 // bits
    return {name: ("U32", (out, inp // p)),
            f"{base}.scales": ("F16", (out, inp // GROUP)),
            f"{base}.biases": ("F16", (out, inp // GROUP))}


def _int8(name, out, inp):
    return {name: ("I8", (out, inp)), f"{name}_scale": ("F32", ())}


# method -> (maker of a linear's stored tensors, config entries, quantizes embed and lm_head too)
METHODS = {
    "gptq": (_gptq, {"quantization_config": {"quant_method": "gptq", "bits": 4,
                                             "group_size": GROUP, "desc_act": False}}, False),
    "awq": (_awq, {"quantization_config": {"quant_method": "awq", "bits": 4,
                                           "group_size": GROUP, "version": "gemm"}}, False),
    "bitsandbytes-4bit": (_bnb4, {"quantization_config": {
        "quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}},
        False),
    "bitsandbytes-8bit": (_bnb8, {"quantization_config": {"quant_method": "bitsandbytes",
                                                          "load_in_8bit": True}}, False),
    "fp8": (_fp8, {"quantization_config": {"quant_method": "fp8", "fmt": "e4m3",
                                           "weight_block_size": [128, 128]}}, False),
    "compressed-tensors": (_compressed, {"quantization_config": {
        "quant_method": "compressed-tensors", "format": "pack-quantized",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
            "num_bits": 4, "type": "int", "group_size": GROUP, "strategy": "group"}}}}}, False),
    "mlx": (_mlx, {"quantization": {"group_size": GROUP, "bits": 4}}, True),
    "int8": (_int8, {}, False),
}


def write_quantized(folder: Path, method: str, with_config: bool = True,
                    llama: dict = LLAMA) -> Path:
    """A folder holding config.json (the Llama `llama` says, with `method`'s entry) and a
    header-only model.safetensors with `method`'s stored tensors."""
    maker, entry, everything = METHODS[method]
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, param in reference_model(llama).state_dict().items():
        shape = tuple(param.shape)
        quantized = _is_block_linear(name) or (everything and len(shape) == 2)
        tensors.update(maker(name, *shape) if quantized else {name: ("F16", shape)})
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], **llama}
    if with_config:
        (folder / "config.json").write_text(json.dumps({**config, **entry}))
    write_safetensors(folder / "model.safetensors", tensors)
    return folder
