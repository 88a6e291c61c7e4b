"""Pictures: the data behind them is tested (shares, norms), the files only for being PNGs."""

import math
import subprocess
import sys

import pytest
from conftest import MINILM_DIR, needs_minilm, run_cli

from inspector.output.plots import ROLE_COLORS, default_share_specs, norm_data, share_data
from inspector.spec.loading import load_spec, shipped_names
from inspector.vocab.roles import Role

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG


def test_every_role_has_one_color():
    assert set(ROLE_COLORS) >= {role.value for role in Role}
    assert len(set(ROLE_COLORS.values())) == len(ROLE_COLORS)


@pytest.mark.parametrize("name", shipped_names())
def test_shares_sum_to_100_per_spec(name):
    """Counts per role add up to the spec's total exactly; shares are 100 x count / total."""
    [entry] = share_data([load_spec(name)])
    assert sum(entry["counts"].values()) == entry["parameters"]
    assert sum(entry["shares"].values()) == pytest.approx(100.0, abs=1e-9)


def test_gpt2_124m_shares():
    """Embedding 50257 x 768 = 38,597,376 of 124,439,808 = 31.017%; up and down
    12 x (768 x 3072 + 3072) = 28,348,416 and 12 x (3072 x 768 + 768) = 28,320,768. The tied
    unembedding has no share of its own."""
    [entry] = share_data([load_spec("gpt2-124m")])
    assert entry["counts"]["embedding"] == 38_597_376
    assert entry["shares"]["embedding"] == pytest.approx(100 * 38_597_376 / 124_439_808)
    assert entry["counts"]["up"] == 28_348_416 and entry["counts"]["down"] == 28_320_768
    assert "unembedding" not in entry["shares"]


def test_default_share_specs_go_from_small_to_large():
    names = default_share_specs()
    assert names[0] == "gpt2-124m"
    data = share_data([load_spec(n) for n in names])
    small, large = data[0], max(data, key=lambda d: d["parameters"])
    mlp = ("up", "gate", "down")
    assert small["shares"]["embedding"] > large["shares"]["embedding"]
    assert sum(large["shares"].get(r, 0) for r in mlp) > sum(small["shares"].get(r, 0)
                                                             for r in mlp)


def test_plot_shares_writes_a_png(tmp_path):
    out = tmp_path / "shares.png"
    result = run_cli("plot", "shares", "gpt2-124m", "gpt2-1558m", "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and is_png(out)
    bad = run_cli("plot", "shares", "gpt2-124m", "--out", tmp_path / "shares.jpg")
    assert bad.returncode == 2 and ".png" in bad.stderr


def test_norm_data_is_sqrt_of_summed_squares(tiny_gpt2_dir):
    """A role's norm in a layer is sqrt(sum of its tensors' squares): layer 1's `up` is
    sqrt(||c_fc.weight||^2 + ||c_fc.bias||^2), computed here from the file with numpy in float64.
    inspector.values.stats adds float32 rows of up to 4096 values in float32 before float64, so the two
    agree to float32 precision (1e-6), not to the last bit."""
    import numpy as np
    from safetensors.numpy import load_file

    from inspector.checkpoint.inspection import inspect_source
    from inspector.values.stats import weight_stats

    values = load_file(str(tiny_gpt2_dir / "model.safetensors"))
    expected = math.sqrt(sum(float(np.sum(values[f"transformer.h.1.mlp.c_fc.{k}"]
                                          .astype(np.float64) ** 2)) for k in ("weight", "bias")))
    rows = weight_stats(inspect_source(str(tiny_gpt2_dir)).decoupled, by="tensor",
                        progress=False)["tensors"]
    data = norm_data(rows)
    assert data["layers"]["up"][1] == pytest.approx(expected, rel=1e-6)
    assert set(data["layers"]["query"]) == {0, 1}
    embedding = float(np.sqrt(np.sum(values["transformer.wte.weight"].astype(np.float64) ** 2)))
    assert data["outside"]["embedding"] == pytest.approx(embedding, rel=1e-6)
    assert "unembedding" not in data["outside"]  # tied: the embedding's storage, once


def test_plot_norms_writes_a_png(tiny_gpt2_dir, tmp_path):
    out = tmp_path / "norms.png"
    result = run_cli("plot", "norms", tiny_gpt2_dir, "--out", out)
    assert result.returncode == 0, result.stderr
    assert is_png(out)


@needs_minilm
def test_plot_norms_of_a_real_checkpoint(tmp_path):
    out = tmp_path / "minilm.png"
    assert run_cli("plot", "norms", MINILM_DIR, "--out", out).returncode == 0
    assert is_png(out)


def test_matplotlib_only_when_drawing():
    code = ("import sys, inspector.output.plots, inspector.cli.main; from inspector.output.plots import share_data;"
            " from inspector.spec.loading import load_spec; share_data([load_spec('gpt2-124m')]);"
            " assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_norms_of_a_qkv_whose_parts_alternate_per_head(tmp_path):
    """GPT-NeoX's query_key_value holds each head's query, key and value rows in turn ("(h three
    d)"): `plot norms` cuts it by the heads its config.json gives, and layer 0's query norm is
    transformers' own cut of that tensor, (heads, 3, d_head, d)[:, 0] and its bias, in float64."""
    import numpy as np
    import torch
    import transformers
    from family_cases.older_decoders import CASES

    from inspector.output.plots import checkpoint_norms

    case = next(c for c in CASES if c.model_type == "gpt_neox")
    torch.manual_seed(0)
    model = transformers.GPTNeoXForCausalLM(
        transformers.AutoConfig.for_model("gpt_neox", **case.config))
    model.save_pretrained(tmp_path / "neox")
    result = run_cli("plot", "norms", tmp_path / "neox", "--out", tmp_path / "norms.png")
    assert result.returncode == 0, result.stderr
    qkv = model.gpt_neox.layers[0].attention.query_key_value
    heads, d = model.config.num_attention_heads, model.config.hidden_size
    weight = qkv.weight.detach().double().numpy().reshape(heads, 3, d // heads, d)[:, 0]
    bias = qkv.bias.detach().double().numpy().reshape(heads, 3, d // heads)[:, 0]
    expected = math.sqrt(float(np.sum(weight ** 2) + np.sum(bias ** 2)))
    norms = checkpoint_norms(str(tmp_path / "neox"))
    assert norms["layers"]["query"][0] == pytest.approx(expected, rel=1e-9)
