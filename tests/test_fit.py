"""`inspector fit`: weights + KV cache + fixed state (+ overhead) against a memory size, and the
longest context that fits. Exact integers, the arithmetic in each docstring; a checkpoint's
weights against the bytes its file stores."""

import json
import struct

import pytest
from conftest import run_cli

from inspector.errors import UsageError
from inspector.spec.fit import fit, longest, parse_size, spec_weights
from inspector.spec.loading import load_spec

GIB = 2**30


def fit_json(*args):
    result = run_cli("fit", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_llama_3_1_8b_in_24gib():
    """8,030,261,248 parameters x 2 bytes = 16,060,522,496. KV: 2 (K, V) x 32 layers x 8 KV
    heads x 128 d_head x 2 bytes = 131,072 a token x 8,192 = 1,073,741,824. Total
    17,134,264,320 <= 24 GiB = 25,769,803,776: fits, 8,635,539,456 to spare. Longest context:
    (25,769,803,776 - 16,060,522,496) // 131,072 = 9,709,281,280 // 131,072 = 74,075
    (74,075.6), under n_ctx 131,072."""
    doc = fit_json("llama-3.1-8b", "--memory", "24GiB", "--context", "8192")
    assert doc["weights_bytes"] == 16_060_522_496
    assert doc["kv_cache_bytes"] == 1_073_741_824
    assert doc["state_bytes"] == 0
    assert doc["total_bytes"] == 17_134_264_320
    assert doc["memory_bytes"] == 25_769_803_776
    assert doc["fits"] is True
    assert doc["headroom_bytes"] == 8_635_539_456
    assert doc["max_context"] == 74_075
    table = run_cli("fit", "llama-3.1-8b", "--memory", "24GiB", "--context", "8192").stdout
    assert "17,134,264,320" in table and "74,075 tokens" in table
    assert "not counted: activations" in table


def test_default_context_batch_overhead_and_kv_dtype():
    """At n_ctx 131,072 the KV cache is 131,072 x 131,072 = 17,179,869,184: total
    33,240,391,680 > 24 GiB, does not fit, exit 0. Batch 2, fp8 cache, 4 GiB overhead at
    8,192: KV 2 x 65,536 x 8,192 = 1,073,741,824; total 16,060,522,496 + 1,073,741,824 +
    4,294,967,296 = 21,429,231,616; longest: (25,769,803,776 - 20,355,489,792) // (2 x 65,536)
    = 5,414,313,984 // 131,072 = 41,307."""
    doc = fit_json("llama-3.1-8b", "--memory", "24GiB")
    assert doc["context"] == 131_072 and doc["kv_cache_bytes"] == 17_179_869_184
    assert doc["total_bytes"] == 33_240_391_680 and doc["fits"] is False
    assert doc["max_context"] == 74_075
    doc = fit_json("llama-3.1-8b", "--memory", "24GiB", "--context", "8192", "--batch", "2",
                   "--kv-dtype", "fp8", "--overhead", "4GiB")
    assert doc["kv_cache_bytes"] == 1_073_741_824 and doc["overhead_bytes"] == 4 * GIB
    assert doc["total_bytes"] == 21_429_231_616
    assert doc["max_context"] == 41_307


def test_max_context_is_the_boundary():
    """The longest context is the last that fits: the total at 74,075 tokens is within the
    memory, at 74,076 over it (16,060,522,496 + 74,076 x 131,072 = 25,769,811,968 >
    25,769,803,776)."""
    spec = load_spec("llama-3.1-8b")
    weights, how = spec_weights(spec, "bf16")
    assert fit(spec, 24 * GIB, weights, how, context=74_075)["fits"]
    assert not fit(spec, 24 * GIB, weights, how, context=74_076)["fits"]
    assert fit(spec, 24 * GIB, weights, how, context=74_076)["total_bytes"] == 25_769_811_968
    assert longest(lambda n: n <= 10, 5) == 5 and longest(lambda n: n <= 3, 100) == 3
    assert longest(lambda n: False, 100) == 0


def test_weights_that_do_not_fit():
    """Weights 16,060,522,496 > 10 GB: no context fits, max_context 0, still exit 0."""
    doc = fit_json("llama-3.1-8b", "--memory", "10GB", "--context", "1")
    assert doc["fits"] is False and doc["max_context"] == 0
    assert doc["headroom_bytes"] == 10**10 - 16_060_522_496 - 131_072


def test_deepseek_v3_latent():
    """Latent cache (512 + 64) x 61 x 2 = 70,272 bytes a token; at 4,096 tokens 287,834,112;
    up-projected (192 + 128) x 128 x 61 x 2 = 4,997,120 a token, 20,468,203,520 at 4,096 (beside
    it, not in the total). Weights at fp8: 671,026,404,352 parameters x 1 byte."""
    doc = fit_json("deepseek-v3", "--memory", "1TB", "--context", "4096", "--dtype", "fp8")
    assert doc["kv_cache_bytes_per_token"] == 70_272
    assert doc["kv_cache_bytes"] == 287_834_112
    assert doc["kv_cache_bytes_up_projected"] == 20_468_203_520
    assert doc["weights_bytes"] == 671_026_404_352
    assert doc["total_bytes"] == 671_026_404_352 + 287_834_112


def test_sliding_window_layers_stop_growing():
    """gpt-oss-120b: 18 full layers and 18 of window 128, 36,864 bytes a token each group. At
    131,072 tokens: 36,864 x 131,072 + 36,864 x 128 = 4,836,556,800 (the figure of issue 22)."""
    doc = fit_json("gpt-oss-120b", "--memory", "80GB", "--dtype", "int4")
    assert doc["kv_cache_bytes"] == 4_836_556_800


def test_encoder_caches_nothing():
    """all-MiniLM-L6-v2 (an encoder): no KV cache; it fits at its whole n_ctx 512 as soon as
    its weights do: 22,713,216 x 2 = 45,426,432 bytes in bf16."""
    doc = fit_json("all-minilm-l6-v2", "--memory", "1GB")
    assert doc["kv_cache_bytes"] == 0 and doc["weights_bytes"] == 45_426_432
    assert doc["max_context"] == 512 and doc["fits"] is True


def test_sizes():
    assert parse_size("24GiB") == 24 * GIB
    assert parse_size("80GB") == 80 * 10**9
    assert parse_size("80 gb") == 80 * 10**9
    assert parse_size("1.5TiB") == 3 * 2**39
    assert parse_size("123") == 123
    for bad in ("24G", "lots", "-1GB", "", "1e9"):
        with pytest.raises(UsageError):
            parse_size(bad)


@pytest.mark.parametrize("args", [("--memory", "24G"), ("--memory", "big"),
                                  ("--memory", "24GiB", "--overhead", "x"),
                                  ("--memory", "24GiB", "--context", "200000"),
                                  ("--memory", "24GiB", "--context", "0")])
def test_bad_input_is_one_line_and_exit_2(args):
    result = run_cli("fit", "llama-3.1-8b", *args)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def test_checkpoint_weights_are_its_stored_bytes(tmp_path):
    """A hole checkpoint of llama-3.1-8b in BF16: its data region, the file's size less the 8
    length bytes and the header, is what fit takes as weights (16,060,522,496, the spec's
    parameters x 2, since every tensor is BF16), and an F32 file of the same tensors twice
    that. The KV cache comes from --spec (the files have no config.json)."""
    from inspector.building.hole_files import write_hole_checkpoint

    for dtype, expected in (("BF16", 16_060_522_496), ("F32", 32_121_044_992)):
        folder = write_hole_checkpoint(tmp_path / dtype, load_spec("llama-3.1-8b"), dtype=dtype)
        path = folder / "model.safetensors"
        with open(path, "rb") as f:
            header = struct.unpack("<Q", f.read(8))[0]
        stored = path.stat().st_size - 8 - header
        doc = fit_json(str(folder), "--spec", "llama-3.1-8b", "--memory", "80GB",
                       "--context", "8192")
        assert doc["weights_bytes"] == stored == expected
        assert doc["kv_cache_bytes"] == 1_073_741_824
    bare = run_cli("fit", str(tmp_path / "BF16"), "--memory", "80GB")
    assert bare.returncode == 2 and "--spec" in bare.stderr
    dtype = run_cli("fit", str(tmp_path / "BF16"), "--spec", "llama-3.1-8b", "--memory", "80GB",
                    "--dtype", "fp8")
    assert dtype.returncode == 2 and "--dtype is for a spec" in dtype.stderr


def test_help_says_exit_status():
    text = " ".join(run_cli("fit", "--help").stdout.split())
    assert "Exit 0 whether it fits or not" in text


def test_fixed_state_and_shared_layers_of_transformers_configs():
    """Jamba (4 layers, attention every 2nd from 1) at 1,000 tokens in bf16: 2 attention layers
    x 2 (K, V) x 2 KV heads x 16 d_head x 2 bytes = 256 a token, 256,000; 2 Mamba layers x (128
    conv channels x 4 kernel + 128 d_inner x 8 d_state) x 2 bytes = 6,144 at any context.
    Gemma 3n's last num_kv_shared_layers (2 of 6) read an earlier layer's keys and values:
    4 layers x 2 x 2 x 8 x 2 bytes = 256 a token, the 2 shared ones adding none."""
    pytest.importorskip("transformers")
    from test_costs import SMALL, STATE_KINDS, transformers_cache  # noqa: F401 (the configs)
    from transformers import AutoConfig

    from inspector.spec.costs import cache_kinds, cached_values
    from inspector.spec.fit import fit
    from inspector.spec.reference import reference_spec

    jamba = AutoConfig.for_model("jamba", **STATE_KINDS[2][1]).to_dict()
    doc = fit(reference_spec(jamba, "jamba"), 2**30, 0, "", context=1_000)
    assert (doc["kv_cache_bytes"], doc["state_bytes"]) == (256_000, 6_144)
    assert [(k["kind"], k["layers"], k["bytes"]) for k in doc["state_kinds"]] == [
        ("state-space (Mamba)", 2, 6_144)]
    gemma = AutoConfig.for_model(
        "gemma3n_text", vocab_size=64, vocab_size_per_layer_input=64, hidden_size=32,
        hidden_size_per_layer_input=8, intermediate_size=64, num_hidden_layers=6,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_kv_shared_layers=2,
        layer_types=["sliding_attention", "full_attention"] * 3, laurel_rank=4,
        altup_num_inputs=2, activation_sparsity_pattern=[0.0] * 6).to_dict()
    kinds = cache_kinds(reference_spec(gemma, "gemma3n"))
    assert 2 * cached_values(kinds, 1) == 256
    assert [k["layers"] for k in kinds if k["kind"].startswith("shared")] == [2]
