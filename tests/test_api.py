"""The notebook API (inspector.api): the same numbers as the commands, tables as DataFrames,
objects that show themselves. References are transformers' own counts and float64 numpy over
the same tensors, never inspector's output.

The tiny GPT-2 of conftest.tiny_gpt2_config (vocab 100, n_ctx 16, d 32, 2 layers, 4 heads of 8,
d_ff 128), tied, as transformers saves it:
  outside the blocks: embedding 100 x 32 = 3,200, positions 16 x 32 = 512, final norm 64: 3,776
  a block: 2 norms 128, c_attn 32 x 96 + 96 = 3,168, attention output 32 x 32 + 32 = 1,056,
           c_fc 32 x 128 + 128 = 4,224, c_proj 128 x 32 + 32 = 4,128: 12,704
  total 3,776 + 2 x 12,704 = 29,184 (transformers' num_parameters(), the tie counted once).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, tiny_gpt2_config

import inspector


def test_count_gpt2_124m():
    """GPT-2 124M: 124,439,808 (transformers' GPT2LMHeadModel on meta, tests/test_specs.py), the
    unembedding tied (listed at 50,257 x 768 = 38,597,376, not added); 13 layer rows (outside
    the blocks as <NA>, then 0 to 11); query per head 768 x 64 + 64 = 49,216, 12 x 12 of them."""
    counted = inspector.count("gpt2-124m")
    assert counted.parameters == counted.active_parameters == 124_439_808
    assert counted.tied and counted.buffers == []
    roles = counted.roles.set_index("role")
    assert roles.loc["query", "parameters"] == 7_087_104
    assert roles.loc["unembedding", "tied_to"] == "embedding"
    layers = counted.layers
    assert str(layers["layer"].dtype) == "Int64"
    assert layers["layer"].isna().tolist() == [True] + [False] * 12
    assert layers["layer"].dropna().tolist() == list(range(12))
    heads = counted.heads
    query = heads[heads["role"] == "query"]
    assert len(query) == 12 * 12 and set(query["parameters"]) == {49_216}
    assert "total: 124,439,808" in repr(counted)
    html = counted._repr_html_()
    assert 'data-module="layers.{i}.attn.query" data-params="7087104"' in html
    assert '<tr data-role="unembedding" data-params="38597376">' in html


def test_count_a_mixture_of_experts():
    """Mixtral 8x7B (its config.json: 32 layers, d 4096, 8 experts of d_ff 14336, 2 a token,
    vocab 32000, 8 KV heads of 128, untied):
      expert = 3 x 4096 x 14336 = 176,160,768; router 4096 x 8 = 32,768
      attention = 4096 x 4096 x 2 + 4096 x 1024 x 2 = 41,943,040; norms 2 x 4096
      layer (all experts) = 8 x 176,160,768 + 32,768 + 41,943,040 + 8,192 = 1,451,270,144
      total = 32 x 1,451,270,144 + 2 x 32000 x 4096 + 4096 = 46,702,792,704
      active = total - 32 x 6 x 176,160,768 = 12,879,925,248"""
    counted = inspector.count("mixtral-8x7b")
    assert counted.parameters == 46_702_792_704
    assert counted.active_parameters == 12_879_925_248
    assert "active: 12,879,925,248 a token: 2 of 8 routed experts" in repr(counted)


def test_build_on_meta_matches_transformers():
    """`inspector.build` on meta: GPT-2 124M's parameters, counted by torch (a shared tensor
    once), equal transformers' GPT2LMHeadModel's: 124,439,808; nothing is allocated."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    model = inspector.build("gpt2-124m")
    with torch.device("meta"):
        reference = GPT2LMHeadModel(GPT2Config())
    assert all(p.device.type == "meta" for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == reference.num_parameters() \
        == 124_439_808


def test_inspect_a_checkpoint(tiny_gpt2_dir):
    """The tiny GPT-2 (module docstring): 29,184 parameters as transformers counts them, no
    buffers (save_pretrained drops the masks), 4 heads from config.json; by layer 3,776 then
    12,704 twice; per head query 32 x 8 + 8 = 264, output 8 columns x 32 = 256 (its bias is
    no head's)."""
    from transformers import GPT2LMHeadModel

    found = inspector.inspect(str(tiny_gpt2_dir))
    assert found.parameters == GPT2LMHeadModel(tiny_gpt2_config()).num_parameters() == 29_184
    assert found.buffers == [] and found.tied and found.shape.n_heads == 4
    assert found.layers["parameters"].tolist() == [3_776, 12_704, 12_704]
    heads = found.heads
    assert heads.groupby("role")["parameters"].unique().map(list).to_dict() == {
        "query": [264], "key": [264], "value": [264], "output": [256]}
    assert len(heads) == 2 * 4 * 4
    tensors = found.tensors
    assert tensors["numel"].sum() - 3_200 == 29_184  # the unembedding row is the embedding
    assert "parameters: 29,184" in repr(found)
    assert "<h3>" in found._repr_html_() and "<svg" in found._repr_html_()


def test_check_verdicts(tiny_gpt2_dir):
    """Against its own config.json read as a spec: a match; against GPT-2 124M: a mismatch
    whose roles say expected 7,087,104 and found 2,112 query parameters (32 x 96 / 3 + 32)."""
    found = inspector.inspect(str(tiny_gpt2_dir))
    own = found.check(inspector.load_spec(str(tiny_gpt2_dir / "config.json")))
    assert own.ok and bool(own) and own["problems"] == []
    wrong = found.check("gpt2-124m")
    assert not wrong.ok and wrong.problems
    query = wrong.roles.set_index("role").loc["query"]
    assert (query["expected"], query["actual"]) == (7_087_104, 2_112)
    text = repr(wrong)
    assert "verdict: MISMATCH" in text and "problem: " in text
    assert "MISMATCH" in wrong._repr_html_()


def test_stats_against_numpy(tiny_gpt2_dir):
    """`stats` by layer: layer 0's mean, std, min, max and L2 equal float64 numpy over the
    block's tensors (c_attn once: its query, key and value parts cover it), and the totals'
    over every parameter (the tied unembedding once)."""
    from safetensors.numpy import load_file

    found = inspector.inspect(str(tiny_gpt2_dir))
    stats = found.stats(by="layer")
    tensors = load_file(tiny_gpt2_dir / "model.safetensors")
    block = np.concatenate([v.reshape(-1) for k, v in tensors.items()
                            if k.startswith("transformer.h.0.")]).astype(np.float64)
    everything = np.concatenate([v.reshape(-1) for v in tensors.values()]).astype(np.float64)
    layer0 = stats.table.set_index("layer").loc[0]
    assert layer0["values"] == block.size == 12_704
    assert layer0["mean"] == pytest.approx(block.mean(), rel=1e-12)
    assert layer0["std"] == pytest.approx(block.std(), rel=1e-12)
    assert (layer0["min"], layer0["max"]) == (block.min(), block.max())
    assert layer0["l2"] == pytest.approx(np.sqrt((block ** 2).sum()), rel=1e-12)
    assert stats.total["values"] == everything.size == 29_184
    assert stats.total["mean"] == pytest.approx(everything.mean(), rel=1e-12)
    assert "read: 28 tensors" in repr(stats) and "<table" in stats._repr_html_()


def test_diagram_saved_whole(tmp_path, tiny_gpt2_dir):
    """`.diagram()` shows as the command's figure and saves a page or a picture; anything else
    is refused with the command's error."""
    from inspector.errors import InspectorError

    picture = inspector.inspect(str(tiny_gpt2_dir)).diagram()
    assert "<svg" in picture._repr_html_() and picture.svg.startswith("<svg")
    page = picture.save(str(tmp_path / "out" / "model.html"))
    text = Path(page).read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "29,184" in text
    assert Path(picture.save(str(tmp_path / "m.svg"))).read_text(encoding="utf-8") == picture.svg
    with pytest.raises(InspectorError, match="must name a .html or .svg file"):
        picture.save(str(tmp_path / "model.png"))
    assert not (tmp_path / "model.png").exists()


def test_a_head_count_the_files_do_not_say(tmp_path):
    """Without config.json the heads table cannot be cut: the command's one-line error."""
    from gpt2_files import write_gpt2

    from inspector.errors import InspectorError

    found = inspector.inspect(str(write_gpt2(tmp_path / "gpt2", with_config=False)))
    with pytest.raises(InspectorError, match="head"):
        found.heads  # noqa: B018 (a property that raises)
    assert inspector.inspect(str(tmp_path / "gpt2"), spec="gpt2-124m").heads.shape == (
        12 * 12 * 4, 6)


def test_importing_inspector_stays_light():
    """`import inspector`, a count and its Jupyter picture import none of torch, numpy, pandas:
    only a DataFrame asks for pandas."""
    code = ("import sys, inspector; inspector.count('gpt3-175b')._repr_html_();"
            " print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'numpy', 'pandas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True).stdout
    assert out.strip() == "[]"


def test_inspect_a_peft_adapter(tmp_path, tiny_gpt2_dir):
    """A LoRA adapter (r 4 on GPT-2's fused c_attn, 2 layers of width 32): `inspector.inspect`
    reads it as `inspector inspect ADAPTER_DIR` does, by the roles of the base module it adapts.
    peft's own count: A 4 x 32 = 128 and B 96 x 4 = 384 a layer, 2 x 512 = 1,024. B's rows are
    the query's, key's and value's, 32 x 4 = 128 each a layer, 256 over 2 layers; A (256 over 2
    layers) is listed under query and shared by key and value."""
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2LMHeadModel

    model = get_peft_model(GPT2LMHeadModel.from_pretrained(tiny_gpt2_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"]))
    trainable, _ = model.get_nb_trainable_parameters()
    model.save_pretrained(tmp_path / "adapter")
    found = inspector.inspect(str(tmp_path / "adapter"))
    assert isinstance(found, inspector.InspectedAdapter)
    assert found.parameters == trainable == 1_024
    roles = found.roles.set_index("role")
    assert roles.loc["query", "lora_A"] == 2 * 4 * 32
    assert [int(roles.loc[r, "lora_B"]) for r in ("query", "key", "value")] == [256, 256, 256]
    assert found.layers["parameters"].tolist() == [512, 512]
    assert len(found.tensors) == 4
    assert found.check(str(tiny_gpt2_dir))["ok"]
    assert "LORA: r 4, lora_alpha 8" in repr(found) and "<table" in found._repr_html_()
