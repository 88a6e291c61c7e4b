"""`inspector diff A B`: value changes by role, layer, head and tensor, streamed block by block.

The checkpoints are tiny GPT-2s (transformers' names and shapes) whose values are k / 256 for
integers |k| <= 1000: every such value is exact in float32 and float16, 1.5 x it is exact in
float32, and sums of their squares are exact in float64. So a tensor scaled by 1.5 changes by
exactly 0.5 of its norm, and a float16 re-save holds exactly the same values.
"""

import json
import math

import numpy as np
import pytest
from conftest import MINILM_DIR, needs_minilm, run_cli
from gpt2_files import transformers_shapes, write_gpt2

from inspector.values import engine
from inspector.values.diff import diff, structural_lines, summary_pairs

CONFIG = {"vocab_size": 100, "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 4}
SCALED = "transformer.h.1.mlp.c_fc.weight"  # [32, 128] Conv1D: layer 1's up projection


def grid_values(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(-1000, 1001, size=shape) / 256).astype(np.float32)
            for name, shape in transformers_shapes(**CONFIG).items()}


def save(folder, tensors: dict[str, np.ndarray]):
    from safetensors.numpy import save_file
    from transformers import GPT2Config

    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(GPT2Config(**CONFIG).to_dict()))
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return save(tmp_path_factory.mktemp("a") / "a", grid_values())


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    tensors = grid_values()
    tensors[SCALED] = tensors[SCALED] * np.float32(1.5)
    return save(tmp_path_factory.mktemp("b") / "b", tensors)


def by_tensor(doc):
    return {(r["tensor"], r["role"]): r for r in doc["tensors"]}


def test_a_checkpoint_against_itself_is_zero_everywhere(base):
    result = run_cli("diff", base, base, "--by", "tensor", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["identical"] is True
    assert all(r["status"] == "same" and r["changed"] == 0 and r["rel_l2"] == 0.0
               and r["max_abs"] == 0.0 and r["cosine"] == 1.0 for r in doc["tensors"]
               if r["status"] != "tied")
    assert doc["total"]["values"] == 29_184  # the tiny GPT-2's parameters (test_analytic)
    assert doc["only_in_a"] == doc["only_in_b"] == doc["dtype_changes"] == []


def test_one_tensor_scaled_names_exactly_that_row(base, scaled):
    """b = 1.5 a in one tensor: ||b - a|| / ||a|| = ||0.5 a|| / ||a|| = 0.5 exactly; b is
    parallel to a, so the cosine is 1 (to rounding of the two square roots); the largest change
    is 0.5 max|a|. Every other row is unchanged, and the exit status is 1."""
    result = run_cli("diff", base, scaled, "--by", "tensor", "--format", "json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    changed = [r for r in doc["tensors"] if r["status"] not in ("same", "tied")]
    assert [(r["tensor"], r["role"], r["layer"]) for r in changed] == [(SCALED, "up", 1)]
    row = changed[0]
    a = grid_values()[SCALED]
    assert row["rel_l2"] == 0.5
    assert row["cosine"] == pytest.approx(1.0, abs=1e-15)
    assert row["max_abs"] == 0.5 * float(np.abs(a).max())
    assert row["changed"] == int(np.count_nonzero(a))
    assert row["values"] == 32 * 128


def test_roll_ups_are_exact_sums(base, scaled):
    """By role, `up` holds both layers' c_fc weights and biases; only layer 1's weight changed:
    rel = sqrt(0.25 S1) / sqrt(S_up), S1 the weight's sum of squares, S_up the role's. By layer,
    the same with layer 1's sum. Both from numpy here, independently of the streaming."""
    values = grid_values()
    s1 = float(np.sum(values[SCALED].astype(np.float64) ** 2))
    up = [f"transformer.h.{i}.mlp.c_fc.{k}" for i in (0, 1) for k in ("weight", "bias")]
    s_up = sum(float(np.sum(values[n].astype(np.float64) ** 2)) for n in up)
    s_layer1 = sum(float(np.sum(v.astype(np.float64) ** 2)) for n, v in values.items()
                   if n.startswith("transformer.h.1."))
    roles = {r["role"]: r for r in diff(str(base), str(scaled), "role", progress=False)["roles"]}
    assert roles["up"]["rel_l2"] == pytest.approx(math.sqrt(0.25 * s1 / s_up), rel=1e-12)
    assert roles["up"]["status"] == "changed"
    assert {name: r["status"] for name, r in roles.items() if r["status"] != "same"} == {
        "up": "changed", "unembedding": "tied to embedding"}
    layers = {r["layer"]: r for r in diff(str(base), str(scaled), "layer",
                                          progress=False)["layers"]}
    assert layers[1]["rel_l2"] == pytest.approx(math.sqrt(0.25 * s1 / s_layer1), rel=1e-12)
    assert layers[0]["status"] == layers[None]["status"] == "same"


def test_small_blocks_give_the_same_answer(base, scaled):
    """Blocks of 100 values cut every 128-wide row in pieces: the sums are exact here, so the
    streamed answer is equal, not merely close."""
    whole = diff(str(base), str(scaled), "tensor", progress=False)
    pieces = diff(str(base), str(scaled), "tensor", block_values=100, workers=2,
                  progress=False)
    assert pieces == whole


def test_a_fused_tensor_scaled_changes_its_three_rows(base, tmp_path):
    """c_attn holds query, key and value: scaling it changes those three rows of layer 0, each
    by exactly 0.5."""
    tensors = grid_values()
    tensors["transformer.h.0.attn.c_attn.weight"] *= np.float32(1.5)
    doc = diff(str(base), str(save(tmp_path / "fused", tensors)), "tensor", progress=False)
    changed = {(r["role"], r["layer"]): r["rel_l2"] for r in doc["tensors"]
               if r["status"] == "changed"}
    assert changed == {("query", 0): 0.5, ("key", 0): 0.5, ("value", 0): 0.5}


def test_one_head_scaled(base, tmp_path):
    """Query head 2 of layer 0 is columns 16..24 of the Conv1D c_attn [32, 96] (d_head 8):
    scaled by 1.5, --by head names that head's query rows (weight and bias) and nothing else."""
    tensors = grid_values()
    tensors["transformer.h.0.attn.c_attn.weight"][:, 16:24] *= np.float32(1.5)
    tensors["transformer.h.0.attn.c_attn.bias"][16:24] *= np.float32(1.5)
    doc = diff(str(base), str(save(tmp_path / "head", tensors)), "head", progress=False)
    changed = {(r["layer"], r["head"], r["role"], r["kind"], r["rel_l2"]) for r in doc["heads"]
               if r["status"] != "same"}
    assert changed == {(0, 2, "query", "weight", 0.5), (0, 2, "query", "bias", 0.5)}
    assert len(doc["heads"]) == 2 * 4 * 7  # 2 layers x 4 heads x (q, k, v w+b, output w)


def test_float16_resave_reports_the_dtype_change(base, tmp_path):
    """Every value k / 256 is exact in float16: the values compare equal, the dtype did not."""
    half = {name: v.astype(np.float16) for name, v in grid_values().items()}
    result = run_cli("diff", base, save(tmp_path / "half", half), "--format", "json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["total"]["changed"] == 0 and doc["total"]["rel_l2"] == 0.0
    assert {c["tensor"]: (c["a"], c["b"]) for c in doc["dtype_changes"]} == {
        name: ("F32", "F16") for name in grid_values()}
    assert {r["role"]: (r["dtype"], r["status"]) for r in doc["roles"]}["up"] == (
        "F32 -> F16", "dtype changed")
    table = run_cli("diff", base, save(tmp_path / "half", half)).stdout
    assert "dtype: F32 -> F16 in 28 stored tensors (" in table


def test_a_dtype_change_alone_is_the_verdicts_reason(base, tmp_path):
    """Within a tolerance, a float16 re-save changes no value: the verdict still says DIFFERENT
    and why. 28 stored tensors = wte, wpe, ln_f (2) and 12 per layer x 2 layers; 29,184 values."""
    half = {name: v.astype(np.float16) for name, v in grid_values().items()}
    result = run_cli("diff", base, save(tmp_path / "half", half), "--tolerance", "1e-3")
    assert result.returncode == 1
    assert ("verdict   DIFFERENT: dtype changed in 28 stored tensors (the 29,184 parameter values"
            " compared are all equal within 0.001)") in result.stdout.splitlines()
    doc = diff(str(base), str(tmp_path / "half"), tolerance=1e-3, progress=False)
    assert doc["differences"] == ["dtype changed in 28 stored tensors"]
    assert doc["total"]["changed"] == 0 and doc["total"]["values"] == 29_184


def test_tensor_missing_from_one_side(base, tmp_path):
    tensors = grid_values()
    del tensors["transformer.ln_f.weight"]
    result = run_cli("diff", base, save(tmp_path / "no-ln-f", tensors), "--format", "json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert [t["tensor"] for t in doc["only_in_a"]] == ["transformer.ln_f.weight"]
    assert doc["only_in_b"] == []
    swapped = json.loads(run_cli("diff", tmp_path / "no-ln-f", base, "--format", "json").stdout)
    assert [t["tensor"] for t in swapped["only_in_b"]] == ["transformer.ln_f.weight"]
    text = run_cli("diff", base, tmp_path / "no-ln-f").stdout
    assert "only in A: transformer.ln_f.weight F32 [32]" in text
    assert doc["differences"] == ["1 stored tensor only in A"]
    # norm: ln_1 and ln_2 weight and bias in 2 layers (8) and ln_f's 2: one of 10 is missing.
    roles = {r["role"]: r for r in doc["roles"]}
    assert roles["norm"]["status"] == "only in A (1 of 10 rows)"
    assert all(roles["norm"][k] is None for k in ("values", "changed", "rel_l2", "max_abs"))
    assert roles["up"]["status"] == "same" and roles["up"]["values"] == 2 * (32 * 128 + 128)
    assert doc["not_compared"] == {"rows": 1, "values_a": 32, "values_b": 0,
                                   "why": {"only in A": 1}}


def test_tolerance(base, tmp_path):
    """One tensor moved by 1/512 everywhere: different bit for bit, equal within 0.01."""
    tensors = grid_values()
    tensors[SCALED] = tensors[SCALED] + np.float32(1 / 512)
    moved = save(tmp_path / "moved", tensors)
    assert run_cli("diff", base, moved).returncode == 1
    assert run_cli("diff", base, moved, "--tolerance", "0.01").returncode == 0
    doc = diff(str(base), str(moved), "tensor", tolerance=0.001, progress=False)
    row = next(r for r in doc["tensors"] if r["tensor"] == SCALED)
    assert row["max_abs"] == 1 / 512 and row["changed"] == 32 * 128


def test_shape_change_and_bad_input(base, tmp_path):
    """A 48-wide MLP on one side (the rest of A's values kept): its up and down weights and the up
    bias cannot be paired. Their rows have no metrics and say "shape changed"; so do the roll-ups
    that hold them, with how many of their rows were left out, and the total counts the values
    compared: 29,184 - 2 x (32 x 128 + 128 + 128 x 32) = 29,184 - 16,640 = 12,544 of A's,
    beside B's 2 x (32 x 48 + 48 + 48 x 32) = 6,240 not compared. Shape changes are listed with
    stored names and stored shapes (Conv1D: [in, out]), as transformers' state dict has them.
    Unreadable input and a negative tolerance exit 2 with one line."""
    other = dict(CONFIG, n_inner=48)
    shapes_a, shapes_b = transformers_shapes(**CONFIG), transformers_shapes(**other)
    resized = [n for n in shapes_b if shapes_b[n] != shapes_a[n]]
    tensors = grid_values()
    rng = np.random.default_rng(1)
    tensors.update({n: (rng.integers(-1000, 1001, size=shapes_b[n]) / 256).astype(np.float32)
                    for n in resized})
    from safetensors.numpy import save_file
    from transformers import GPT2Config

    folder = tmp_path / "narrow"
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(GPT2Config(**other).to_dict()))
    result = run_cli("diff", base, folder, "--by", "tensor", "--format", "json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert {c["tensor"]: (c["a"], c["b"]) for c in doc["shape_changes"]} == {
        n: (shapes_a[n], shapes_b[n]) for n in resized} == {
        f"transformer.h.{i}.mlp.{name}": shapes for i in (0, 1) for name, shapes in (
            ("c_fc.weight", ([32, 128], [32, 48])), ("c_fc.bias", ([128], [48])),
            ("c_proj.weight", ([128, 32], [48, 32])))}
    unpaired = [r for r in doc["tensors"] if r["status"] == "shape changed"]
    assert sorted(r["tensor"] for r in unpaired) == sorted(resized)
    assert all(r[k] is None for r in unpaired
               for k in ("values", "changed", "rel_l2", "max_abs", "cosine", "nonfinite"))
    assert doc["total"]["values"] == 12_544 and doc["total"]["changed"] == 0
    assert doc["not_compared"] == {"rows": 6, "values_a": 16_640, "values_b": 6_240,
                                   "why": {"shape changed": 6}}
    assert doc["differences"] == ["shape changed in 6 stored tensors"]

    roles = {r["role"]: r for r in diff(str(base), str(folder), progress=False)["roles"]}
    assert roles["up"]["status"] == "shape changed"  # both layers' weight and bias
    assert roles["down"]["status"] == "shape changed (2 of 4 rows)"  # the biases kept [32]
    for name in ("up", "down"):
        assert [roles[name][k] for k in ("values", "changed", "rel_l2", "max_abs")] == [None] * 4
    assert roles["query"]["status"] == "same" and roles["query"]["rel_l2"] == 0.0
    layers = {r["layer"]: r for r in diff(str(base), str(folder), "layer",
                                          progress=False)["layers"]}
    # 16 rows a layer: ln_1, ln_2 (2 each), q k v weights and biases (6), attention output (2),
    # c_fc (2), c_proj (2); 3 changed shape.
    assert layers[0]["status"] == layers[1]["status"] == "shape changed (3 of 16 rows)"
    assert layers[0]["values"] is None and layers[0]["rel_l2"] is None
    assert layers[None]["status"] == "same" and layers[None]["values"] == 100 * 32 + 16 * 32 + 64

    missing = run_cli("diff", base, tmp_path / "nothing")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    negative = run_cli("diff", base, base, "--tolerance", "-1")
    assert negative.returncode == 2 and "--tolerance" in negative.stderr


def test_gpt2_with_a_narrower_mlp_header_only(tmp_path):
    """GPT-2 124M as the hub published it with n_inner 3000, against transformers' form with
    3072 (header-only files, all values zero). Per layer c_fc weight and bias and c_proj weight
    cannot be compared: A holds 12 x (768 x 3000 x 2 + 3000) = 55,332,000 such values, B
    12 x (768 x 3072 x 2 + 3072) = 56,659,968; compared: 124,439,808 - 56,659,968 = 67,779,840
    (B's parameters from transformers, less the resized). Shape lines pair each side's stored
    name with its stored shape; the causal-mask buffers are only in A."""
    a = write_gpt2(tmp_path / "a", "published", n_inner=3000)
    b = write_gpt2(tmp_path / "b", "transformers")
    shapes_b = transformers_shapes()
    assert sum(math.prod(s) for s in shapes_b.values()) == 124_439_808
    doc = diff(str(a), str(b), "layer", progress=False)
    assert doc["total"]["values"] == 67_779_840
    assert doc["not_compared"] == {"rows": 48, "values_a": 55_332_000, "values_b": 56_659_968,
                                   "why": {"shape changed": 36, "only in A": 12}}
    assert {r["layer"]: (r["values"], r["status"]) for r in doc["layers"]} == {
        None: (50_257 * 768 + 1024 * 768 + 2 * 768, "same"),
        **{i: (None, "shape changed (3 of 16 rows)") for i in range(12)}}
    assert doc["differences"] == ["shape changed in 36 stored tensors",
                                  "12 stored tensors only in A"]
    assert structural_lines(doc) == [
        "only in A: 12 x h.N.attn.bias F32 [1, 1, 1024, 1024]",
        ("shape: 12 x h.N.mlp.c_fc.weight [768, 3000] -> transformer.h.N.mlp.c_fc.weight"
         " [768, 3072]"),
        "shape: 12 x h.N.mlp.c_fc.bias [3000] -> transformer.h.N.mlp.c_fc.bias [3072]",
        ("shape: 12 x h.N.mlp.c_proj.weight [3000, 768] -> transformer.h.N.mlp.c_proj.weight"
         " [3072, 768]")]
    assert shapes_b["transformer.h.0.mlp.c_fc.weight"] == [768, 3072]  # stored [in, out]
    assert dict(summary_pairs(doc))["compared"].startswith(
        "67,779,840 parameter values, of A's 123,111,840 and B's 124,439,808;")


@needs_minilm
def test_two_architectures_are_said_to_differ_once(tmp_path):
    """all-MiniLM-L6-v2 (BERT) against GPT-2 124M (header-only): no row is paired, no value read;
    the verdict says why, the counts say what each side holds (parameters as transformers counts
    them: BertModel with its pooler, GPT2LMHeadModel with the unembedding tied), and no role
    table of empty rows follows. Exit 1: they differ, and diff could say so."""
    import torch
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        bert = BertModel(BertConfig.from_pretrained(MINILM_DIR))
    bert_params = sum(p.numel() for p in bert.parameters())
    gpt2_params = sum(math.prod(s) for s in transformers_shapes().values())
    assert (bert_params, gpt2_params) == (22_713_216, 124_439_808)
    gpt2 = write_gpt2(tmp_path / "gpt2", "transformers")
    result = run_cli("diff", MINILM_DIR, gpt2)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    # What differs in the architecture comes first (issue 23), then what each side holds.
    assert lines[2:12] == [
        ("verdict       DIFFERENT: different architectures: A is bert, B is gpt2; no tensor is"
         " paired across them, so no values were compared"),
        "architecture  n_layers: A 6, B 12",
        "architecture  d_model: A 384, B 768",
        "architecture  vocab_size: A 30,522, B 50,257",
        "architecture  d_ff: A 1,536, B 3,072",
        "architecture  d_head: A 32, B 64",
        "architecture  family: A bert, B gpt2",
        "not compared  all parameter values: 22,713,216 of A, 124,439,808 of B",
        "only in A     104 stored tensors",
        "only in B     148 stored tensors"]
    assert not any(line.startswith("role") for line in lines)
    doc = json.loads(run_cli("diff", MINILM_DIR, gpt2, "--format", "json").stdout)
    assert doc["roles"] == [] and doc["tensors_compared"] == doc["bytes_read"] == 0
    assert (len(doc["only_in_a"]), len(doc["only_in_b"])) == (104, 148)
    assert doc["total"]["rel_l2"] is None and doc["shape_changes"] == []
    assert doc["architectures"] == {"a": "bert", "b": "gpt2"}


def test_heads_table_does_not_hide_other_changes(base, scaled):
    """--by head shows attention rows only; the MLP weight scaled in `scaled` still makes the
    verdict DIFFERENT, with its changed values (the nonzero ones of that tensor) counted."""
    doc = diff(str(base), str(scaled), "head", progress=False)
    nonzero = int(np.count_nonzero(grid_values()[SCALED]))
    assert all(r["status"] == "same" for r in doc["heads"])
    assert doc["identical"] is False
    assert doc["differences"] == [f"{nonzero:,} of 29,184 values changed"]
    assert run_cli("diff", base, scaled, "--by", "head").returncode == 1


def test_threads_follow_the_rule_of_stats(base, monkeypatch):
    """No --threads: diff asks engine.default_workers (one per idle core), as stats does."""
    calls = []
    monkeypatch.setattr(engine, "default_workers", lambda: calls.append(1) or 1)
    diff(str(base), str(base), progress=False)
    assert calls == [1]
    diff(str(base), str(base), workers=2, progress=False)
    assert calls == [1]


@needs_minilm
def test_real_checkpoint_against_itself_and_a_float16_copy(tmp_path):
    """all-MiniLM-L6-v2 against itself: identical (exit 0). Against its float16 re-save: every
    parameter tensor is F32 -> F16 (103 of them; the I64 position_ids buffer stays), and the
    values move by float16 rounding only: relative L2 under 2^-11, cosine above 1 - 1e-6."""
    from safetensors.numpy import load_file, save_file

    assert run_cli("diff", MINILM_DIR, MINILM_DIR).returncode == 0
    tensors = load_file(str(MINILM_DIR / "model.safetensors"))
    half = {n: (v.astype(np.float16) if v.dtype == np.float32 else v) for n, v in tensors.items()}
    folder = tmp_path / "half"
    folder.mkdir()
    save_file(half, str(folder / "model.safetensors"))
    (folder / "config.json").write_text((MINILM_DIR / "config.json").read_text())
    result = run_cli("diff", MINILM_DIR, folder, "--format", "json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert len(doc["dtype_changes"]) == 103
    assert doc["total"]["rel_l2"] < 2 ** -11
    assert doc["total"]["cosine"] > 1 - 1e-6


def test_nan_and_inf():
    """NaN against NaN at one place, and equal Infs, compare equal; a NaN on one side only is a
    change, counted apart and left out of the sums (max_abs None: Infinity is not JSON)."""
    from inspector.values.diff import compare

    def whole(a, b):  # one window: 1 row of 4 values
        return compare(a, None, b, None, 0, 1, 4, 4, 0.0)

    a = np.array([1.0, np.nan, np.inf, 2.0], np.float32)
    same = whole(a, a.copy()).as_dict()
    assert same["changed"] == 0 and same["nonfinite"] == 0 and same["max_abs"] == 0.0
    assert same["rel_l2"] == 0.0 and same["cosine"] == 1.0
    b = np.array([1.0, np.nan, np.inf, np.nan], np.float32)
    one_sided = whole(a, b).as_dict()
    assert one_sided["changed"] == 1 and one_sided["nonfinite"] == 1
    assert one_sided["max_abs"] is None and one_sided["rel_l2"] == 0.0


def test_windows_compared_together_agree_with_each_compared_alone():
    """kernels.compare_many compares the windows of one block (fused parts, heads) in one pass,
    row by row; each window's result must be the one compare() gives it alone: counts and the
    largest change exactly, sums to 1e-12. The second window has a NaN on one side only: it
    alone goes through the checked kernel (one change, counted as non-finite)."""
    from inspector.values import kernels

    rng = np.random.default_rng(4)
    a = rng.standard_normal((30, 36)).astype(np.float32)
    b = a + (rng.random(a.shape) < 0.3) * rng.standard_normal(a.shape).astype(np.float32)
    b[4, 15] = np.nan
    windows = [(0, 30, 12, 36), (12, 30, 12, 36), (24, 29, 12, 36), (3, 30, 5, 36)]
    ra, rb = a.reshape(-1), b.reshape(-1)
    together = kernels.compare_many(ra, None, rb, None, windows, 0.25)
    for window, got in zip(windows, together):
        alone = kernels.compare(ra, None, rb, None, *window, 0.25)
        assert (got[0], got[5], got[6]) == (alone[0], alone[5], alone[6]), window
        assert got[1:5] == pytest.approx(alone[1:5], rel=1e-12), window
    assert together[1][6] == 1 and all(t[6] == 0 for t in together[::2])


@pytest.mark.parametrize("dtypes", [("F32", "F32"), ("BF16", "BF16"), ("F32", "F16"),
                                    ("F16", "BF16"), ("I64", "F32")])
def test_fast_kernel_agrees_with_the_checked_one(dtypes):
    """inspector.values.kernels' SIMD comparison (the largest change by llvm.maxnum flagged no-NaN)
    against its value-by-value one, on a strided window of finite values: the same count of
    changes and largest change exactly, sums to 1e-12; so does numpy's (kernels.arrays)."""
    from inspector.values import blocks as V
    from inspector.values.kernels import arrays
    from inspector.values.kernels import diff as kernels

    rng = np.random.default_rng(2)
    sides = []
    for dtype in dtypes:
        x = rng.standard_normal((40, 30)).astype(np.float32) * 8
        if dtype == "BF16":
            raw = (x.view(np.uint32) >> 16).astype(np.uint16).view(np.int16)
        elif dtype == "F16":
            raw = x.astype(np.float16).view(np.uint16)
        else:
            raw = x.astype(V.RAW[dtype])
        raw = raw.reshape(-1)
        raw.flags.writeable = False
        sides += [raw, V.HOW.get(dtype, lambda: None)()]
    sides[2] = sides[2].copy()
    for first, rows, cols, stride, tolerance in [(0, 40, 30, 30, 0.0), (7, 20, 11, 30, 0.0),
                                                 (3, 10, 25, 30, 0.5)]:
        fast = kernels._compare_fast(*sides, first, rows, cols, stride, tolerance)
        checked = kernels._compare_checked(*sides, first, rows, cols, stride, tolerance)
        assert checked[6] == 0 and int(fast[0]) == checked[0] and fast[5] == checked[5]
        assert fast[1:5] == pytest.approx(checked[1:5], rel=1e-12)
        if "I64" not in dtypes:  # numpy's comparison (the first path of F32, BF16, F16) too
            by_numpy = arrays.compare(*sides, first, rows, cols, stride, tolerance)
            assert by_numpy[0] == checked[0] and by_numpy[5:] == checked[5:]
            assert by_numpy[1:5] == pytest.approx(checked[1:5], rel=1e-12)
