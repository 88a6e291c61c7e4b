"""An architecture no family describes is read from what transformers builds; one transformers
does not know either still gets an honest answer, and a tied model whose file
also stores its unembedding is counted as transformers counts it."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from conftest import run_cli

PERSIMMON = {"vocab_size": 128, "hidden_size": 64, "intermediate_size": 96,
             "num_hidden_layers": 2, "num_attention_heads": 4}


@pytest.fixture(scope="module")
def persimmon(tmp_path_factory):
    """Persimmon (no family module): fused query_key_value, `dense` output, q/k LayerNorms."""
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("persimmon")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model("persimmon", **PERSIMMON))
    model.save_pretrained(folder)
    return model, folder


@pytest.fixture(scope="module")
def unknown(persimmon, tmp_path_factory):
    """The same checkpoint under a model_type neither a family module nor transformers knows."""
    import shutil

    model, folder = persimmon
    renamed = tmp_path_factory.mktemp("unknown")
    for file in folder.iterdir():
        shutil.copy(file, renamed / file.name)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "persimmon-unknown"
    (renamed / "config.json").write_text(json.dumps(config))
    return model, renamed


def test_transformers_builds_what_no_family_describes(persimmon, tmp_path):
    """Persimmon has no family module: read from the model transformers builds (the
    transformers path), its config.json a spec that the checkpoint matches."""
    model, folder = persimmon
    env = {"INSPECTOR_CACHE": str(tmp_path)}
    found = json.loads(run_cli("inspect", str(folder), "--format", "json", env=env).stdout)
    assert found["shape"]["family"] == "persimmon (transformers PersimmonForCausalLM)"
    assert found["layout"] == "transformers PersimmonForCausalLM"
    assert found["roles_inferred"] is False
    assert found["parameters"] == model.num_parameters()
    assert run_cli("check", str(folder), "--spec", str(folder / "config.json"),
                   env=env).returncode == 0
    rows = json.loads(run_cli("inspect", str(folder), "--by", "tensor", "--format", "json",
                              env=env).stdout)["tensor_rows"]
    parts: dict[str, list[str]] = {}
    for r in rows:
        parts.setdefault(r["tensor"], []).append(r["role"])
    roles = {name: found[0] for name, found in parts.items()}
    layer = "model.layers.1"
    # fused: cut where the forward cuts it, its parts in order
    assert parts[f"{layer}.self_attn.query_key_value.weight"] == ["query", "key", "value"]
    assert roles[f"{layer}.self_attn.dense.weight"] == "output"
    assert roles[f"{layer}.mlp.dense_h_to_4h.weight"] == "up"
    assert roles[f"{layer}.self_attn.q_layernorm.bias"] == "norm"


def test_unknown_family_is_named_as_such(unknown):
    """Family `unknown (model_type X)`, layout `inferred`: never another family's name."""
    model, folder = unknown
    result = run_cli("inspect", str(folder), "--format", "json")
    found = json.loads(result.stdout)
    assert found["shape"]["family"] == "unknown (model_type persimmon-unknown)"
    assert found["layout"] == "inferred" and found["roles_inferred"] is True
    assert found["parameters"] == model.num_parameters()


def test_roles_inferred_from_generic_names(unknown):
    """Generic names get their roles; the fused query_key_value and the ambiguous `dense` are
    left unmapped rather than cut or named by a guess."""
    _, folder = unknown
    result = run_cli("inspect", str(folder), "--by", "tensor", "--format", "json")
    roles = {r["tensor"]: r["role"] for r in json.loads(result.stdout)["tensor_rows"]}
    layer = "model.layers.1"
    assert roles["model.embed_tokens.weight"] == "embedding"
    assert roles["lm_head.weight"] == "unembedding"
    assert roles[f"{layer}.input_layernorm.weight"] == "norm"
    assert roles[f"{layer}.self_attn.q_layernorm.bias"] == "norm"
    assert roles[f"{layer}.mlp.dense_h_to_4h.weight"] == "up"
    assert roles[f"{layer}.mlp.dense_4h_to_h.bias"] == "down"
    assert roles["model.final_layernorm.weight"] == "norm"
    assert roles[f"{layer}.self_attn.query_key_value.weight"] == "unmapped"
    assert roles[f"{layer}.self_attn.dense.weight"] == "unmapped"


def test_one_summary_warning_for_unmapped(unknown):
    """8 unmapped tensors (per layer: query_key_value and dense, weight and bias) holding
    2 x (192 x 64 + 192 + 64 x 64 + 64) = 33,280 values: one warning line, not eight."""
    _, folder = unknown
    result = run_cli("inspect", str(folder))
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if "unmapped" in line]
    assert len(lines) == 1
    assert "8 tensors (33,280 values)" in lines[0] and "and 5 more" in lines[0]


def test_its_config_is_not_a_spec(unknown):
    _, folder = unknown
    result = run_cli("check", str(folder), "--spec", str(folder / "config.json"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and \
        "model_type 'persimmon-unknown' is not supported" in result.stderr


def test_stored_copy_of_a_tied_unembedding_counted_once(tmp_path):
    """GPT-2 (config ties the embeddings) saved with lm_head.weight stored apart, as older
    exports did: transformers ties it on loading and counts 50 x 32 once, so inspector does, and
    says the file holds a copy."""
    from safetensors.torch import save_file
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=32, n_layer=1, n_head=4,
                                       n_positions=8))
    model.save_pretrained(tmp_path)
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    assert "lm_head.weight" in state
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    found = json.loads(run_cli("inspect", str(tmp_path), "--format", "json").stdout)
    assert found["parameters"] == model.num_parameters()
    assert found["tied"] is True and found["tied_copy"] is True
    table = run_cli("inspect", str(tmp_path)).stdout
    assert "the file also stores a copy of it, counted once" in table
