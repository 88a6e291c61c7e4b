"""`inspector stats`: every statistic checked against numpy (or torch) computed directly on the
same tensors in float64, per stored tensor, per fused part, per head, and rolled up by role and
layer (where a roll-up must equal the statistics of all its values put together, not an average
of averages). Files are written by transformers, safetensors.numpy and safetensors.torch."""

from __future__ import annotations

import io
import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest
from conftest import SMOLLM2_GGUF, needs_smollm2, run_cli

from inspector.checkpoint.inspection import inspect_source
from inspector.values import blocks as V
from inspector.values.engine import progress
from inspector.values.stats import weight_stats

STATS = ("mean", "std", "min", "max", "absmax", "l2", "zeros", "nan", "inf", "values")


def reference(values: np.ndarray) -> dict:
    """The statistics computed directly, in float64, over the finite values (zeros over all)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = x[np.isfinite(x)]
    out = {"values": x.size, "nan": int(np.isnan(x).sum()), "inf": int(np.isinf(x).sum()),
           "zeros": float((x == 0).sum() / x.size) if x.size else None}
    if finite.size:
        out.update(mean=finite.mean(), std=finite.std(), min=finite.min(), max=finite.max(),
                   absmax=np.abs(finite).max(), l2=math.sqrt((finite * finite).sum()))
    else:
        out.update(mean=None, std=None, min=None, max=None, absmax=None, l2=None)
    return out


def assert_close(got: dict, want: dict, what: str) -> None:
    """Counts, min and max exactly; mean to 1e-6 of the spread; std and l2 to 1e-6 relative."""
    for key in ("values", "nan", "inf", "min", "max", "absmax", "zeros"):
        assert got[key] == (pytest.approx(want[key]) if key == "zeros" else want[key]), \
            (what, key, got[key], want[key])
    if want["mean"] is None:
        assert got["mean"] is None and got["std"] is None, what
        return
    spread = max(want["std"], abs(want["mean"]), 1e-30)
    assert abs(got["mean"] - want["mean"]) <= 1e-6 * spread, (what, got["mean"], want["mean"])
    assert got["std"] == pytest.approx(want["std"], rel=1e-6, abs=1e-12), what
    assert got["l2"] == pytest.approx(want["l2"], rel=1e-6, abs=1e-12), what


def stats_json(source, *args) -> dict:
    result = run_cli("stats", str(source), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def gpt2_arrays(tiny_gpt2_dir):
    from safetensors.numpy import load_file

    return load_file(tiny_gpt2_dir / "model.safetensors")


def test_every_tensor_and_fused_part_matches_numpy(tiny_gpt2_dir, gpt2_arrays):
    """c_attn [32, 96] stored (in, out) is three rows: query = columns 0..31, key 32..63,
    value 64..95 (the bias likewise); every other tensor is one row of its own."""
    doc = stats_json(tiny_gpt2_dir, "--by", "tensor")
    rows = doc["tensors"]
    assert doc["tensors_read"] == len(gpt2_arrays)
    parts = {"query": 0, "key": 1, "value": 2}
    checked = 0
    for row in rows:
        array = gpt2_arrays[row["tensor"]]
        if ".c_attn." in row["tensor"]:
            k = parts[row["role"]]
            width = array.shape[-1] // 3
            array = array[..., k * width:(k + 1) * width]
        if row["tied_to"]:
            assert row["tensor"].endswith("wte.weight")
        assert_close(row, reference(array), row["tensor"] + "/" + row["role"])
        checked += 1
    # 2 layers x (12 stored tensors + 2 more rows for the c_attn weight and bias parts)
    # + wte, wpe, ln_f.weight, ln_f.bias + the tied unembedding row = 2 x 16 + 5 = 37
    assert checked == 37


def test_role_and_layer_rollups_are_the_statistics_of_all_their_values(tiny_gpt2_dir,
                                                                       gpt2_arrays):
    """A roll-up must equal the statistics over the concatenation of its values (not an average
    of per-tensor averages): checked for every role and every layer."""
    by_role: dict[str, list[np.ndarray]] = {}
    by_layer: dict[object, list[np.ndarray]] = {}
    tensor_rows = stats_json(tiny_gpt2_dir, "--by", "tensor")["tensors"]
    for row in tensor_rows:
        array = gpt2_arrays[row["tensor"]]
        if ".c_attn." in row["tensor"]:
            k = ["query", "key", "value"].index(row["role"])
            width = array.shape[-1] // 3
            array = array[..., k * width:(k + 1) * width]
        flat = np.asarray(array, np.float64).reshape(-1)
        by_role.setdefault(row["role"], []).append(flat)
        if not row["tied_to"]:
            by_layer.setdefault(row["layer"], []).append(flat)
    roles = stats_json(tiny_gpt2_dir, "--by", "role")
    assert {r["role"] for r in roles["roles"]} == set(by_role)
    for row in roles["roles"]:
        assert_close(row, reference(np.concatenate(by_role[row["role"]])), row["role"])
    layers = stats_json(tiny_gpt2_dir, "--by", "layer")["layers"]
    assert [r["layer"] for r in layers] == [None, 0, 1]
    for row in layers:
        assert_close(row, reference(np.concatenate(by_layer[row["layer"]])), str(row["layer"]))
    everything = np.concatenate([np.asarray(a, np.float64).reshape(-1)
                                 for a in gpt2_arrays.values()])
    assert_close(roles["total"], reference(everything), "total")


def test_heads_cut_the_stored_layout(tiny_gpt2_dir, gpt2_arrays):
    """4 heads of d_head 8. Query head h is c_attn.weight[:, 8h:8h+8] (Conv1D stores (in, out));
    value head h is columns 64+8h..; the output projection c_proj.weight [32 in, 32 out] is cut
    by its input rows 8h..8h+8."""
    heads = stats_json(tiny_gpt2_dir, "--by", "head")["heads"]
    # 2 layers x (4 heads x (q, k, v, output weights + q, k, v biases)) = 2 x 4 x 7 = 56
    assert len(heads) == 56
    prefix = "transformer.h.1."
    for row in heads:
        if row["layer"] != 1:
            continue
        h, role = row["head"], row["role"]
        if role == "output":
            want = gpt2_arrays[prefix + "attn.c_proj.weight"][8 * h:8 * h + 8, :]
        else:
            k = ["query", "key", "value"].index(role)
            fused = gpt2_arrays[prefix + "attn.c_attn." + row["kind"]]
            want = fused[..., 32 * k + 8 * h:32 * k + 8 * h + 8]
        assert_close(row, reference(want), f"{role} head {h} {row['kind']}")


@pytest.mark.parametrize("block_values", [7, 50, 1000])
@pytest.mark.parametrize("workers", [1, 2])
def test_any_block_size_gives_the_same_answer(tiny_gpt2_dir, gpt2_arrays, block_values, workers):
    """Blocks of 7 values cut rows into pieces (a row of c_fc is 128 long), 50 and 1000 take
    whole rows of the narrow tensors: the merged result must not depend on the cut."""
    inspection = inspect_source(str(tiny_gpt2_dir))
    doc = weight_stats(inspection.decoupled, "tensor", workers=workers,
                       block_values=block_values, progress=False)
    for row in doc["tensors"]:
        array = gpt2_arrays[row["tensor"]]
        if ".c_attn." in row["tensor"]:
            k = ["query", "key", "value"].index(row["role"])
            array = array[..., 32 * k:32 * (k + 1)]
        assert_close(row, reference(array), f"{row['tensor']} {row['role']}")


SPECIAL = [0.0, -0.0, 1.5, -2.25, float("nan"), float("inf"), float("-inf"), 65504.0, 1e-3]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_nan_inf_zeros_in_fp32_fp16_bf16(tmp_path, dtype):
    """Written by safetensors.torch; the reference is torch's own float64 view of the same
    tensors. NaN and Inf are counted and left out of mean, std, min, max, absmax and l2."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    tensors = {
        "special": torch.tensor(SPECIAL * 50, dtype=getattr(torch, dtype)),
        "normal": (torch.randn(300, 70) * 0.02).to(getattr(torch, dtype)),
        "offset": (1 + 0.01 * torch.randn(1000)).to(getattr(torch, dtype)),
        "all_nan": torch.full((4, 4), float("nan"), dtype=getattr(torch, dtype)),
        # the dtype's largest values (squares far beyond float32, not beyond float64), and a
        # mean a million times the spread (sums around a shift: no cancellation)
        "huge": ((torch.rand(900) * 2 - 1) * torch.finfo(getattr(torch, dtype)).max).to(
            getattr(torch, dtype)),
        "far": (300 + 3e-4 * torch.randn(700)).to(getattr(torch, dtype)),
        "empty": torch.zeros((0, 5), dtype=getattr(torch, dtype)),
    }
    path = tmp_path / f"{dtype}.safetensors"
    save_file(tensors, str(path))
    rows = {r["tensor"]: r for r in stats_json(path, "--by", "tensor")["tensors"]}
    assert set(rows) == set(tensors)
    for name, tensor in tensors.items():
        want = reference(tensor.to(torch.float64).numpy())
        assert_close(rows[name], want, f"{dtype} {name}")
    assert rows["special"]["nan"] == 50 and rows["special"]["inf"] == 100
    assert rows["special"]["zeros"] == pytest.approx(100 / 450)
    assert rows["all_nan"]["mean"] is None and rows["all_nan"]["nan"] == 16


@pytest.mark.parametrize("dtype", ["F32", "BF16", "F16", "F8_E4M3", "F8_E5M2"])
def test_fast_kernel_agrees_with_the_checked_one(dtype):
    """inspector.values.kernels' SIMD kernel (min/max by llvm.minnum/maxnum flagged no-NaN, sums
    reordered into lanes) against its value-by-value kernel, on strided windows of random bits that hold no
    NaN or Inf: the same counts, min and max exactly, sums to 1e-12; so does numpy's path
    (kernels.arrays)."""
    from inspector.values.kernels import arrays
    from inspector.values.kernels import stats as kernels

    rng = np.random.default_rng(1)
    raw_dtype = V.RAW[dtype]
    bits = rng.integers(0, 1 << (8 * np.dtype(raw_dtype).itemsize), size=(64, 48),
                        dtype=np.uint64).astype(raw_dtype)
    how = V.HOW.get(dtype, lambda: None)()
    values = np.array([kernels._moments_checked(bits.reshape(-1), how, i, 1, 1, 1)[6]
                       for i in range(bits.size)]).reshape(bits.shape)
    bits[~np.isfinite(values)] = 0  # the fast kernel is only trusted without NaN or Inf
    bits[::7, ::5] = 0  # zeros
    flat = bits.reshape(-1)
    flat.flags.writeable = False
    for first, rows, cols, stride in [(0, 64, 48, 48), (5, 20, 17, 48), (100, 1, 900, 900)]:
        fast = kernels._moments_fast(flat, how, first, rows, cols, stride)
        nan, inf, zeros, shift, s, q, lo, hi = kernels._moments_checked(flat, how, first, rows,
                                                                        cols, stride)
        assert (nan, inf) == (0, 0)
        assert (int(fast[0]), fast[4], fast[5]) == (zeros, lo, hi), dtype
        assert fast[1] == shift, dtype
        assert fast[2] == pytest.approx(s, rel=1e-12, abs=1e-12 * math.sqrt(q)), dtype
        assert fast[3] == pytest.approx(q, rel=1e-12), dtype
        if arrays.handles(flat, how):  # numpy's path (F32, BF16, F16) agrees the same way
            by_numpy = arrays.moments(flat, how, first, rows, cols, stride)
            assert by_numpy[:4] == (0, 0, zeros, shift) and by_numpy[6:] == (lo, hi), dtype
            assert by_numpy[4] == pytest.approx(s, rel=1e-12, abs=1e-12 * math.sqrt(q)), dtype
            assert by_numpy[5] == pytest.approx(q, rel=1e-12), dtype


@pytest.mark.parametrize("dtype", ["F32", "BF16", "F16"])
def test_windows_read_together_agree_with_each_read_alone(dtype):
    """kernels.moments_many reads the windows of one block (fused parts, heads) in one pass, row
    by row; each window's result must be the one moments() gives it alone: counts, shift, min
    and max exactly, sums to 1e-12. Windows of 16 columns of 48 (one with 2 rows fewer), and one
    of 7 columns from an odd column (BF16 reads values two at a time: an odd start and an odd
    tail). The second window holds a NaN and an Inf: it alone goes through the checked kernel."""
    from inspector.values import kernels

    x = np.random.default_rng(3).standard_normal((40, 48)).astype(np.float32)
    x[::5, ::3] = 0
    x[7, 20], x[9, 17] = np.nan, np.inf
    if dtype == "BF16":
        raw = (x.view(np.uint32) >> 16).astype(np.uint16).view(np.int16).reshape(-1)
    elif dtype == "F16":
        raw = x.astype(np.float16).view(np.uint16).reshape(-1)
    else:
        raw = x.reshape(-1)
    raw.flags.writeable = False
    how = V.HOW.get(dtype, lambda: None)()
    windows = [(0, 40, 16, 48), (16, 40, 16, 48), (32, 38, 16, 48), (5, 40, 7, 48)]
    together = kernels.moments_many(raw, how, windows)
    for window, got in zip(windows, together):
        alone = kernels.moments(raw, how, *window)
        assert got[:4] == alone[:4] and got[6:] == alone[6:], (dtype, window)
        assert got[4] == pytest.approx(alone[4], rel=1e-12, abs=1e-12 * math.sqrt(alone[5]))
        assert got[5] == pytest.approx(alone[5], rel=1e-12)
    assert together[1][:2] == (1, 1) and all(t[:2] == (0, 0) for t in together[::2])


def test_integer_and_fp8_tensors(tmp_path):
    """Integers widen to float64; FP8 bytes decode through a table equal to torch's own."""
    import torch
    from safetensors.torch import save_file

    for dtype, name in ((torch.float8_e4m3fn, "F8_E4M3"), (torch.float8_e5m2, "F8_E5M2")):
        every_byte = torch.arange(256, dtype=torch.uint8).view(dtype).to(torch.float32).numpy()
        np.testing.assert_array_equal(V.float_table(name), every_byte)
    tensors = {"ids": torch.arange(512, dtype=torch.int64).reshape(1, 512),
               "fp8": (torch.randn(64, 64)).to(torch.float8_e4m3fn)}
    path = tmp_path / "mixed.safetensors"
    save_file(tensors, str(path))
    rows = {r["tensor"]: r for r in stats_json(path, "--by", "tensor")["tensors"]}
    assert_close(rows["ids"], reference(np.arange(512)), "ids")
    assert_close(rows["fp8"], reference(tensors["fp8"].to(torch.float64).numpy()), "fp8")


def test_bf16_file_from_safetensors_numpy_bits(tmp_path):
    """safetensors.numpy cannot hold bfloat16, so the file is written with raw uint16 bits and
    the header's dtype set to BF16: the reader must shift the bits, not convert the integers."""
    from inspector.building.hole_files import write_hole_safetensors

    rng = np.random.default_rng(0)
    values = rng.standard_normal(5000).astype(np.float32)
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncate to bfloat16
    path = write_hole_safetensors(tmp_path / "bf16.safetensors", {"w": ("BF16", [50, 100])})
    with open(path, "r+b") as f:
        f.seek(8 + int.from_bytes(f.read(8), "little"))
        f.write(bits.tobytes())
    row = stats_json(path, "--by", "tensor")["tensors"][0]
    exact = (bits.astype(np.uint32) << 16).view(np.float32)
    assert_close(row, reference(exact), "bf16")


def test_blocks_cover_every_value_once():
    from inspector.formats.base import TensorInfo

    for shape, block_values in [((10, 7), 20), ((10, 7), 3), ((1000,), 64), ((3, 4, 5), 11),
                                ((0, 4), 8), ((), 8)]:
        numel = math.prod(shape)
        info = TensorInfo("t", "F32", shape, 4 * numel, "f", 0)
        seen = np.zeros(numel, int)
        for block in V.blocks(info, block_values):
            assert block.stop - block.start <= max(block_values, 1)
            seen[block.start:block.stop] += 1
        assert (seen == 1).all(), (shape, block_values)


@needs_smollm2
def test_gguf_quantized_tensors_are_dequantized_by_the_gguf_package():
    """SmolLM2 Q4_1: the reference dequantizes each whole tensor with gguf.quants at once; ours
    goes block by block (and F32 norms are read as stored)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(SMOLLM2_GGUF)
    wanted = {"blk.0.attn_q.weight", "blk.0.attn_norm.weight", "blk.29.ffn_down.weight"}
    decoupled = inspect_source(str(SMOLLM2_GGUF)).decoupled
    # Three tensors rather than all 272, to keep the test fast.
    checkpoint = replace(decoupled.checkpoint,
                         tensors=[t for t in decoupled.checkpoint.tensors if t.name in wanted])
    decoupled = replace(decoupled, checkpoint=checkpoint,
                        held=[r for r in decoupled.rows if r.tensor in wanted])
    doc = weight_stats(decoupled, "tensor", progress=False)
    rows = {r["tensor"]: r for r in doc["tensors"]}
    for t in reader.tensors:
        if t.name in wanted:
            assert_close(rows[t.name], reference(dequantize(t.data, t.tensor_type)), t.name)
    assert {rows[name]["dtype"] for name in wanted} == {"Q4_1", "F32"}


def test_unreadable_sources_exit_2(tmp_path):
    """A pickled .bin has no addressable bytes; a shrunken file cannot be mapped."""
    import torch

    torch.save({"w": torch.zeros(3, 3)}, tmp_path / "pytorch_model.bin")
    result = run_cli("stats", tmp_path / "pytorch_model.bin")
    assert result.returncode == 2
    assert "not addressable" in result.stderr and "pytorch_model.bin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_progress_shows_only_on_a_terminal_after_a_while():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    bar = progress(100, "stats", stream=quiet, after=0)
    bar.update(50)
    bar.close()
    assert quiet.getvalue() == ""
    tty = Tty()
    bar = progress(100, "stats", stream=tty, after=0)
    bar.update(50)
    bar.refresh()
    assert "50%" in tty.getvalue() and "stats" in tty.getvalue()
    bar.close()
    slow = Tty()
    bar = progress(100, "stats", stream=slow, after=3600)
    bar.update(100)
    bar.close()
    assert slow.getvalue() == ""


def test_grouped_query_heads_and_shards(tmp_path):
    """A tiny Llama (4 query heads, 2 key-value heads of d_head 8) saved by transformers in
    shards: key head h is k_proj.weight rows 8h..8h+8 (stored (out, in)); output head h is
    o_proj.weight columns 8h..8h+8. Sharded or not, the statistics are the same."""
    import torch
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)
    model = LlamaForCausalLM(config)
    model.save_pretrained(tmp_path / "one")
    model.save_pretrained(tmp_path / "shards", max_shard_size="20KB")
    assert (tmp_path / "shards" / "model.safetensors.index.json").is_file()
    arrays = {k: v.numpy() for k, v in load_file(tmp_path / "one" / "model.safetensors").items()}
    heads = stats_json(tmp_path / "shards", "--by", "head")["heads"]
    # 2 layers x (4 query + 2 key + 2 value + 4 output heads), no biases = 24
    assert len(heads) == 24
    for row in heads:
        prefix, h = f"model.layers.{row['layer']}.self_attn.", row["head"]
        name = {"query": "q_proj", "key": "k_proj", "value": "v_proj", "output": "o_proj"}
        weight = arrays[prefix + name[row["role"]] + ".weight"]
        want = weight[:, 8 * h:8 * h + 8] if row["role"] == "output" else weight[8 * h:8 * h + 8]
        assert_close(row, reference(want), f"{row['role']} head {h}")
    one = stats_json(tmp_path / "one", "--by", "tensor")
    shards = stats_json(tmp_path / "shards", "--by", "tensor")
    assert shards["format"] == "safetensors-sharded"
    key = lambda r: (r["tensor"], r["role"])
    assert sorted(one["tensors"], key=key) == sorted(shards["tensors"], key=key)
    assert_close(shards["total"], one["total"], "total (merged in another order)")


def test_numba_cache_falls_back_to_a_writable_folder(tmp_path, monkeypatch):
    """Where the package's folder is read-only, numba's cache goes to the user's cache folder
    (XDG_CACHE_HOME), else to the temp folder: cache=True must never stop `stats` at import."""
    from inspector.values.kernels import primitives as kernels

    package = kernels.os.path.dirname(kernels.__file__)
    home, temp = tmp_path / "home-cache", tmp_path / "temp"
    temp.mkdir()
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(kernels.tempfile, "gettempdir", lambda: str(temp))
    writable = {"user": True}

    def access(path, mode):
        if path == package:
            return False
        return writable["user"] if str(path).startswith(str(home)) else True

    monkeypatch.setattr(kernels.os, "access", access)
    kernels._ensure_cache_dir()
    assert kernels.os.environ["NUMBA_CACHE_DIR"] == str(home / "inspector" / "numba")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    writable["user"] = False
    kernels._ensure_cache_dir()
    assert kernels.os.environ["NUMBA_CACHE_DIR"].startswith(str(temp / "inspector-numba-"))


def _saved_model(model_type: str, config: dict, folder):
    import warnings

    import torch
    import transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(
            transformers.AutoConfig.for_model(model_type, **config))
    model.save_pretrained(folder)
    return model


def test_parts_of_unequal_size_and_parts_alternating_per_head(tmp_path):
    """A fused tensor's parts are read where transformers reads them, not as equal consecutive
    blocks. Phi-3 with grouped-query attention (4 query heads, 2 key/value heads of 8): qkv_proj's
    rows are query 32, key 16, value 16. DeepSeek-V3's kv_b_proj alternates per head: 4 heads of
    (key 8 rows, value 6 rows) x kv_lora_rank 16. Each part's statistics equal numpy's over
    transformers' own cut of the weight (float64 reference)."""
    phi = _saved_model("phi3", {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
                                "num_hidden_layers": 1, "num_attention_heads": 4,
                                "num_key_value_heads": 2, "max_position_embeddings": 64,
                                "pad_token_id": 0}, tmp_path / "phi3")
    rows = stats_json(tmp_path / "phi3", "--by", "tensor")["tensors"]
    qkv = phi.model.layers[0].self_attn.qkv_proj.weight.detach().numpy()
    want = {"query": qkv[:32], "key": qkv[32:48], "value": qkv[48:]}
    got = {r["role"]: r for r in rows if r["tensor"].endswith("layers.0.self_attn.qkv_proj.weight")}
    for role, values in want.items():
        assert_close(got[role], reference(values), f"phi3 qkv {role}")

    from family_cases.latent_and_sinks import DEEPSEEK_CONFIG

    deepseek = _saved_model("deepseek_v3", DEEPSEEK_CONFIG, tmp_path / "deepseek")
    rows = stats_json(tmp_path / "deepseek", "--by", "tensor")["tensors"]
    c = DEEPSEEK_CONFIG
    kv_b = deepseek.model.layers[0].self_attn.kv_b_proj.weight.detach().numpy().reshape(
        c["num_attention_heads"], c["qk_nope_head_dim"] + c["v_head_dim"], c["kv_lora_rank"])
    want = {"key": kv_b[:, :c["qk_nope_head_dim"]], "value": kv_b[:, c["qk_nope_head_dim"]:]}
    got = {r["role"]: r for r in rows if r["tensor"].endswith("layers.0.self_attn.kv_b_proj.weight")}
    for role, values in want.items():
        assert_close(got[role], reference(values), f"deepseek kv_b_proj {role}")


def test_experts_in_one_tensor_with_parts_alternating_value_by_value(tmp_path):
    """gpt-oss stores a layer's experts in one tensor, gate_up_proj [experts, d, 2 x d_ff],
    whose columns alternate gate, up, gate, ... (transformers' GptOssExperts takes
    gate_up[..., ::2] and gate_up[..., 1::2]). Each expert's gate and up statistics equal
    numpy's over exactly those columns. diff reads the same parts: a copy whose expert 1 has
    1.0 added to its gate's second column (stored column 2, d = 32 rows) differs in 32 gate
    values and no up value."""
    from family_cases.latent_and_sinks import CASES

    case = next(c for c in CASES if c.model_type == "gpt_oss")
    model = _saved_model("gpt_oss", case.config, tmp_path / "gpt-oss")
    rows = [r for r in stats_json(tmp_path / "gpt-oss", "--by", "tensor")["tensors"]
            if r["tensor"].endswith("layers.0.mlp.experts.gate_up_proj")]
    gate_up = model.model.layers[0].mlp.experts.gate_up_proj.detach().float().numpy()
    experts = gate_up.shape[0]
    assert [r["role"] for r in rows] == ["gate", "up"] * experts
    for e in range(experts):
        assert_close(rows[2 * e], reference(gate_up[e][:, ::2]), f"expert {e} gate")
        assert_close(rows[2 * e + 1], reference(gate_up[e][:, 1::2]), f"expert {e} up")
    from safetensors.numpy import load_file, save_file

    (tmp_path / "changed").mkdir()
    shutil.copy(tmp_path / "gpt-oss" / "config.json", tmp_path / "changed" / "config.json")
    tensors = load_file(tmp_path / "gpt-oss" / "model.safetensors")
    tensors["model.layers.0.mlp.experts.gate_up_proj"][1, :, 2] += 1.0
    save_file(tensors, str(tmp_path / "changed" / "model.safetensors"), metadata={"format": "pt"})
    result = run_cli("diff", str(tmp_path / "gpt-oss"), str(tmp_path / "changed"),
                     "--format", "json")
    assert result.returncode == 1, result.stderr
    changed = {r["role"]: r["changed"] for r in json.loads(result.stdout)["roles"]}
    assert changed["gate"] == gate_up.shape[1] == 32 and changed["up"] == 0
