"""`inspector diagram` of checkpoints read by the transformers path (no family module): a
state-space model's mixer is a box of its own, and the boxes add up to num_parameters().

Mamba (tests/reference_configs.py: 2 layers, d 64, vocab 256): its embedding 256 x 64 =
16,384, tied to the unembedding; each layer's mixer (in_proj, conv1d, x_proj, dt_proj, A_log,
D) a box, its out_proj the mixer's output projection. Jamba: the same mixers, with a dense MLP
in layer 0 and 4 experts in layer 1."""

from __future__ import annotations

import pytest
from conftest import run_cli
from reference_configs import save_hole_checkpoint
from test_diagram import drawn_boxes


@pytest.mark.parametrize("model_type", ["mamba", "jamba"])
def test_a_state_space_model_is_drawn_with_its_mixer(model_type, tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / model_type
    model = save_hole_checkpoint(model_type, folder)
    out = tmp_path / f"{model_type}.svg"
    result = run_cli("diagram", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    boxes = drawn_boxes(out)
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters()
    mixer = boxes["layers.{i}.ssm"]
    in_mixers = sum(p.numel() for name, p in model.named_parameters()
                    if any(f".{m}." in name for m in ("mixer", "mamba"))
                    and not any(part in name for part in ("out_proj", "layernorm")))
    assert mixer["role"] == "mixer" and int(mixer["params"]) == in_mixers
    assert boxes["layers.{i}.ssm.output"]["role"] == "output"
    text = out.read_text()
    assert "state-space mixer" in text and "other modules" not in text
    assert not any(key.startswith("layers.{i}.attn.") for key in boxes)
