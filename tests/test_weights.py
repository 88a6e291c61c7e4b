"""Loading values: a checkpoint that does not fit the spec fails before any value is read, with one
InspectorError naming the source and each problem; one that fits fills every parameter."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_gpt2_config, tiny_spec_yaml
from reference_models import save_state

from inspector.building.transformer import build_model
from inspector.building.weights import load_into, stored_values
from inspector.errors import CheckpointError
from inspector.spec.loading import load_spec


def tiny(tmp_path, **overrides):
    return load_spec(str(tiny_spec_yaml(tmp_path / "tiny.yaml", **overrides)))


def test_load_fills_a_meta_model_and_keeps_the_tie(tiny_gpt2_dir, tmp_path):
    from transformers import GPT2LMHeadModel

    model = build_model(tiny(tmp_path))
    load_into(model, tiny_gpt2_dir)
    reference = GPT2LMHeadModel.from_pretrained(tiny_gpt2_dir)
    assert not any(p.is_meta for p in model.parameters())
    assert model.unembed.weight is model.embed.weight
    assert torch.equal(model.embed.weight, reference.transformer.wte.weight)
    # Conv1D (in, out) -> Linear (out, in), query rows first in the fused c_attn.
    c_attn = reference.transformer.h[1].attn.c_attn.weight
    assert torch.equal(model.layers[1].attn.query.weight, c_attn[:, :32].t())
    assert torch.equal(model.layers[1].attn.value.weight, c_attn[:, 64:].t())
    assert torch.equal(model.causal_mask[:3, :3], torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]],
                                                               dtype=torch.bool))


def test_wrong_mlp_width_fails_naming_the_source_and_tensors(tiny_gpt2_dir, tmp_path):
    with pytest.raises(CheckpointError) as caught:
        load_into(build_model(tiny(tmp_path, d_ff=3000)), tiny_gpt2_dir)
    message = str(caught.value)
    assert message.startswith(f"{tiny_gpt2_dir}: cannot load into a tiny-gpt2 model: ")
    assert "layers.0.mlp.up.weight (up): expected [3000, 32], found [128, 32]" in message
    assert "more (`inspector check` lists them all)" in message


def test_missing_tensor_fails(tmp_path):
    from transformers import GPT2LMHeadModel

    state = GPT2LMHeadModel(tiny_gpt2_config()).state_dict()
    state = {k: v.clone() for k, v in state.items() if k not in ("transformer.ln_f.weight",
                                                                  "lm_head.weight")}
    path = save_state(state, tmp_path / "no-ln-f.safetensors")
    with pytest.raises(CheckpointError, match=r"final_norm\.weight \(norm\): missing"):
        load_into(build_model(tiny(tmp_path)), path)


def test_untied_spec_refuses_a_tied_checkpoint(tiny_gpt2_dir, tmp_path):
    missing = r"unembed\.weight \(unembedding\): missing, expected \[100, 32\]"
    with pytest.raises(CheckpointError, match=missing):
        load_into(build_model(tiny(tmp_path, tied_embeddings=False)), tiny_gpt2_dir)


def test_gguf_values_come_in_pytorch_order(tmp_path):
    """A GGUF written with the gguf package: dims reversed on disk, PyTorch order when read."""
    import gguf
    import numpy as np

    from inspector.building.weights import open_source

    path = tmp_path / "t.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    w = np.arange(12, dtype=np.float32).reshape(3, 4)  # (out 3, in 4), numpy row-major
    writer.add_tensor("blk.0.attn_v.weight", w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    values = dict(stored_values(open_source(path)))
    assert torch.equal(values["blk.0.attn_v.weight"], torch.from_numpy(w))


def test_gemma2_gguf_norms_are_stored_as_their_gain(tmp_path):
    """llama.cpp's converter (Gemma2Model.modify_tensors) writes every `*norm.weight` plus 1, the
    gain 1 + w that Gemma's RMSNorm applies, under its gemma2 names, rows not permuted. Loaded
    back, the model gives transformers' logits: the 1 is taken off again."""
    import gguf
    import transformers
    from family_cases.gemma import SLIDING, SMALL
    from reference_models import scramble

    from inspector.building.weights import load_model
    from inspector.spec.config_json import spec_from_config

    config = transformers.AutoConfig.for_model("gemma2", **SMALL, **SLIDING)
    torch.manual_seed(0)
    model = scramble(transformers.AutoModelForCausalLM.from_config(config).float(), seed=1)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA2, config.num_hidden_layers)
    path = tmp_path / "gemma2.gguf"
    writer = gguf.GGUFWriter(str(path), "gemma2")
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":  # tied: the converter writes token_embd only
            continue
        value = value + 1 if name.endswith("norm.weight") else value
        writer.add_tensor(names.get_name(name, try_suffixes=(".weight",)),
                          value.numpy().astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    ours = load_model(path, spec_from_config(config.to_dict()))
    ids = torch.randint(0, config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (ours(ids) - model(ids).logits).abs().max().item() < 1e-4
