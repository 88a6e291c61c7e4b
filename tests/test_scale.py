"""Full-size checkpoints as header-only hole files, sharded as the hub shards them, with names and
shapes taken from transformers' own models (built on the meta device): GPT-3 175B in GPT-2's naming
(fp16, 35 shards), Llama-2-7B with the per-layer rotary `inv_freq` buffers transformers 4.31 saved,
and Llama-2-70B (grouped-query attention). Each checks against its spec; a missing shard is one
clear line, exit 2. The data regions are holes, so 350 GB of GPT-3 costs a few kilobytes."""

import json

import pytest
from conftest import run_cli, write_hole_safetensors
from gpt2_files import transformers_shapes

LLAMA2_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32,
                 "max_position_embeddings": 4096}
LLAMA2_70B = {"hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
                  "num_attention_heads": 64, "num_key_value_heads": 8,
                  "max_position_embeddings": 4096}


def llama_shapes(**config) -> dict[str, list[int]]:
    """LlamaForCausalLM's state dict as save_pretrained writes it (untied: lm_head kept)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(vocab_size=32000, **config))
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def write_sharded_holes(folder, tensors: dict[str, tuple[str, list[int]]], n_shards: int,
                        config: dict | None = None):
    """`model-0000k-of-0000n.safetensors` shards of about equal bytes, in the order given, and the
    `model.safetensors.index.json` that joins them (as save_pretrained writes them)."""
    from inspector.formats.safetensors import DTYPE_BYTES

    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, (dtype, shape) in tensors.items():
        sizes[name] = DTYPE_BYTES[dtype]
        for d in shape:
            sizes[name] *= d
    budget = sum(sizes.values()) / n_shards
    shards: list[dict] = [{} for _ in range(n_shards)]
    filled = 0
    for name, entry in tensors.items():
        k = min(int(filled / budget), n_shards - 1)
        shards[k][name] = entry
        filled += sizes[name]
    assert all(shards), "every shard holds something"
    weight_map = {}
    for k, shard in enumerate(shards):
        file = f"model-{k + 1:05d}-of-{n_shards:05d}.safetensors"
        write_hole_safetensors(folder / file, shard)
        weight_map.update(dict.fromkeys(shard, file))
    index = {"metadata": {"total_size": sum(sizes.values())}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def check(folder, spec) -> dict:
    result = run_cli("check", str(folder), "--spec", spec, "--format", "json")
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr)
    verdict = json.loads(result.stdout)
    assert verdict["ok"] and not verdict["problems"]
    return verdict


@pytest.fixture(scope="module")
def gpt3_175b(tmp_path_factory):
    """transformers' GPT2LMHeadModel at GPT-3 175B's shapes (n_embd 12288, 96 layers of 96 heads,
    n_positions 2048), every tensor F16, in 35 shards; config.json as GPT2Config writes it."""
    from transformers import GPT2Config

    config = {"n_embd": 12288, "n_layer": 96, "n_head": 96, "n_positions": 2048}
    shapes = transformers_shapes(**config)
    assert "transformer.h.95.attn.c_attn.weight" in shapes and "lm_head.weight" not in shapes
    folder = tmp_path_factory.mktemp("gpt3-175b")
    return write_sharded_holes(folder, {n: ("F16", s) for n, s in shapes.items()}, 35,
                               GPT2Config(**config).to_dict())


def test_gpt3_175b_sharded_fp16_checks_against_its_spec(gpt3_175b):
    """Against gpt3-175b: total 174,604,259,328 (test_specs), the tied unembedding shown, not
    added; every c_attn [12288, 36864] cut into query, key and value. fp16: 2 bytes a value, so
    349,208,518,656 bytes of data that occupy no disk."""
    verdict = check(gpt3_175b, "gpt3-175b")
    assert verdict["total"] == {"expected": 174_604_259_328, "actual": 174_604_259_328}
    roles = {r["role"]: r for r in verdict["roles"]}
    assert roles["query"]["actual"] == 96 * (12288 * 12288 + 12288) == 14_496_694_272
    assert roles["unembedding"]["tied_to"] == "embedding"
    found = json.loads(run_cli("inspect", str(gpt3_175b), "--format", "json").stdout)
    assert found["format"] == "safetensors-sharded" and found["tensors"] == 2 + 96 * 12 + 2
    assert found["bytes"] == 2 * 174_604_259_328
    assert found["dtypes"] == {"F16": 1_156}


def test_a_missing_shard_is_one_clear_line(gpt3_175b, tmp_path):
    """The index names 35 shards; with one gone, exit 2 naming it."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in gpt3_175b.iterdir():
        if path.name != "model-00017-of-00035.safetensors":
            (broken / path.name).symlink_to(path)
    result = run_cli("check", str(broken), "--spec", "gpt3-175b")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "model-00017-of-00035.safetensors" in result.stderr and "missing" in result.stderr


def test_llama2_7b_with_old_inv_freq_buffers(tmp_path):
    """Llama-2-7b-hf as first uploaded: F16 weights in 2 shards, each layer also holding
    `self_attn.rotary_emb.inv_freq` [64] (d_head / 2 frequencies), no config.json here. The 32
    buffers are not parameters (32 x 64 = 2,048 values); the spec check passes
    (6,738,415,616); and the buffers tell d_head = 128, so `inspect` can say 32 heads from the
    query's 4096 rows, where nothing else would."""
    tensors = {n: ("F16", s) for n, s in llama_shapes(**LLAMA2_7B).items()}
    for i in range(32):
        tensors[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = ("F32", [64])
    folder = write_sharded_holes(tmp_path / "llama2-7b", tensors, 2)
    verdict = check(folder, "llama2-7b")
    assert verdict["total"]["actual"] == 6_738_415_616
    assert len(verdict["buffers"]) == 32 and {b["numel"] for b in verdict["buffers"]} == {64}
    found = json.loads(run_cli("inspect", str(folder), "--format", "json").stdout)
    assert found["shape"] == {"family": "llama", "basis": "tensor shapes", "n_layers": 32,
                              "d_model": 4096, "vocab_size": 32000, "d_ff": 11008,
                              "n_ctx": None, "n_heads": 32, "n_kv_heads": 32, "d_head": 128}
    assert found["parameters"] == 6_738_415_616


def test_llama2_70b_grouped_query(tmp_path):
    """Llama-2-70b-hf: 15 shards, k_proj and v_proj [1024, 8192] (8 key/value heads of 128).
    No config.json and no inv_freq: the heads cannot be known from the shapes, so `inspect` does
    not guess them, and `--by head` asks for a spec."""
    shapes = llama_shapes(**LLAMA2_70B)
    assert shapes["model.layers.0.self_attn.k_proj.weight"] == [1024, 8192]
    folder = write_sharded_holes(tmp_path / "llama2-70b", {n: ("BF16", s)
                                                           for n, s in shapes.items()}, 15)
    verdict = check(folder, "llama2-70b")
    assert verdict["total"]["actual"] == 68_976_648_192
    found = json.loads(run_cli("inspect", str(folder), "--format", "json").stdout)
    assert (found["shape"]["n_heads"], found["shape"]["n_kv_heads"]) == (None, None)
    assert (found["shape"]["n_layers"], found["shape"]["d_model"]) == (80, 8192)
    heads = run_cli("inspect", str(folder), "--by", "head")
    assert heads.returncode == 2 and "--spec" in heads.stderr
    with_spec = run_cli("inspect", str(folder), "--by", "head", "--spec", "llama2-70b",
                        "--format", "json")
    assert with_spec.returncode == 0
    rows = json.loads(with_spec.stdout)["heads"]
    # 80 layers x (64 query + 8 key + 8 value + 64 output) heads
    assert len(rows) == 80 * 144
