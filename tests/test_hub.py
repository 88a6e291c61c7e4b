"""Hub ids through huggingface_hub's cache, offline: a cache folder laid out as the hub lays it
out (blobs named by hash, a snapshot of symlinks, refs/main naming the commit)."""

import hashlib
import json
import os

import pytest
from conftest import run_cli
from gpt2_files import write_gpt2

COMMIT = "607a30d783dfa663caf39e06633721c8d4cfcd7e"


def add_to_cache(cache, repo_id, folder, commit=COMMIT):
    """Move a folder's files into `cache` the way huggingface_hub stores a download."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        with open(path, "rb") as f:
            blob_id = hashlib.sha256(f.read(1 << 20)).hexdigest()  # any unique name will do
        blob = repo / "blobs" / blob_id
        os.replace(path, blob)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    return snapshot


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    cache = root / "hub"
    add_to_cache(cache, "openai-community/gpt2", write_gpt2(root / "gpt2", "published"))
    return cache


def offline(cache):
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent)}


def test_inspect_a_hub_id_from_the_cache(hub_cache):
    """The published GPT-2 through its hub id: 137,022,720 stored values, 124,439,808 of them
    parameters, the rest twelve 1,048,576-value causal masks."""
    result = run_cli("inspect", "openai-community/gpt2", "--format", "json", env=offline(hub_cache))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["parameters"] == 124_439_808
    assert sum(b["numel"] for b in doc["buffers"]) == 137_022_720 - 124_439_808
    assert doc["shape"]["basis"] == "config.json" and doc["shape"]["n_heads"] == 12


def test_check_a_hub_id(hub_cache):
    result = run_cli("check", "openai-community/gpt2", "--spec", "gpt2-124m",
                     env=offline(hub_cache))
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_from_the_cache_while_offline(hub_cache):
    result = run_cli("inspect", "openai-community/gpt2-medium", env=offline(hub_cache))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert "openai-community/gpt2-medium" in line and "model.safetensors" in line
    assert "HF_HUB_OFFLINE=1" in line


def test_a_cached_snapshot_answers_without_the_network(hub_cache):
    """Online mode, but the snapshot is cached: no round trip is made (this machine has no route
    to the hub, so a request would fail after its retries)."""
    env = {"HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(hub_cache.parent), "HF_HUB_OFFLINE": "0"}
    result = run_cli("inspect", "openai-community/gpt2", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parameters"] == 124_439_808


def test_a_mistyped_local_path_is_not_sent_to_the_hub(tmp_path):
    (tmp_path / "out").mkdir()
    result = run_cli("inspect", "out/model", cwd=tmp_path, env={"HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2
    assert result.stderr == ("inspector: error: out/model: no such file or folder (nor a hub id"
                             " of the form owner/name)\n")
