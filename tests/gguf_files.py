"""Tiny GGUF files written with the `gguf` package's GGUFWriter, as llama.cpp's converter writes
them: llama.cpp's tensor names, numpy arrays in PyTorch (out, in) order (the writer stores the dims
reversed), F32 norms, F16 matrices and a Q8_0-quantized token embedding. The same tiny Llama as a
transformers model (tiny_llama_model) and as a spec (tiny_llama_spec_yaml)."""

from __future__ import annotations

from pathlib import Path

# A Llama small enough to write in milliseconds: counts in test_formats.
TINY = {"vocab": 96, "n_ctx": 64, "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
        "d_ff": 64}


def write_tiny_llama_gguf(path: Path, tied: bool = True) -> Path:
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    v, d, f = TINY["vocab"], TINY["d_model"], TINY["d_ff"]
    kv = TINY["n_kv_heads"] * d // TINY["n_heads"]
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_block_count(TINY["n_layers"])
    writer.add_context_length(TINY["n_ctx"])
    writer.add_embedding_length(d)
    writer.add_feed_forward_length(f)
    writer.add_head_count(TINY["n_heads"])
    writer.add_head_count_kv(TINY["n_kv_heads"])
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(v)
    # Q8_0: blocks of 32 values along each row, 2 bytes of scale + 32 int8 = 34 bytes a block.
    writer.add_tensor("token_embd.weight", quantize(np.ones((v, d), np.float32),
                                                    GGMLQuantizationType.Q8_0),
                      raw_dtype=GGMLQuantizationType.Q8_0)
    for i in range(TINY["n_layers"]):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(d, np.float32))
        writer.add_tensor(f"{block}.attn_q.weight", np.zeros((d, d), np.float16))
        writer.add_tensor(f"{block}.attn_k.weight", np.zeros((kv, d), np.float16))
        writer.add_tensor(f"{block}.attn_v.weight", np.zeros((kv, d), np.float16))
        writer.add_tensor(f"{block}.attn_output.weight", np.zeros((d, d), np.float16))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(d, np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", np.zeros((f, d), np.float16))
        writer.add_tensor(f"{block}.ffn_up.weight", np.zeros((f, d), np.float16))
        writer.add_tensor(f"{block}.ffn_down.weight", np.zeros((d, f), np.float16))
    writer.add_tensor("output_norm.weight", np.ones(d, np.float32))
    if not tied:
        writer.add_tensor("output.weight", np.zeros((v, d), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_llama_model(**overrides):
    """transformers' LlamaForCausalLM of TINY's shape (untied unless overridden), seeded."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = {"vocab_size": TINY["vocab"], "hidden_size": TINY["d_model"],
              "intermediate_size": TINY["d_ff"], "num_hidden_layers": TINY["n_layers"],
              "num_attention_heads": TINY["n_heads"], "num_key_value_heads": TINY["n_kv_heads"],
              "max_position_embeddings": TINY["n_ctx"], "tie_word_embeddings": False}
    config.update(overrides)
    return LlamaForCausalLM(LlamaConfig(**config))


def tiny_llama_spec_yaml(path: Path, tied: bool = True, **overrides) -> Path:
    """The spec of write_tiny_llama_gguf's model (and of tiny transformers Llamas alike)."""
    import yaml

    data = {"name": "tiny-llama", "family": "llama", "source": "test", "vocab_size": TINY["vocab"],
                "n_ctx": TINY["n_ctx"], "d_model": TINY["d_model"], "n_layers": TINY["n_layers"],
                "n_heads": TINY["n_heads"], "n_kv_heads": TINY["n_kv_heads"], "d_ff": TINY["d_ff"],
                "activation": "silu", "gated_mlp": True, "norm": "rmsnorm", "position": "rotary",
                "biases": False, "tied_embeddings": tied}
    data.update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path


def moe_tensor_shapes(config: dict, arch) -> dict:
    """gguf.MODEL_TENSOR -> the PyTorch-order shape llama.cpp's converter writes it in, for a
    mixture of experts of transformers config `config` (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE):
    each layer's experts stacked into one [E, out, in] tensor a projection (ffn_*_exps), the
    router [E, d], Qwen2-MoE's shared expert and its gate [1, d]."""
    from gguf import MODEL_ARCH
    from gguf import MODEL_TENSOR as T

    d, v = config["hidden_size"], config["vocab_size"]
    h, kv = config["num_attention_heads"], config["num_key_value_heads"]
    dh = config.get("head_dim") or d // h
    n = config.get("num_local_experts") or config["num_experts"]
    ff = config.get("moe_intermediate_size") or config["intermediate_size"]
    shapes = {T.TOKEN_EMBD: (v, d), T.OUTPUT_NORM: (d,), T.ATTN_NORM: (d,),
              T.ATTN_Q: (h * dh, d), T.ATTN_K: (kv * dh, d), T.ATTN_V: (kv * dh, d),
              T.ATTN_OUT: (d, h * dh), T.FFN_NORM: (d,), T.FFN_GATE_INP: (n, d),
              T.FFN_GATE_EXP: (n, ff, d), T.FFN_UP_EXP: (n, ff, d), T.FFN_DOWN_EXP: (n, d, ff)}
    if not config.get("tie_word_embeddings"):
        shapes[T.OUTPUT] = (v, d)
    if arch == MODEL_ARCH.QWEN3MOE:  # per-head query and key norms
        shapes.update({T.ATTN_Q_NORM: (dh,), T.ATTN_K_NORM: (dh,)})
    if arch == MODEL_ARCH.OLMOE:  # full-width ones
        shapes.update({T.ATTN_Q_NORM: (h * dh,), T.ATTN_K_NORM: (kv * dh,)})
    if config.get("shared_expert_intermediate_size"):
        sff = config["shared_expert_intermediate_size"]
        shapes.update({T.FFN_GATE_INP_SHEXP: (1, d), T.FFN_GATE_SHEXP: (sff, d),
                       T.FFN_UP_SHEXP: (sff, d), T.FFN_DOWN_SHEXP: (d, sff)})
    return shapes


def write_moe_gguf(path: Path, arch, config: dict, biases: tuple = (), expert_keys: bool = True,
                   squeezed_shared_gate: bool = False, q8_experts: bool = False) -> Path:
    """A tiny mixture of experts as llama.cpp's converter writes it: every tensor the `gguf`
    package lists for `arch` (a gguf.MODEL_ARCH) that the model has, named by its TENSOR_NAMES,
    in the shapes moe_tensor_shapes gives (F32 for 1-D tensors and routers, as the converter
    keeps them; F16 for the rest); `biases` (MODEL_TENSORs) also get a bias. The metadata is
    the converter's: the block's sizes, then expert_count, expert_used_count and, where the
    config has them, the experts' and the shared expert's widths (none of these four without
    `expert_keys`). `squeezed_shared_gate`: the shared expert's gate stored [d], not [1, d], as
    transformers' GGUF loader expects it. `q8_experts`: the stacked experts Q8_0-quantized
    (their input widths a multiple of 32)."""
    import numpy as np
    from gguf import (
        MODEL_ARCH_NAMES,
        MODEL_TENSOR,
        MODEL_TENSORS,
        TENSOR_NAMES,
        GGMLQuantizationType,
        GGUFWriter,
    )
    from gguf.quants import quantize

    shapes = moe_tensor_shapes(config, arch)
    writer = GGUFWriter(str(path), MODEL_ARCH_NAMES[arch])
    writer.add_name(f"tiny-{MODEL_ARCH_NAMES[arch]}")
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    if config.get("head_dim"):
        writer.add_key_length(config["head_dim"])
        writer.add_value_length(config["head_dim"])
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    if expert_keys:
        writer.add_expert_count(config.get("num_local_experts") or config["num_experts"])
        writer.add_expert_used_count(config["num_experts_per_tok"])
    if expert_keys and config.get("moe_intermediate_size"):
        writer.add_expert_feed_forward_length(config["moe_intermediate_size"])
    if expert_keys and config.get("shared_expert_intermediate_size"):
        writer.add_expert_shared_feed_forward_length(config["shared_expert_intermediate_size"])
    if squeezed_shared_gate and MODEL_TENSOR.FFN_GATE_INP_SHEXP in shapes:
        shapes[MODEL_TENSOR.FFN_GATE_INP_SHEXP] = (config["hidden_size"],)
    kept_f32 = (MODEL_TENSOR.FFN_GATE_INP, MODEL_TENSOR.FFN_GATE_INP_SHEXP)
    experts = (MODEL_TENSOR.FFN_GATE_EXP, MODEL_TENSOR.FFN_UP_EXP, MODEL_TENSOR.FFN_DOWN_EXP)
    blocks = [TENSOR_NAMES[t].format(bid=i) for i in range(config["num_hidden_layers"])
              for t in MODEL_TENSORS[arch] if t in shapes and "{bid}" in TENSOR_NAMES[t]]
    named = {TENSOR_NAMES[t].format(bid=i): t for i in range(config["num_hidden_layers"])
             for t in shapes}
    for stored in [TENSOR_NAMES[t] for t in MODEL_TENSORS[arch]
                   if t in shapes and "{bid}" not in TENSOR_NAMES[t]] + blocks:
        tensor = named[stored]
        f32 = len(shapes[tensor]) == 1 or tensor in kept_f32
        if q8_experts and tensor in experts:
            writer.add_tensor(f"{stored}.weight", quantize(np.zeros(shapes[tensor], np.float32),
                                                           GGMLQuantizationType.Q8_0),
                              raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(f"{stored}.weight",
                              np.zeros(shapes[tensor], np.float32 if f32 else np.float16))
        if tensor in biases:
            writer.add_tensor(f"{stored}.bias", np.zeros(shapes[tensor][0], np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
