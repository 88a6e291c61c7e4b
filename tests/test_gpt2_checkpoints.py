"""GPT-2 checkpoints decoupled and checked: both real forms, a wrong MLP width, a missing ln_f,
the fused QKV split, buffers and tied weights."""

import json

import pytest
from conftest import run_cli
from gpt2_files import write_gpt2

from inspector.checkpoint.tensor_rows import decouple
from inspector.formats import open_checkpoint
from inspector.vocab.tables import head_table, role_table, total


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt2-forms")
    return {form: write_gpt2(root / form, form) for form in ("transformers", "published")}


@pytest.mark.parametrize("form", ["transformers", "published"])
def test_both_forms_match_gpt2_124m(forms, form):
    """Parameters 124,439,808 in both forms; the published one also stores 12 causal masks of
    1 x 1 x 1024 x 1024 = 1,048,576 values: 124,439,808 + 12,582,912 = 137,022,720 stored."""
    result = run_cli("check", forms[form], "--spec", "gpt2-124m", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is True
    assert verdict["total"] == {"expected": 124_439_808, "actual": 124_439_808}
    masks = verdict["buffers"]
    if form == "published":
        assert masks == [{"name": f"h.{i}.attn.bias", "numel": 1_048_576} for i in range(12)]
        stored = sum(t.numel for t in open_checkpoint(str(forms[form])).tensors)
        assert stored == 137_022_720 == 124_439_808 + 12 * 1024 * 1024
    else:
        assert masks == []


def test_inspect_json_contract(forms):
    result = run_cli("inspect", forms["published"], "--format", "json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert {"source", "format", "tensors", "parameters", "buffers", "bytes", "dtypes",
            "roles"} <= set(doc)
    # 148 parameter tensors + 12 masks; bytes = 137,022,720 values x 4 bytes (F32)
    assert (doc["tensors"], doc["parameters"], doc["bytes"]) == (160, 124_439_808, 548_090_880)
    assert doc["dtypes"] == {"F32": 160}
    assert doc["format"] == "safetensors"
    assert [r["role"] for r in doc["roles"]] == ["embedding", "position", "query", "key", "value",
                                                 "output", "up", "down", "unembedding", "norm"]
    for role in doc["roles"]:
        assert set(role) == {"role", "weights", "biases", "parameters", "tied_to"}


def test_mlp_3000_wide_fails_up_and_down(tmp_path):
    """d_ff 3000 instead of 3072: up = 12 x (768 x 3000 + 3000) = 27,684,000 and
    down = 12 x (3000 x 768 + 768) = 27,657,216, against 28,348,416 and 28,320,768."""
    folder = write_gpt2(tmp_path / "narrow", n_inner=3000)
    result = run_cli("check", folder, "--spec", "gpt2-124m", "--format", "json")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    failed = {r["role"]: r for r in verdict["roles"] if not r["ok"]}
    assert set(failed) == {"up", "down"}
    assert (failed["up"]["expected"], failed["up"]["actual"]) == (28_348_416, 27_684_000)
    assert (failed["down"]["expected"], failed["down"]["actual"]) == (28_320_768, 27_657_216)
    assert any("layers.0.mlp.up.weight" in p and "[3000, 768]" in p for p in verdict["problems"])


def test_missing_ln_f_fails_norm(tmp_path):
    """Without ln_f the norms hold 24 x 1,536 = 36,864, not 38,400."""
    folder = write_gpt2(tmp_path / "no-ln-f", drop=("transformer.ln_f.weight",
                                                    "transformer.ln_f.bias"))
    result = run_cli("check", folder, "--spec", "gpt2-124m", "--format", "json")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert [r["role"] for r in verdict["roles"] if not r["ok"]] == ["norm"]
    norm = next(r for r in verdict["roles"] if r["role"] == "norm")
    assert (norm["expected"], norm["actual"]) == (38_400, 36_864)
    assert "final_norm.weight (norm): missing, expected [768]" in verdict["problems"]
    table = run_cli("check", folder, "--spec", "gpt2-124m")
    assert table.returncode == 1 and "MISMATCH" in table.stdout


def test_fused_qkv_is_three_rows_and_twelve_heads_each(forms):
    """c_attn.weight is stored (in, out) = [768, 2304]: three rows of [768, 768] in (out, in).
    Per head: 64 rows of 768 = 49,152 weights and 64 biases."""
    dec = decouple(open_checkpoint(str(forms["published"])))
    rows = [r for r in dec.rows if r.tensor == "h.0.attn.c_attn.weight"]
    assert [(r.role.value, r.shape, r.canonical) for r in rows] == [
        ("query", (768, 768), "layers.0.attn.query.weight"),
        ("key", (768, 768), "layers.0.attn.key.weight"),
        ("value", (768, 768), "layers.0.attn.value.weight"),
    ]
    assert sum(r.nbytes for r in rows) == 768 * 2304 * 4
    heads = head_table(dec.rows, 12, 12)
    layer0_query = [h for h in heads if h["layer"] == 0 and h["role"] == "query"]
    assert len(layer0_query) == 12
    assert layer0_query[5] == {"layer": 0, "head": 5, "role": "query", "weights": 49_152,
                               "biases": 64, "parameters": 49_216}
    # output: columns are cut by head, and its bias belongs to no head
    output = [h for h in heads if h["layer"] == 0 and h["role"] == "output"]
    assert len(output) == 12 and {(h["weights"], h["biases"]) for h in output} == {(768 * 64, 0)}
    # every head row of every layer adds up to the attention weights and q/k/v biases:
    # 12 x (4 x 589,824 + 3 x 768) = 28,339,200
    assert sum(h["parameters"] for h in heads) == 12 * (4 * 589_824 + 3 * 768) == 28_339_200


def test_inspect_by_head_needs_the_head_count(forms, tmp_path):
    assert run_cli("inspect", forms["published"], "--by", "head").returncode == 0
    bare = write_gpt2(tmp_path / "bare", with_config=False)
    result = run_cli("inspect", bare, "--by", "head")
    assert result.returncode == 2
    assert "heads" in result.stderr and "--spec" in result.stderr
    assert run_cli("inspect", bare, "--by", "head", "--spec", "gpt2-124m").returncode == 0


def test_tied_and_untied(forms, tmp_path):
    """The saved files have no lm_head: tied, shown once. An untied GPT-2 stores lm_head apart:
    124,439,808 + 38,597,376 = 163,037,184 parameters, and the tied spec then fails."""
    dec = decouple(open_checkpoint(str(forms["transformers"])))
    assert dec.tied
    unembedding = next(r for r in role_table(dec.rows) if r["role"] == "unembedding")
    assert unembedding["tied_to"] == "embedding"
    assert total(dec.rows) == 124_439_808

    folder = write_gpt2(tmp_path / "untied", tie_word_embeddings=False)
    dec = decouple(open_checkpoint(str(folder)))
    assert not dec.tied and total(dec.rows) == 163_037_184
    result = run_cli("check", folder, "--spec", "gpt2-124m", "--format", "json")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert [r["role"] for r in verdict["roles"] if not r["ok"]] == ["unembedding"]


def test_real_values_tiny_model(tiny_gpt2_dir):
    """A tiny GPT-2 written by transformers (d=32, L=2, V=100, n_ctx=16, d_ff=128):
    100x32 + 16x32 + 2 x (2x64 + 32x96+96 + 32x32+32 + 32x128+128 + 128x32+32) + 64
    = 3,200 + 512 + 2 x 12,704 + 64 = 29,184 = transformers' num_parameters()."""
    from transformers import GPT2LMHeadModel

    result = run_cli("inspect", tiny_gpt2_dir, "--format", "json")
    doc = json.loads(result.stdout)
    reference = GPT2LMHeadModel.from_pretrained(tiny_gpt2_dir).num_parameters()
    assert doc["parameters"] == reference == 29_184


def test_export_without_a_head_count_leaves_out_only_heads(tmp_path):
    """A bare model.safetensors says nothing of heads: roles, layers and tensors are still
    written (their sums still 124,439,808), heads is left out with one warning line."""
    bare = write_gpt2(tmp_path / "bare", "published", with_config=False)
    result = run_cli("export", bare / "model.safetensors", "--out", tmp_path / "out")
    assert result.returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["layers.csv", "roles.csv",
                                                                     "tensors.csv"]
    assert result.stderr.count("\n") == 1 and "heads table not written" in result.stderr
    assert "model.safetensors" in result.stderr


def test_a_spec_supplies_heads_not_the_shape(forms, tmp_path):
    """--spec llama2-7b on GPT-2 124M: the model line stays the checkpoint's own (12 layers,
    d_model 768) and the disagreements are said on stderr; heads come from the spec only when
    the files give none."""
    bare = write_gpt2(tmp_path / "bare", with_config=False)
    result = run_cli("inspect", bare, "--spec", "llama2-7b", "--format", "json")
    assert result.returncode == 0
    shape = json.loads(result.stdout)["shape"]
    assert (shape["n_layers"], shape["d_model"], shape["n_heads"]) == (12, 768, 32)
    assert shape["basis"] == "tensor shapes; heads from --spec llama2-7b"
    assert "says n_layers 32, the checkpoint has 12" in result.stderr
    own = run_cli("inspect", forms["published"], "--spec", "gpt2-355m", "--format", "json")
    assert json.loads(own.stdout)["shape"]["n_heads"] == 12  # config.json says 12: kept
    assert "says n_heads 16, the checkpoint has 12" in own.stderr
