"""`inspector scan`: a Hugging Face cache laid out as huggingface_hub lays it out (blobs, snapshots
of symlinks, refs), read header-only through its own scanner."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_cli, write_hole_safetensors
from gpt2_files import write_gpt2
from test_hub import add_to_cache

COMMIT_V1 = "2222222222222222222222222222222222222222"


def tiny_mixtral(folder):
    """A Mixtral of 2 layers, 4 experts, written header-only with transformers' own names and
    shapes; returns its num_parameters() as transformers counts it, and the parameters a token
    passes through: all but 2 of each layer's 4 experts (`.experts.` in transformers' names)."""
    import torch
    from transformers import MixtralConfig, MixtralForCausalLM

    config = MixtralConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           num_local_experts=4, num_experts_per_tok=2)
    with torch.device("meta"):
        model = MixtralForCausalLM(config)
    folder.mkdir(parents=True)
    write_hole_safetensors(folder / "model.safetensors",
                           {n: ("BF16", list(t.shape)) for n, t in model.state_dict().items()})
    config.save_pretrained(folder)
    experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    return model.num_parameters(), model.num_parameters() - experts // 2


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    cache = root / "hub"
    add_to_cache(cache, "openai-community/gpt2", write_gpt2(root / "gpt2", "published"))
    # A second revision of it, cut short: config.json only.
    partial = root / "partial"
    partial.mkdir()
    shutil.copy(cache / "models--openai-community--gpt2" / "snapshots" /
                "607a30d783dfa663caf39e06633721c8d4cfcd7e" / "config.json", partial)
    repo = cache / "models--openai-community--gpt2"
    snapshot = repo / "snapshots" / COMMIT_V1
    snapshot.mkdir()
    shutil.copy(partial / "config.json", snapshot / "config.json")
    (repo / "refs" / "v1").write_text(COMMIT_V1)
    n = tiny_mixtral(root / "mixtral")
    add_to_cache(cache, "acme/tiny-mixtral", root / "mixtral")
    return cache, n


def test_scan_json_every_revision(cache):
    """GPT-2 main: 124,439,808 parameters (GPT2LMHeadModel's count), all active; its v1 snapshot
    holds no weights and says so; the Mixtral's total is transformers' num_parameters() and its
    active count k/E = 2/4 of its experts' plus everything else."""
    folder, mixtral = cache
    result = run_cli("scan", folder, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {(r["repo"], r["revision"]): r for r in json.loads(result.stdout)["revisions"]}
    assert set(rows) == {("acme/tiny-mixtral", "main"), ("openai-community/gpt2", "main"),
                         ("openai-community/gpt2", "v1")}
    gpt2 = rows["openai-community/gpt2", "main"]
    assert (gpt2["family"], gpt2["parameters"], gpt2["active"], gpt2["dtypes"]) == (
        "gpt2", 124_439_808, 124_439_808, "F32 x160")
    v1 = rows["openai-community/gpt2", "v1"]
    assert v1["parameters"] is None and "config.json but no weights" in v1["note"]
    moe = rows["acme/tiny-mixtral", "main"]
    assert (moe["parameters"], moe["active"]) == mixtral


def test_scan_table_and_csv(cache):
    folder, mixtral = cache
    table = run_cli("scan", folder)
    assert table.returncode == 0, table.stderr
    assert "active '-'" not in table.stdout  # every repo's active count is known
    csv = run_cli("scan", folder, "--format", "csv").stdout.splitlines()
    assert csv[0] == "repo,revision,family,parameters,active,dtypes,bytes_on_disk,note"
    total, active = mixtral
    assert csv[1].startswith("acme/tiny-mixtral,main,mixtral,") and f",{total},{active}," in csv[1]


def test_scan_of_no_cache_is_one_line(tmp_path):
    result = run_cli("scan", tmp_path / "nothing")
    assert result.returncode == 2
    assert result.stderr == f"inspector: error: {tmp_path / 'nothing'}: no Hugging Face cache there\n"


def test_scan_of_a_machine_with_no_cache_is_an_empty_list(tmp_path):
    """No CACHE_DIR and no Hugging Face cache yet (nothing downloaded): an empty table and a
    note, exit 0; a CACHE_DIR named and not there stays a one-line error (above)."""
    env = {"HF_HUB_CACHE": str(tmp_path / "none"), "HF_HOME": str(tmp_path / "home")}
    result = run_cli("scan", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (f"no Hugging Face cache at {tmp_path / 'none'} yet"
                                              " (nothing downloaded): no revisions")
    doc = json.loads(run_cli("scan", "--format", "json", env=env).stdout)
    assert doc["revisions"] == [] and doc["cache"] == str(tmp_path / "none")
