"""A GGUF of an architecture no family module reads, as llama.cpp's converter writes one:
each tensor under the name gguf's own TensorNameMap gives its Hugging Face name (a layer's
experts stacked into one [E, out, in] tensor, a fused gate_up cut in two), the model's sizes in
its metadata. inspect reads it by the transformers path (config from that metadata, names mapped
back through the same map): its total is num_parameters(), every tensor has a role.

Mamba (tests/reference_configs.py: 2 layers, d 64, vocab 256, tied: no output.weight) and
Jamba (a dense MLP in layer 0, 4 experts, 2 a token, in layer 1; its own unembedding)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from reference_configs import small_config
from test_diagram import drawn_boxes


def write_gguf(model_type: str, arch: str, path):
    """The small `model_type` (random weights) written as llama.cpp would: returns the model."""
    import gguf
    import torch
    import transformers

    config = small_config(model_type)
    hf = type(transformers.AutoConfig.for_model(model_type)).from_dict(config)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(hf)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch], hf.num_hidden_layers)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH[arch]])
    writer.add_block_count(hf.num_hidden_layers)
    writer.add_embedding_length(hf.hidden_size)
    writer.add_vocab_size(hf.vocab_size)
    writer.add_feed_forward_length(0 if model_type == "mamba" else hf.intermediate_size)
    if model_type == "jamba":
        writer.add_head_count(hf.num_attention_heads)
        writer.add_head_count_kv(hf.num_key_value_heads)
        writer.add_expert_count(hf.num_experts)
        writer.add_expert_used_count(hf.num_experts_per_tok)
    tied = model.config.tie_word_embeddings
    for name, value in model.state_dict().items():
        if name == "lm_head.weight" and tied:  # the converter writes token_embd only
            continue
        for part, tensor in _parts(name, value):
            stored = names.get_name(part, try_suffixes=(".weight", ".bias"))
            assert stored is not None, part
            writer.add_tensor(stored, tensor.float().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return model


def _parts(name: str, value):
    """The converter's tensors of one state-dict entry: experts' fused gate_up cut into gate and
    up (each [E, out, in]), the merged experts' names with `.weight`."""
    if name.endswith("experts.gate_up_proj"):
        gate, up = value.chunk(2, dim=1)
        base = name.removesuffix("gate_up_proj")
        return [(f"{base}gate_proj.weight", gate), (f"{base}up_proj.weight", up)]
    if name.endswith("experts.down_proj"):
        return [(f"{name}.weight", value)]
    return [(name, value)]


@pytest.mark.parametrize("model_type, arch", [("mamba", "MAMBA"), ("jamba", "JAMBA")])
def test_a_gguf_without_a_family_is_read_by_transformers(model_type, arch, tmp_path,
                                                        monkeypatch):
    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path / "cache"))
    path = tmp_path / f"{model_type}.gguf"
    model = write_gguf(model_type, arch, path)
    result = run_cli("inspect", str(path), "--by", "tensor", "--format", "json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["parameters"] == model.num_parameters()
    roles = {r["tensor"]: r["role"] for r in found["tensor_rows"]}
    assert "unmapped" not in roles.values(), roles
    assert roles["blk.0.ssm_in.weight"] == roles["blk.0.ssm_a"] == "mixer"
    assert roles["blk.0.ssm_out.weight"] == "output"
    assert found["tied"] is model.config.tie_word_embeddings
    out = tmp_path / "drawn.svg"
    assert run_cli("diagram", str(path), "--out", str(out)).returncode == 0
    boxes = drawn_boxes(out)  # the mixer a box, the boxes adding up to the total
    assert boxes["layers.{i}.ssm"]["role"] == "mixer"
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters()
    if model_type == "jamba":
        assert roles["blk.1.ffn_gate_exps.weight"] == "gate"
        assert roles["blk.1.ffn_gate_inp.weight"] == "router"
        experts = sum(p.numel() for n, p in model.named_parameters() if ".experts." in n)
        assert found["active_parameters"] == model.num_parameters() - experts // 2
