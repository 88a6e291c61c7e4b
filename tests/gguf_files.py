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
