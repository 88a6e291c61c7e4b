"""`inspector build` and `inspector demo` as a user runs them: what they write, what they refuse
(one line, exit 2, nothing left behind), and that `check` accepts what `build` wrote."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli, tiny_spec_yaml


def test_build_writes_a_checkpoint_that_check_accepts(tmp_path):
    """The tiny spec: embedding 100 x 32 = 3,200; position 16 x 32 = 512; per layer: norms
    2 x 64 = 128, query/key/value 3 x (32 x 32 + 32) = 3,168, output 1,056, up 32 x 128 + 128 =
    4,224, down 128 x 32 + 32 = 4,128, together 12,704, x 2 = 25,408; ln_f 64; tied unembedding 0.
    3,200 + 512 + 25,408 + 64 = 29,184."""
    spec = tiny_spec_yaml(tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    result = run_cli("build", spec, "--out", out, "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out / "config.json"), str(out / "model.safetensors")]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert (config["model_type"], config["n_embd"], config["n_layer"], config["n_head"],
            config["n_positions"], config["activation_function"]) == \
        ("gpt2", 32, 2, 4, 16, "gelu_new")
    checked = run_cli("check", out, "--spec", spec, "--format", "json")
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["total"] == {"expected": 29_184, "actual": 29_184}


def test_build_is_seeded_and_writes_the_dtype_asked(tmp_path):
    """write_checkpoint is what `build` runs (the CLI only prints its result)."""
    from safetensors import safe_open

    from inspector.building.checkpoint_writer import write_checkpoint
    from inspector.spec.loading import load_spec

    spec = load_spec(str(tiny_spec_yaml(tmp_path / "tiny.yaml")))
    for name, seed, dtype in (("a", 1, "bfloat16"), ("b", 1, "bfloat16"), ("c", 2, "float16")):
        write_checkpoint(spec, tmp_path / name, seed=seed, dtype=dtype)

    def values(name):
        with safe_open(str(tmp_path / name / "model.safetensors"), "pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118

    a, b, c = values("a"), values("b"), values("c")
    assert all(a[k].equal(b[k]) for k in a)
    assert not a["wte.weight"].float().equal(c["wte.weight"].float())
    assert {str(t.dtype) for t in a.values()} == {"torch.bfloat16"}
    assert json.loads((tmp_path / "c" / "config.json").read_text())["dtype"] == "float16"


def test_local_attention_is_written_with_a_note(tmp_path):
    """GPT-3's local layers change no tensor: the checkpoint is written, and stderr says that
    GPT2Config cannot carry them."""
    spec = tiny_spec_yaml(tmp_path / "g3.yaml", name="tiny-gpt3", family="gpt3",
                          attention_pattern=["dense", "local"], local_window=4)
    result = run_cli("build", spec, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "attention_pattern ['dense', 'local']" in result.stderr
    assert "attends densely" in result.stderr
    assert run_cli("check", tmp_path / "out", "--spec", spec).returncode == 0


def test_build_refuses_in_one_line_and_leaves_nothing(tmp_path):
    """n_heads x d_head = 4 x 12 = 48 != d_model 32: GPT2Config has no head width of its own."""
    spec = tiny_spec_yaml(tmp_path / "wide.yaml", d_head=12)
    out = tmp_path / "out"
    result = run_cli("build", spec, "--out", out)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        ("inspector: error: tiny-gpt2: a gpt2 config.json cannot express d_head 12 (it reads"
         " back as 8): GPT2LMHeadModel would be a different model")]
    assert not out.exists()


def _refusal(spec, out) -> str:
    from inspector.building.checkpoint_writer import write_checkpoint
    from inspector.errors import UsageError

    with pytest.raises(UsageError) as caught:
        write_checkpoint(spec, out)
    return str(caught.value)


def test_build_refuses_a_model_larger_than_memory(tmp_path):
    """gpt3-175b in fp32: 174,604,259,328 x 4 bytes, twice (the model, then its stored copy)."""
    from inspector.spec.loading import load_spec

    message = _refusal(load_spec("gpt3-175b"), tmp_path / "out")
    assert "1,396.8 GB of memory" in message
    assert not (tmp_path / "out").exists()


def test_build_refuses_a_folder_whose_index_would_shadow_it(tmp_path):
    from inspector.spec.loading import load_spec

    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors.index.json").write_text("{}")
    message = _refusal(load_spec(str(tiny_spec_yaml(tmp_path / "tiny.yaml"))), out)
    assert "already holds model.safetensors.index.json" in message
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors.index.json"]


def test_build_refuses_a_spec_the_family_config_cannot_say(tmp_path):
    """GPT-2 has no RMSNorm: written as GPT2Config it would read back as LayerNorm."""
    from inspector.spec.loading import load_spec

    spec = load_spec(str(tiny_spec_yaml(tmp_path / "rms.yaml", norm="rmsnorm",
                                        biases={"qkv": True, "attn_output": True, "mlp": True})))
    assert "norm 'rmsnorm' (it reads back as 'layernorm')" in _refusal(spec, tmp_path / "out")


def test_build_refuses_an_encoder_decoder_it_would_build_wrong(tmp_path):
    """inspector's encoder-decoder is T5's (relative biases, pre-norm): one with rotary
    positions is counted, but `build` says what it cannot do rather than ignore the rotation."""
    import yaml

    spec = tmp_path / "rotary-t5.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "rotary-t5", "family": "t5", "source": "test", "architecture": "encoder-decoder",
        "vocab_size": 100, "n_ctx": 64, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64,
        "position": "rotary"}))
    assert run_cli("count", spec).returncode == 0
    result = run_cli("build", spec, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot build an encoder-decoder with position 'rotary'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_build_an_untied_t5(tmp_path):
    """transformers 5's T5Config always says tie_word_embeddings true, but unties a stored
    lm_head of values of its own: an untied T5 spec is written with its lm_head and loads
    untied. 32128 -> 100 tokens, d 32, 2 + 2 blocks of 4 heads x 8, F 64, gated: shared and
    lm_head 2 x 3,200, encoder 2 x (64 + 4,096 + 6,144) + 32 + 32, decoder 2 x (96 + 8,192 +
    6,144) + 32 + 32 = 6,400 + 20,672 + 28,928 = 56,000."""
    import warnings

    import yaml
    from transformers import T5ForConditionalGeneration

    spec = tmp_path / "flan.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "tiny-flan", "family": "t5", "source": "test", "architecture": "encoder-decoder",
        "vocab_size": 100, "n_ctx": 64, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64,
        "d_head": 8, "activation": "gelu_tanh", "gated_mlp": True, "norm": "rmsnorm",
        "norm_eps": 1e-6, "position": "relative", "relative_buckets": 8,
        "attention_scale": 1.0, "tied_embeddings": False}))
    out = tmp_path / "out"
    assert run_cli("build", spec, "--out", out).returncode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded, info = T5ForConditionalGeneration.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert loaded.num_parameters() == 56_000
    checked = run_cli("check", out, "--spec", spec, "--format", "json")
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["total"] == {"expected": 56_000, "actual": 56_000}


@pytest.mark.slow
def test_demo_builds_inspects_checks_and_exports(tmp_path):
    """The README's main job: gpt2-124m from its spec, inspected, checked (exit 0), exported."""
    result = run_cli("demo", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "124,439,808" in result.stdout
    assert "verdict  match" in result.stdout
    assert f"tables written to {tmp_path / 'tables'}" in result.stdout  # kept: --out
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == \
        ["heads.csv", "layers.csv", "roles.csv", "tensors.csv"]
    assert (tmp_path / "gpt2-124m" / "model.safetensors").stat().st_size > 497_000_000


def test_dynamic_rope_counts_but_does_not_build(tmp_path):
    """A Llama config.json with dynamic NTK rotary scaling: no tensor changes, so `count` equals
    transformers' meta count (2 layers of d 32, 4 heads of 8, 2 KV heads, d_ff 64, vocab 100:
    2 x (32 x 32 x 2 + 32 x 16 x 2 + 3 x 32 x 64 + 2 x 32) + 2 x 100 x 32 + 32 = 24,992), but
    inspector's model does not compute it: `build` refuses in one line, writing nothing, rather
    than rotate as if unscaled."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64,
                         rope_parameters={"rope_type": "dynamic", "factor": 2.0,
                                          "rope_theta": 10000.0})
    config.save_pretrained(tmp_path)
    with torch.device("meta"):
        expected = LlamaForCausalLM(config).num_parameters()
    counted = run_cli("count", tmp_path / "config.json", "--format", "json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)["total"] == expected == 24_992
    out = tmp_path / "out"
    built = run_cli("build", tmp_path / "config.json", "--out", out)
    assert built.returncode == 2
    assert len(built.stderr.strip().splitlines()) == 1
    assert "rope_type dynamic" in built.stderr and not out.exists()
