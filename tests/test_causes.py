"""Answers that lead with the cause, and the small surprises a newcomer met (issue 23): `check`
and `diff` say what differs in the architecture before the tensors it changes; names, orders and
empty answers that read as mistakes are said plainly."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

# Tiny checkpoints of three families, built by `build` (config.json + model.safetensors): a
# 3-layer Qwen2 (query, key and value biases, tied), a 2-layer Llama (tied), a 3-layer Gemma 2.
TINY = {"source": "test", "vocab_size": 1000, "n_ctx": 128, "d_model": 64, "n_heads": 4,
        "n_kv_heads": 2, "d_ff": 128, "activation": "silu", "gated_mlp": True, "norm": "rmsnorm",
        "position": "rotary", "tied_embeddings": True}
SPECS = {
    "qwen2": {**TINY, "family": "qwen2", "n_layers": 3, "biases": {"qkv": True}},
    "llama": {**TINY, "family": "llama", "n_layers": 2, "d_ff": 96},
    "gemma2": {**TINY, "family": "gemma2", "n_layers": 3, "d_head": 16,
               "activation": "gelu_tanh", "norm_unit_offset": True, "norm_placement": "sandwich",
               "embedding_scale": "sqrt_d_model", "attention_scale": 0.25},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import yaml

    from inspector.building.checkpoint_writer import write_checkpoint
    from inspector.spec.loading import load_spec

    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for family, spec in SPECS.items():
        path = root / f"{family}.yaml"
        path.write_text(yaml.safe_dump({"name": f"tiny-{family}", **spec}))
        write_checkpoint(load_spec(str(path)), root / family)
        out[family] = root / family
    return out


def test_check_opens_with_what_differs_in_the_architecture(tiny):
    """A 3-layer Qwen2 against llama2-7b: the layer count, the widths, the heads, the family and
    the tie come first (the tie never hidden in `... and N more problems`), the tensors after."""
    result = run_cli("check", tiny["qwen2"], "--spec", "llama2-7b")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[2:13] == [
        "verdict       MISMATCH",
        "architecture  n_layers: spec 32, checkpoint 3",
        "architecture  d_model: spec 4,096, checkpoint 64",
        "architecture  vocab_size: spec 32,000, checkpoint 1,000",
        "architecture  d_ff: spec 11,008, checkpoint 128",
        "architecture  n_heads: spec 32, checkpoint 4",
        "architecture  n_kv_heads: spec 32, checkpoint 2",
        "architecture  d_head: spec 128, checkpoint 16",
        "architecture  family: spec llama, checkpoint qwen2",
        ("architecture  tied_embeddings: spec false, checkpoint true (its unembedding is the"
         " embedding's storage)"),
        "total         expected 6,738,415,616, found 175,424"]
    problems = [line for line in lines if line.startswith("problem: ")]
    assert problems[0].startswith("problem: embed.weight (embedding): expected [32000, 4096]")
    verdict = json.loads(run_cli("check", tiny["qwen2"], "--spec", "llama2-7b", "--format",
                                 "json").stdout)
    assert verdict["architecture"][0] == {"key": "n_layers", "spec": 32, "checkpoint": 3}
    assert verdict["problems"][:2] == ["n_layers: spec 32, checkpoint 3",
                                       "d_model: spec 4,096, checkpoint 64"]


def test_diagram_warning_and_check_share_one_comparison(tiny):
    """`--spec` on inspect (and diagram) words the same differences as a warning."""
    result = run_cli("inspect", tiny["qwen2"], "--spec", "llama2-7b")
    assert result.returncode == 0
    assert f"{tiny['qwen2']}: --spec llama2-7b says n_layers 32, the checkpoint has 3" \
        in result.stderr


def test_diff_of_two_architectures_never_lists_a_name_on_both_sides(tiny):
    """Gemma 2 against Llama: both store model.embed_tokens.weight [1000, 64]; it is on both
    sides (not compared), never `only in A` and `only in B`. The MLP of another width is a shape
    change; the third layer is only in A; the architecture is said first."""
    result = run_cli("diff", tiny["gemma2"], tiny["llama"], "--format", "json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    only_a = {t["tensor"] for t in doc["only_in_a"]}
    only_b = {t["tensor"] for t in doc["only_in_b"]}
    assert not only_a & only_b and only_b == set()
    assert "model.embed_tokens.weight" not in only_a
    assert {c["tensor"]: (c["a"], c["b"]) for c in doc["shape_changes"]} == {
        **{f"model.layers.{i}.mlp.{name}_proj.weight": ([128, 64], [96, 64])
           for i in (0, 1) for name in ("gate", "up")},
        **{f"model.layers.{i}.mlp.down_proj.weight": ([64, 128], [64, 96]) for i in (0, 1)}}
    assert doc["architecture"] == [{"key": "n_layers", "a": 3, "b": 2},
                                   {"key": "d_ff", "a": 128, "b": 96},
                                   {"key": "family", "a": "gemma2", "b": "llama"}]
    lines = run_cli("diff", tiny["gemma2"], tiny["llama"]).stdout.splitlines()
    assert lines[3:6] == ["architecture  n_layers: A 3, B 2", "architecture  d_ff: A 128, B 96",
                          "architecture  family: A gemma2, B llama"]
    assert "in both       20 stored tensors of the same name (values not compared); 6 of another" \
           " shape" in lines


def test_diff_of_one_family_says_the_architecture_first(tiny):
    """Qwen2 (3 layers) against Llama (2 layers) share a layout: values compared where rows
    pair, and the layers, widths and family said before the verdict's details."""
    lines = run_cli("diff", tiny["qwen2"], tiny["llama"]).stdout.splitlines()
    assert lines[3:6] == ["architecture  n_layers: A 3, B 2", "architecture  d_ff: A 128, B 96",
                          "architecture  family: A qwen2, B llama"]


def test_an_unknown_spec_name_suggests_the_names_it_begins():
    """The four GPT-2 sizes, then a pointer to `inspector specs` with the number of specs
    shipped (counted from the package's folder: it grows as specs are added)."""
    from inspector.spec.loading import shipped_names

    result = run_cli("count", "gpt2")
    assert result.returncode == 2
    assert result.stderr == ("inspector: error: gpt2: not a shipped spec (shipped specs that"
                             " start with 'gpt2': gpt2-124m, gpt2-1558m, gpt2-355m, gpt2-774m);"
                             f" `inspector specs` lists all {len(shipped_names())}\n")


def test_build_says_why_a_bias_it_refuses_is_counted(tmp_path):
    """`biases: true` on GPT-2 names an unembedding bias: count counts it, build refuses and
    says which biases a GPT-2 has."""
    import yaml

    from inspector.spec.loading import SPEC_DIR

    spec = yaml.safe_load((SPEC_DIR / "gpt2-124m.yaml").read_text())
    spec.update(name="gpt2-all-biases", biases=True)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    counted = json.loads(run_cli("count", path, "--format", "json").stdout)
    assert counted["total"] == 124_439_808 + 50_257  # the unembedding's bias, one per token
    built = run_cli("build", path, "--out", tmp_path / "out")
    assert built.returncode == 2
    assert built.stderr.endswith(
        ". The spec gives unembedding a bias (`biases: true` names every kind), so `count` counts"
        " it; a gpt2 model has biases: {qkv: true, attn_output: true, mlp: true, norm: true}\n")


def test_head_rows_come_in_role_order(tiny, tiny_gpt2_dir):
    """query, key, value, output in every `--by head` table, whatever order the file stores
    them in (safetensors sorts k_proj, o_proj, q_proj, v_proj)."""
    order = ["query", "key", "value", "output"]
    for source in (tiny["qwen2"], tiny_gpt2_dir):
        for command in (("inspect", source), ("stats", source), ("diff", source, source)):
            rows = json.loads(run_cli(*command, "--by", "head", "--format", "json").stdout)
            roles = [r["role"] for r in rows["heads"] if r["layer"] == 0]
            assert list(dict.fromkeys(roles)) == order, (command, roles)


def test_the_layer_outside_the_blocks_is_named(tiny):
    table = run_cli("inspect", tiny["llama"], "--by", "layer").stdout
    assert table.rstrip().endswith("\n\nlayer -: outside the layers (what no block holds:"
                                   " embeddings, final norm, unembedding)")
    csv = run_cli("inspect", tiny["llama"], "--by", "layer", "--format", "csv").stdout
    assert csv.splitlines()[1].startswith(",") and "outside" not in csv
    rows = json.loads(run_cli("inspect", tiny["llama"], "--by", "layer", "--format",
                              "json").stdout)["layers"]
    assert rows[0]["layer"] is None


def test_a_shared_layout_is_said_to_be_shared(tiny):
    lines = run_cli("inspect", tiny["qwen2"]).stdout.splitlines()
    assert lines[1] == "format      safetensors (llama layout, which qwen2 shares)"
    assert run_cli("inspect", tiny["llama"]).stdout.splitlines()[1] == \
        "format      safetensors (llama layout)"


def test_no_warning_where_the_family_gives_head_dim():
    """Qwen3 and Gemma 2 are built with attention wider (narrower) than the stream, as their
    config.json's head_dim says: no warning. GPT-3 13B's reading is the spec's own: warned."""
    for name in ("qwen3-30b-a3b", "gemma-2-2b", "gpt-oss-120b"):
        result = run_cli("count", name)
        assert result.returncode == 0 and result.stderr == "", name
    assert "differs from d_model 5,140" in run_cli("count", "gpt3-13b").stderr


@pytest.mark.slow
def test_demo_leaves_nothing_behind(tmp_path):
    """Without --out the demo's checkpoint and tables go into a temporary folder, removed at
    the end; the last line says where they were."""
    result = run_cli("demo", env={"TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    assert result.stdout.rstrip().splitlines()[-1].startswith("the checkpoint and tables were in"
                                                              f" {tmp_path}/inspector-demo-")
