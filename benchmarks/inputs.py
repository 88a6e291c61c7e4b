"""The benchmark's inputs, made on the spot: a random-init GPT-2 124M written by transformers
(fp32, and the same weights in bf16), and header-only hole checkpoints for GPT-3 175B (35 shards),
a Llama-3.1-405B-shaped model (191 shards, as Meta published it) and a 1T Llama-style model
(asked for 400 shards; cut where the running size crosses each 1/400, 399 hold tensors).
Holes cost no disk: their data regions are never written."""

from __future__ import annotations

from pathlib import Path

from inspector.spec.schema import Spec
from inspector.spec.validation import spec_from_dict
from inspector.spec.loading import load_spec
from inspector.building.hole_files import write_hole_checkpoint

# The shapes of meta-llama/Llama-3.1-405B's config.json (hidden_size 16384, intermediate_size
# 53248, 126 layers, 128 heads, 8 key-value heads, vocabulary 128256, untied).
LLAMA_405B = {
    "name": "llama3.1-405b-shapes", "family": "llama",
    "source": "config.json of meta-llama/Llama-3.1-405B",
    "vocab_size": 128256, "n_ctx": 131072, "d_model": 16384, "n_layers": 126, "n_heads": 128,
    "n_kv_heads": 8, "d_ff": 53248, "activation": "silu", "gated_mlp": True, "norm": "rmsnorm",
    "position": "rotary", "rope_theta": 500000.0, "biases": False, "tied_embeddings": False,
}

# No published 1T dense model: Llama-style shapes scaled until the count passes 1e12
# (d_model 20480, 160 heads of 128, 8 key-value heads, d_ff 65536, 204 layers).
LLAMA_1T = {**LLAMA_405B, "name": "llama-style-1t",
            "source": "hypothetical: the Llama-3 block scaled to 1T",
            "d_model": 20480, "n_layers": 204, "n_heads": 160, "d_ff": 65536}

HOLES = {
    # name: (spec, dtype, shards)
    "gpt3-175b": ("gpt3-175b", "F16", 35),
    "llama-405b": (LLAMA_405B, "BF16", 191),
    "llama-1t": (LLAMA_1T, "BF16", 400),
}


def spec_of(name: str) -> Spec:
    spec, _, _ = HOLES[name]
    return load_spec(spec) if isinstance(spec, str) else spec_from_dict(spec, origin=name)


def hole_checkpoint(root: Path, name: str) -> Path:
    _, dtype, shards = HOLES[name]
    folder = root / name
    if not (folder / "model.safetensors.index.json").is_file():
        write_hole_checkpoint(folder, spec_of(name), dtype, shards)
    return folder


def gpt2_124m(root: Path, dtype: str = "float32") -> Path:
    """GPT2LMHeadModel(GPT2Config()) with seeded random weights, saved by save_pretrained."""
    folder = root / f"gpt2-124m-{dtype}"
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).to(getattr(torch, dtype))
    model.save_pretrained(folder)
    return folder


def llama_matrices(root: Path, dtype: str = "float32") -> Path:
    """27 Llama-shaped matrices (9 layers' gate, up and down projections, 2816 x 4096 and
    4096 x 2816) of seeded normal values, 1.25 GB in float32 (0.62 GB in bfloat16, the same
    values rounded), as one safetensors file: issue 20's measure of `stats` against numpy."""
    path = root / f"llama-matrices-{dtype}.safetensors"
    if path.is_file():
        return path
    import numpy as np
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    tensors = {}
    for i in range(9):
        for name, shape in (("gate_proj", (2816, 4096)), ("up_proj", (2816, 4096)),
                            ("down_proj", (4096, 2816))):
            x = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02))
            tensors[f"model.layers.{i}.mlp.{name}.weight"] = x.to(getattr(torch, dtype))
    save_file(tensors, str(path))
    return path


# config.json of moonshotai/Kimi-K2-Instruct: the keys transformers and inspector read (its
# model_type is kimi_k2, for its remote code: transformers reads it as deepseek_v3), and its
# FP8 quantization_config (128 x 128 blocks, a float32 `weight_scale_inv` per block).
KIMI_K2_CONFIG = {
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
    "vocab_size": 163840, "hidden_size": 7168, "intermediate_size": 18432,
    "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_nextn_predict_layers": 0,
    "num_attention_heads": 64, "num_key_value_heads": 64, "n_shared_experts": 1,
    "n_routed_experts": 384, "routed_scaling_factor": 2.827, "kv_lora_rank": 512,
    "q_lora_rank": 1536, "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128,
    "n_group": 1, "topk_group": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 1,
    "norm_topk_prob": True, "hidden_act": "silu", "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6, "rope_theta": 50000.0, "tie_word_embeddings": False,
    "attention_bias": False, "torch_dtype": "bfloat16",
    "rope_scaling": {"beta_fast": 1.0, "beta_slow": 1.0, "factor": 32.0, "mscale": 1.0,
                     "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
                     "type": "yarn"},
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
                            "quant_method": "fp8", "weight_block_size": [128, 128]},
}


def kimi_k2_fp8(root: Path, shards: int = 64) -> Path:
    """Kimi-K2-Instruct's hub layout as a hole checkpoint: 64 shards cut by size, the index,
    and its config.json (issue 20's measure of the header path at 140,000 tensors)."""
    import json

    from inspector.building.hole_files import deepseek_fp8_tensors, write_hole_shards

    folder = root / "kimi-k2-fp8"
    if (folder / "model.safetensors.index.json").is_file():
        return folder
    write_hole_shards(folder, deepseek_fp8_tensors(KIMI_K2_CONFIG), shards)
    (folder / "config.json").write_text(json.dumps(KIMI_K2_CONFIG, indent=2))
    return folder
