"""Full-size checkpoints as header-only hole files, sharded as the hub shards them, with names and
shapes taken from transformers' own models (built on the meta device): GPT-3 175B in GPT-2's naming
(fp16, 35 shards), Llama-2-7B with the per-layer rotary `inv_freq` buffers transformers 4.31 saved,
and Llama-2-70B (grouped-query attention). Each checks against its spec; a missing shard is one
clear line, exit 2. The data regions are holes, so 350 GB of GPT-3 costs a few kilobytes. Past a
million tensors: a 512-expert GPTQ MoE (benchmarks/inputs.py) read in bounded memory."""

import json
import sys

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


# Peak RSS of `inspect` on the million-tensor checkpoint, at most. The floor is what the headers
# are as Python objects: a bare parse (benchmarks/baselines.py header: json.loads of the 92 MB
# index and of 167 headers of ~6,000 tensors, all held at once) peaks at ~355 MB. 1.5 GB is 4x
# that, ~1.5 KB a tensor: room for the weight_map held whole and rows per template (a layer's
# experts held once: inspector.checkpoint.expert_groups), none for rows made per tensor.
MILLION_TENSOR_PEAK = 1_500_000_000


@pytest.mark.slow  # writing the checkpoint takes ~12 s, reading it (once it is read) more
def test_a_million_tensor_gptq_moe_reads_in_bounded_memory(tmp_path):
    """A Qwen3-MoE-shaped model of 512 experts and 163 layers, every linear layer of the blocks in
    AutoGPTQ's 4-bit layout (qweight I32 [in / 8, out], qzeros, scales, g_idx): 1,004,898
    tensors in 167 shards of ~5 GB (benchmarks/inputs.py gptq_moe_tensors, which gives the
    arithmetic). As in test_quantized, a qweight holds 8 values an int32: the blocks' linear
    layers are 163 x (2 x 4096 x 8192 + 2 x 4096 x 512 + 512 x 3 x 4096 x 1536) =
    1,586,801,672,192 values in 198,350,209,024 int32s; unquantized are the routers, the norms,
    the embedding and lm_head, 1,587,876,608. Parameters 1,588,389,548,800 (what `count` of
    its config.json says, through transformers' Qwen3-MoE); stored elements
    199,938,085,632; qzeros, scales and g_idx are bookkeeping. The whole process stays under
    MILLION_TENSOR_PEAK."""
    from benchmarks.inputs import GPTQ_MOE_PARAMETERS, GPTQ_MOE_TENSORS
    from benchmarks.launcher import launch

    # Written in a process of its own: the million-entry table (~770 MB) stays out of pytest's.
    script = ("import sys, pathlib; from benchmarks import inputs;"
              " inputs.gptq_moe_1m(pathlib.Path(sys.argv[1]))")
    write = launch([sys.executable, "-c", script, str(tmp_path)])
    assert write.code == 0, write.stderr[-2000:]
    folder = tmp_path / "gptq-moe-1m"
    run = launch([sys.executable, "-m", "inspector", "inspect", str(folder), "--format", "json"])
    assert run.code == 0, run.stderr[-2000:]
    found = json.loads(run.stdout)
    assert found["tensors"] == GPTQ_MOE_TENSORS == 1_004_898
    assert found["parameters"] == GPTQ_MOE_PARAMETERS == 1_588_389_548_800
    assert found["parameters"] == 1_586_801_672_192 + 1_587_876_608
    assert sum(r["stored"] for r in found["roles"]) == 1_586_801_672_192 // 8 + 1_587_876_608
    assert found["quantization"]["method"] == "gptq" and found["quantization"]["bits"] == 4
    assert run.rss < MILLION_TENSOR_PEAK, f"peak RSS {run.rss / 2**20:,.0f} MB"
