"""The formats beyond one safetensors file: PyTorch pickles (.bin/.pt, weights-only, sharded,
tied by shared storage) and GGUF (metadata, reversed dims, quantized elements and bytes), chosen by
suffix, by magic bytes, or from a folder; and every bad file refused in one line, exit 2."""

import argparse
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, run_cli, tiny_gpt2_config, tiny_spec_yaml
from gguf_files import tiny_llama_model, tiny_llama_spec_yaml, write_tiny_llama_gguf


def inspect_json(source, *args) -> dict:
    result = run_cli("inspect", source, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_json(source, spec) -> tuple[int, dict]:
    result = run_cli("check", source, "--spec", spec, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def fails_cleanly(*args) -> str:
    """Exit 2 and one line on stderr; the line returned."""
    result = run_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inspector: error: "), result.stderr
    return lines[0]


# ---------------------------------------------------------------- PyTorch .bin / .pt

@pytest.fixture(scope="module")
def tiny_gpt2():
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(tiny_gpt2_config())


def test_torch_save_of_a_tied_gpt2_is_tied(tiny_gpt2, tmp_path):
    """GPT2LMHeadModel.state_dict() holds lm_head.weight and transformer.wte.weight: two names, one
    storage. The reader gives both the same storage key, so the unembedding is the embedding seen
    again (100 x 32 = 3,200, counted once), the file's bytes count it once, and the tiny spec
    (tied) matches: total 29,184 as test_analytic's tiny arithmetic."""
    import torch

    state = tiny_gpt2.state_dict()
    assert state["lm_head.weight"].data_ptr() == state["transformer.wte.weight"].data_ptr()
    torch.save(state, tmp_path / "pytorch_model.bin")
    found = inspect_json(str(tmp_path / "pytorch_model.bin"))
    assert found["format"] == "pytorch" and found["layout"] == "gpt2"
    assert found["tied"] is True
    roles = {r["role"]: r for r in found["roles"]}
    assert roles["unembedding"]["tied_to"] == "embedding"
    assert roles["unembedding"]["parameters"] == 3_200
    assert found["parameters"] == 29_184 == tiny_gpt2.num_parameters()
    assert found["bytes"] == 29_184 * 4  # F32, the shared storage once
    code, verdict = check_json(str(tmp_path / "pytorch_model.bin"),
                               str(tiny_spec_yaml(tmp_path / "tiny.yaml")))
    assert code == 0 and verdict["ok"], verdict["problems"]


def test_a_copied_lm_head_is_not_tied(tiny_gpt2, tmp_path):
    """Same values in a storage of their own: stored apart, and the tied spec says so (exit 1)."""
    import torch

    state = dict(tiny_gpt2.state_dict())
    state["lm_head.weight"] = state["lm_head.weight"].clone()
    torch.save(state, tmp_path / "model.pt")
    found = inspect_json(str(tmp_path / "model.pt"))
    assert found["tied"] is False
    assert found["parameters"] == 29_184 + 3_200
    code, verdict = check_json(str(tmp_path / "model.pt"), str(tiny_spec_yaml(tmp_path / "t.yaml")))
    assert code == 1
    assert any("stored apart" in p for p in verdict["problems"])


def test_pytorch_matches_safetensors_of_the_same_model(tiny_gpt2, tmp_path):
    """The same model saved both ways reads the same, role by role."""
    import torch

    tiny_gpt2.save_pretrained(tmp_path / "st")
    torch.save(tiny_gpt2.state_dict(), tmp_path / "model.bin")
    assert inspect_json(str(tmp_path / "model.bin"))["roles"] == \
        inspect_json(str(tmp_path / "st"))["roles"]


def test_legacy_pickle_format_and_a_wrapped_state_dict(tiny_gpt2, tmp_path):
    """torch.save's pre-1.6 format (a bare pickle: no mmap) and a training checkpoint that wraps
    the state dict ({"state_dict": ..., "epoch": 3}) both read as the model."""
    import torch

    torch.save(tiny_gpt2.state_dict(), tmp_path / "legacy.bin",
               _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "state_dict": tiny_gpt2.state_dict()}, tmp_path / "train.ckpt.pt")
    for name in ("legacy.bin", "train.ckpt.pt"):
        found = inspect_json(str(tmp_path / name))
        assert found["format"] == "pytorch"
        assert found["parameters"] == 29_184 and found["tied"] is True


def test_a_pickle_needing_a_global_is_refused_not_run(tiny_gpt2, tmp_path):
    """fairseq-style checkpoints pickle an argparse.Namespace: weights_only refuses it, and the
    refusal names the file and the global (there is no retry with weights_only=False)."""
    import torch

    path = tmp_path / "checkpoint.pt"
    torch.save({"args": argparse.Namespace(lr=1e-3), "model": tiny_gpt2.state_dict()}, path)
    line = fails_cleanly("inspect", str(path))
    assert str(path) in line
    assert "argparse.Namespace" in line and "weights_only=True" in line


def test_not_a_pytorch_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"GGML\x00\x01 not a pickle")
    line = fails_cleanly("inspect", str(path))
    assert str(path) in line and "not a PyTorch checkpoint" in line


def test_a_truncated_pytorch_zip(tiny_gpt2, tmp_path):
    import torch

    whole = tmp_path / "whole.bin"
    torch.save(tiny_gpt2.state_dict(), whole)
    cut = tmp_path / "pytorch_model.bin"
    cut.write_bytes(whole.read_bytes()[: os.path.getsize(whole) // 2])
    line = fails_cleanly("inspect", str(cut))
    assert str(cut) in line and "truncated" in line


def write_sharded_bin(model, folder, n_shards=2):
    """pytorch_model-0000k-of-0000n.bin shards and the index transformers wrote beside them."""
    import torch

    folder.mkdir(exist_ok=True)
    model.config.save_pretrained(folder)
    state = model.state_dict()
    names = list(state)
    weight_map = {}
    for k in range(n_shards):
        shard = f"pytorch_model-{k + 1:05d}-of-{n_shards:05d}.bin"
        part = names[k::n_shards]
        torch.save({n: state[n] for n in part}, folder / shard)
        weight_map.update(dict.fromkeys(part, shard))
    index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())},
             "weight_map": weight_map}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    return folder


def test_sharded_bin_through_its_index(tmp_path):
    """A tiny untied Llama in two .bin shards: every tensor found, the spec matches.
    embed and lm_head 96 x 32 = 3,072 each; per layer q 32x32 + k, v 16x32 each + o 32x32 + gate,
    up, down 64x32 each + 2 norms of 32 = 1,024 + 1,024 + 1,024 + 6,144 + 64 = 9,280; total
    6,144 + 2 x 9,280 + 32 = 24,736."""
    model = tiny_llama_model()
    folder = write_sharded_bin(model, tmp_path / "llama")
    found = inspect_json(str(folder))
    assert found["format"] == "pytorch-sharded"
    assert found["parameters"] == 24_736 == model.num_parameters()
    code, verdict = check_json(str(folder), str(tiny_llama_spec_yaml(tmp_path / "s.yaml",
                                                                       tied=False)))
    assert code == 0 and verdict["ok"], verdict["problems"]
    (folder / "pytorch_model-00002-of-00002.bin").unlink()
    line = fails_cleanly("inspect", str(folder))
    assert "pytorch_model-00002-of-00002.bin" in line and "missing" in line


def test_canonical_names_saved_with_torch(tmp_path):
    """The models `build` makes are named canonically (inspector.vocab.canonical); a state dict of those
    names, the unembedding sharing the embedding's storage, reads as the canonical layout and
    matches its spec."""
    import torch

    from inspector.spec.describe import parameter_shapes
    from inspector.spec.loading import load_spec

    spec = load_spec(str(tiny_spec_yaml(tmp_path / "tiny.yaml")))
    state = {name: torch.zeros(shape) for name, shape in parameter_shapes(spec)}
    state["unembed.weight"] = state["embed.weight"]
    torch.save(state, tmp_path / "built.pt")
    found = inspect_json(str(tmp_path / "built.pt"))
    assert found["layout"] == "canonical" and found["tied"] is True
    code, verdict = check_json(str(tmp_path / "built.pt"), str(tmp_path / "tiny.yaml"))
    assert code == 0 and verdict["ok"], verdict["problems"]


def test_suffixless_files_are_judged_by_their_magic(tiny_gpt2, tmp_path):
    """No suffix to go by: a zip from torch.save is PyTorch, `GGUF` is GGUF."""
    import torch

    torch.save(tiny_gpt2.state_dict(), tmp_path / "weights")
    assert inspect_json(str(tmp_path / "weights"))["format"] == "pytorch"
    write_tiny_llama_gguf(tmp_path / "model-q8")
    assert inspect_json(str(tmp_path / "model-q8"))["format"] == "gguf"


# ---------------------------------------------------------------- GGUF

def test_gguf_metadata_shape_and_tie(tmp_path):
    """The tiny GGUF says its own shape (llama.block_count 2, head_count 4, head_count_kv 2, ...);
    without `output.weight` the unembedding is the token embedding; with it, stored apart.
    Tied: 3,072 + 2 x 9,280 + 32 = 21,664 parameters (per layer as in the sharded .bin test);
    untied 21,664 + 3,072 = 24,736."""
    tied = inspect_json(str(write_tiny_llama_gguf(tmp_path / "tied.gguf")))
    assert tied["format"] == "gguf" and tied["layout"] == "gguf-llama"
    assert tied["shape"] == {"family": "llama", "basis": "GGUF metadata", "n_layers": 2,
                             "d_model": 32, "vocab_size": 96, "d_ff": 64, "n_ctx": 64,
                             "n_heads": 4, "n_kv_heads": 2, "d_head": 8}
    assert tied["tied"] is True and tied["parameters"] == 21_664
    untied = inspect_json(str(write_tiny_llama_gguf(tmp_path / "untied.gguf", tied=False)))
    assert untied["tied"] is False and untied["parameters"] == 24_736
    for name, is_tied in (("tied.gguf", True), ("untied.gguf", False)):
        spec = tiny_llama_spec_yaml(tmp_path / f"{name}.yaml", tied=is_tied)
        code, verdict = check_json(str(tmp_path / name), str(spec))
        assert code == 0 and verdict["ok"], verdict["problems"]


def test_gguf_dims_reversed_and_quantized_bytes(tmp_path):
    """GGUF stores ffn_down as [64, 32] (ggml: fastest dim first); PyTorch's (out, in) is
    [32, 64]. token_embd is Q8_0: 96 x 32 = 3,072 elements in 96 blocks of 32, 34 bytes a block
    = 3,264 bytes; F16 attn_k 16 x 32 = 512 elements, 1,024 bytes."""
    rows = {r["tensor"]: r for r in inspect_json(str(write_tiny_llama_gguf(tmp_path / "t.gguf")),
                                                 "--by", "tensor")["tensor_rows"]}
    assert rows["blk.0.ffn_down.weight"]["shape"] == [32, 64]
    assert rows["blk.0.ffn_gate.weight"]["shape"] == [64, 32]
    embd = rows["token_embd.weight"]
    assert (embd["dtype"], embd["shape"], embd["numel"], embd["bytes"]) == \
        ("Q8_0", [96, 32], 3_072, 3_264)
    k = rows["blk.0.attn_k.weight"]
    assert (k["dtype"], k["shape"], k["numel"], k["bytes"]) == ("F16", [16, 32], 512, 1_024)


def test_gguf_heads_from_metadata(tmp_path):
    """--by head needs n_heads; the metadata gives it: 2 layers x (4 query + 2 key + 2 value + 4
    output) = 24 rows; a query head is 8 x 32 = 256 parameters."""
    heads = inspect_json(str(write_tiny_llama_gguf(tmp_path / "t.gguf")), "--by", "head")["heads"]
    assert len(heads) == 24
    assert {h["parameters"] for h in heads} == {256}


def test_gguf_metadata_is_kept(tmp_path):
    from inspector.formats import open_checkpoint

    checkpoint = open_checkpoint(str(write_tiny_llama_gguf(tmp_path / "t.gguf")))
    assert checkpoint.metadata["general.architecture"] == "llama"
    assert checkpoint.metadata["llama.attention.head_count_kv"] == 2
    assert checkpoint.metadata["general.name"] == "tiny-llama"


def test_gguf_wrong_magic_and_truncated(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGML" + bytes(64))
    line = fails_cleanly("inspect", str(bad))
    assert str(bad) in line and "not a GGUF file" in line
    whole = write_tiny_llama_gguf(tmp_path / "whole.gguf").read_bytes()
    for keep in (len(whole) - 100, 300, 10):  # in the tensor data, the tensor table, the header
        cut = tmp_path / f"cut{keep}.gguf"
        cut.write_bytes(whole[:keep])
        line = fails_cleanly("inspect", str(cut))
        assert str(cut) in line and ("truncated" in line or "corrupt" in line)


def test_gguf_in_a_folder(tmp_path):
    """A folder with no safetensors or .bin but one *.gguf reads it; two are ambiguous."""
    write_tiny_llama_gguf(tmp_path / "model-Q8_0.gguf")
    assert inspect_json(str(tmp_path))["format"] == "gguf"
    write_tiny_llama_gguf(tmp_path / "model-F16.gguf", tied=False)
    line = fails_cleanly("inspect", str(tmp_path))
    assert "2 *.gguf files" in line


def test_gguf_and_safetensors_do_not_import_torch(tmp_path, tiny_gpt2_dir):
    """Header work stays light: torch is imported only when a pickle is opened."""
    gguf_path = write_tiny_llama_gguf(tmp_path / "t.gguf")
    code = (
        "import sys\n"
        "from inspector.checkpoint.inspection import inspect_source\n"
        f"inspect_source({str(gguf_path)!r})\n"
        f"inspect_source({str(tiny_gpt2_dir)!r})\n"
        "print('torch' in sys.modules, 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "False False"
