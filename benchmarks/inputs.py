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


# A Qwen3-MoE-shaped model of 512 experts, quantized with GPTQ: no such checkpoint is published
# (the largest GPTQ MoE repos hold ~150,000 to ~370,000 tensors), so this one takes Qwen3-235B-A22B's
# block (hidden 4096, 64 query heads and 4 key-value heads of 128, experts 1536 wide), Qwen3-Next's
# 512 experts, and as many layers as bring it past a million tensors: 163. Its quantization_config
# is the one AutoGPTQ and GPTQModel write for 4 bits in groups of 128.
GPTQ_MOE_CONFIG = {
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
    "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288,
    "moe_intermediate_size": 1536, "num_hidden_layers": 163, "num_attention_heads": 64,
    "num_key_value_heads": 4, "head_dim": 128, "num_experts": 512, "num_experts_per_tok": 10,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "norm_topk_prob": True,
    "hidden_act": "silu", "max_position_embeddings": 40960, "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0, "tie_word_embeddings": False, "attention_bias": False,
    "torch_dtype": "float16",
    "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128,
                            "desc_act": False, "sym": True, "checkpoint_format": "gptq",
                            "damp_percent": 0.01, "static_groups": False,
                            "true_sequential": True, "lm_head": False},
}
GPTQ_SHARD_BYTES = 5_000_000_000  # save_pretrained's and GPTQModel's default max_shard_size
GPTQ_MOE_PARAMETERS = 1_588_389_548_800  # the arithmetic is gptq_moe_tensors' docstring
GPTQ_MOE_TENSORS = 1_004_898


def gptq_moe_tensors() -> dict[str, tuple[str, list[int]]]:
    """GPTQ_MOE_CONFIG's tensors as AutoGPTQ's QuantLinear stores them (bits 4, so 8 values an
    int32; group 128): each linear layer of the blocks, `in` inputs to `out` outputs, is
    qweight I32 [in / 8, out], qzeros I32 [in / 128, out / 8], scales F16 [in / 128, out] and
    g_idx I32 [in] (no bias: Qwen3 has none). The router (`mlp.gate`, 512 outputs) is left
    unquantized, as GPTQModel leaves it; the embedding, the norms (q_norm and k_norm of 128 too)
    and lm_head are F16, as the model was cast to quantize it.

    Tensors: a layer holds 4 attention projections + 512 experts x 3 projections, 4 each
    (6,160), the router and 4 norms: 6,165; 163 layers are 1,004,895, with the embedding, the
    final norm and lm_head 1,004,898.
    Parameters (as the unquantized model holds them): a layer's attention 2 x 4096 x 8192 +
    2 x 4096 x 512 = 71,303,168, experts 512 x 3 x 4096 x 1536 = 9,663,676,416, router
    512 x 4096 = 2,097,152, norms 2 x 4096 + 2 x 128 = 8,448: 9,737,085,184 a layer, x 163 =
    1,587,144,884,992; with the embedding and lm_head (2 x 151,936 x 4,096 = 1,244,659,712) and
    the final norm (4,096): GPTQ_MOE_PARAMETERS. Stored: 830,829,602,304 bytes."""
    c = GPTQ_MOE_CONFIG
    d, width, head = c["hidden_size"], c["moe_intermediate_size"], c["head_dim"]
    q_out, kv_out = c["num_attention_heads"] * head, c["num_key_value_heads"] * head
    group = c["quantization_config"]["group_size"]
    pack = 32 // c["quantization_config"]["bits"]
    out: dict[str, tuple[str, list[int]]] = {}

    def gptq(name: str, inputs: int, outputs: int) -> None:
        out[f"{name}.qweight"] = ("I32", [inputs // pack, outputs])
        out[f"{name}.qzeros"] = ("I32", [inputs // group, outputs // pack])
        out[f"{name}.scales"] = ("F16", [inputs // group, outputs])
        out[f"{name}.g_idx"] = ("I32", [inputs])

    out["model.embed_tokens.weight"] = ("F16", [c["vocab_size"], d])
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        out[f"{p}.input_layernorm.weight"] = ("F16", [d])
        gptq(f"{p}.self_attn.q_proj", d, q_out)
        gptq(f"{p}.self_attn.k_proj", d, kv_out)
        gptq(f"{p}.self_attn.v_proj", d, kv_out)
        gptq(f"{p}.self_attn.o_proj", q_out, d)
        out[f"{p}.self_attn.q_norm.weight"] = ("F16", [head])
        out[f"{p}.self_attn.k_norm.weight"] = ("F16", [head])
        out[f"{p}.post_attention_layernorm.weight"] = ("F16", [d])
        out[f"{p}.mlp.gate.weight"] = ("F16", [c["num_experts"], d])
        for e in range(c["num_experts"]):
            gptq(f"{p}.mlp.experts.{e}.gate_proj", d, width)
            gptq(f"{p}.mlp.experts.{e}.up_proj", d, width)
            gptq(f"{p}.mlp.experts.{e}.down_proj", width, d)
    out["model.norm.weight"] = ("F16", [d])
    out["lm_head.weight"] = ("F16", [c["vocab_size"], d])
    return out


def gptq_moe_1m(root: Path) -> Path:
    """GPTQ_MOE_CONFIG as a hole checkpoint: 167 shards of about 5 GB (830.8 GB / 5 GB; a
    layer is 5.0 GB, so a shard holds about one layer's 6,165 tensors), cut by size as
    save_pretrained cuts, the index and config.json. Reused when present."""
    import json
    from math import prod

    from inspector.building.hole_files import write_hole_shards
    from inspector.formats.safetensors import DTYPE_BYTES

    folder = root / "gptq-moe-1m"
    if (folder / "model.safetensors.index.json").is_file():
        return folder
    tensors = gptq_moe_tensors()
    total = sum(DTYPE_BYTES[dtype] * prod(shape) for dtype, shape in tensors.values())
    write_hole_shards(folder, tensors, -(-total // GPTQ_SHARD_BYTES))
    (folder / "config.json").write_text(json.dumps(GPTQ_MOE_CONFIG, indent=2))
    return folder

