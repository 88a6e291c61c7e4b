"""Mixtures of experts in GGUF, as llama.cpp's converter writes them: each layer's experts stacked
into one tensor a projection (`blk.N.ffn_gate_exps` [E, ff, d], `ffn_up_exps`, `ffn_down_exps`
[E, d, ff] in PyTorch order), the router `ffn_gate_inp` [E, d], Qwen2-MoE's shared expert
(`ffn_*_shexp`) and its gate `ffn_gate_inp_shexp`; E and k in `{arch}.expert_count` and
`{arch}.expert_used_count`. Mixtral is written as a Llama (architecture "llama").

The files are written by tests/gguf_files.write_moe_gguf with the `gguf` package's own names for
the architecture. The reference is transformers' model of the same config (built on the meta
device): its num_parameters(), and for the active count every parameter outside `.experts.`
plus k/E of those inside (a token passes through k of a layer's E alike experts). Where
transformers can load the GGUF itself (Qwen2-MoE, Qwen3-MoE), the loaded model is the
reference.
"""

from __future__ import annotations

import json
import warnings

import pytest
from conftest import run_cli
from gguf import MODEL_ARCH
from gguf import MODEL_TENSOR as T
from gguf_files import write_moe_gguf

# V 96, d 32, 2 layers, 4 heads of 8 (2 key/value heads), 4 experts of which k = 2, untied.
BASE = {"vocab_size": 96, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False, "num_experts_per_tok": 2}
QKV_BIASES = (T.ATTN_Q, T.ATTN_K, T.ATTN_V)

# name -> (transformers model_type, llama.cpp architecture, config, tensors with a bias)
CASES = {
    "mixtral": ("mixtral", MODEL_ARCH.LLAMA,
                {**BASE, "intermediate_size": 40, "num_local_experts": 4}, ()),
    "qwen2_moe": ("qwen2_moe", MODEL_ARCH.QWEN2MOE,
                  {**BASE, "intermediate_size": 48, "moe_intermediate_size": 24,
                   "num_experts": 4, "shared_expert_intermediate_size": 40}, QKV_BIASES),
    "qwen3_moe": ("qwen3_moe", MODEL_ARCH.QWEN3MOE,
                  {**BASE, "intermediate_size": 48, "moe_intermediate_size": 24,
                   "num_experts": 4, "head_dim": 8}, ()),
    "olmoe": ("olmoe", MODEL_ARCH.OLMOE,
              {**BASE, "intermediate_size": 24, "num_experts": 4, "pad_token_id": None,
               "eos_token_id": None}, ()),
}


def inspect_json(source, *args) -> dict:
    result = run_cli("inspect", str(source), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_case(name: str, folder, widths: dict | None = None, **options):
    """The case's GGUF in `folder`, its experts' widths changed by `widths`."""
    _, arch, config, biases = CASES[name]
    return write_moe_gguf(folder / f"{name}.gguf", arch, {**config, **(widths or {})}, biases,
                          **options)


def meta_model(model_type: str, config: dict):
    import torch
    import transformers

    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.AutoModelForCausalLM.from_config(
            transformers.AutoConfig.for_model(model_type, **config))


def transformers_counts(model) -> tuple[int, int]:
    """(num_parameters(), active): the experts' k/E share of `.experts.` parameters."""
    config = model.config
    experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    n = getattr(config, "num_local_experts", None) or config.num_experts
    return (model.num_parameters(),
            model.num_parameters() - experts + experts * config.num_experts_per_tok // n)


def unmapped(found: dict) -> list[str]:
    return [r["tensor"] for r in found["tensor_rows"] if r["role"] == "unmapped"]


# (total, active). Every layer: attention 3,072, norms 64, router 128, experts 4 x 3 x ff x 32;
# the embedding and unembedding 2 x 3,072, the final norm 32; active: 2 of the 4 experts.
# Mixtral, ff 40: 2 x 18,624 + 6,176 = 43,424; 43,424 - 2 x 2 x 3,840 = 28,064.
# Qwen2-MoE, ff 24, q/k/v biases 64, a shared expert 3,840 and its gate 32: 2 x 16,416 + 6,176 =
#   39,008; 39,008 - 2 x 2 x 2,304 = 29,792.
# Qwen3-MoE, ff 24, per-head q/k norms 2 x 8: 2 x 12,496 + 6,176 = 31,168; - 9,216 = 21,952.
# OLMoE, ff 24, full-width q/k norms 32 + 16: 2 x 12,528 + 6,176 = 31,232; - 9,216 = 22,016.
COUNTS = {"mixtral": (43_424, 28_064), "qwen2_moe": (39_008, 29_792),
          "qwen3_moe": (31_168, 21_952), "olmoe": (31_232, 22_016)}


@pytest.mark.parametrize("name", list(CASES))
def test_counts_equal_transformers_of_the_same_config(name, tmp_path):
    model_type, _, config, _ = CASES[name]
    found = inspect_json(write_case(name, tmp_path), "--by", "tensor")
    assert unmapped(found) == []
    assert found["shape"]["family"] == name
    assert (found["parameters"], found["active_parameters"]) == COUNTS[name] == \
        transformers_counts(meta_model(model_type, config))
    tables = 2 * 96 * 32  # the embedding and the unembedding
    assert found["active_parameters_without_embeddings"] == found["active_parameters"] - tables


def test_mixtral_gguf_arithmetic(tmp_path):
    """A Mixtral GGUF is llama.cpp's "llama" with experts: read as Mixtral, not Llama. Per
    layer: attention 1,024 + 512 + 512 + 1,024 = 3,072, norms 64, router 4 x 32 = 128, experts
    4 x 3 x 40 x 32 = 15,360: 18,624. Total 2 x 96 x 32 + 2 x 18,624 + 32 = 43,424; active
    43,424 - 2 x 15,360 + 2 x 2 x 3,840 = 28,064 (2 of 4 experts)."""
    found = inspect_json(write_case("mixtral", tmp_path), "--by", "tensor")
    assert (found["layout"], found["shape"]["family"]) == ("gguf-llama-mixtral", "mixtral")
    assert (found["parameters"], found["active_parameters"]) == (43_424, 28_064)
    rows = [(r["role"], r["canonical"], r["shape"]) for r in found["tensor_rows"]
            if r["tensor"] in ("blk.1.ffn_gate_inp.weight", "blk.1.ffn_down_exps.weight")]
    assert rows == [("router", "layers.1.mlp.router.weight", [4, 32])] + [
        ("down", f"layers.1.mlp.experts.{e}.down.weight", [32, 40]) for e in range(4)]
    lines = run_cli("inspect", str(tmp_path / "mixtral.gguf")).stdout.splitlines()
    assert any(line.split(None, 1) == ["active", ("28,064 a token: 2 of 4 routed experts in each"
                                       " MoE layer; 21,920 without the embedding and"
                                       " unembedding")]
               for line in lines)


def test_qwen2_moe_gguf_experts_and_shared_expert(tmp_path):
    """Per layer: 4 routed experts of 3 x 24 x 32 = 2,304 and a shared expert of 3 x 40 x 32 =
    3,840 (its gate [1, 32] is a router: 4 x 32 + 32 = 160 of routers a layer). Total: attention
    3,072 + 64 of biases, norms 64, routers 160, experts 9,216, shared 3,840 = 16,416 a layer;
    2 x 3,072 + 2 x 16,416 + 32 = 39,008; active 39,008 - 2 x 9,216 + 2 x 2 x 2,304 = 29,792."""
    path = write_case("qwen2_moe", tmp_path)
    found = inspect_json(path, "--by", "expert")
    assert (found["layout"], found["parameters"], found["active_parameters"]) == \
        ("gguf-qwen2moe", 39_008, 29_792)
    assert found["experts"] == [{"layer": layer, "expert": expert, "weights": n, "biases": 0,
                                 "parameters": n}
                                for layer in (0, 1)
                                for expert, n in ((0, 2_304), (1, 2_304), (2, 2_304),
                                                  (3, 2_304), ("shared", 3_840))]
    router = {r["role"]: r["parameters"] for r in found["roles"]}["router"]
    assert router == 2 * 160


def test_transformers_loading_the_gguf_counts_the_same(tmp_path):
    """transformers reads Qwen2-MoE and Qwen3-MoE GGUFs itself (not the experts' widths: it
    keeps its config classes' defaults, 1,408 and a shared 5,632 for Qwen2-MoE, 768 for
    Qwen3-MoE, so the files are written with those). Its loader wants the shared expert's gate
    1-D, [d], as older converters squeezed it: inspector reads that form too."""
    import transformers

    cases = (("qwen2_moe", {"moe_intermediate_size": 1408,
                            "shared_expert_intermediate_size": 5632}, True),
             ("qwen3_moe", {"moe_intermediate_size": 768}, False))
    for name, widths, squeezed in cases:
        path = write_case(name, tmp_path, widths, squeezed_shared_gate=squeezed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path,
                                                                      gguf_file=path.name)
        assert model.config.model_type == name
        found = inspect_json(path, "--by", "tensor")
        assert unmapped(found) == []
        assert (found["parameters"], found["active_parameters"]) == transformers_counts(model)


def test_quantized_stacked_experts(tmp_path):
    """Q8_0 experts (Qwen3-MoE, experts 32 wide): Q8_0 packs each row of 32 values into one
    block of 34 bytes, so each expert's gate, up and down [32, 32] is 1,024 parameters in
    32 x 34 = 1,088 bytes; the stacked tensor's 4 x 1,088 = 4,352 split expert by expert.
    Total 2 x 3,072 + 2 x (3,072 + 16 + 64 + 128 + 4 x 3,072) + 32 = 37,312, as transformers
    counts; active 37,312 - 2 x 2 x 3,072 = 25,024."""
    path = write_case("qwen3_moe", tmp_path, {"moe_intermediate_size": 32}, q8_experts=True)
    found = inspect_json(path, "--by", "tensor")
    rows = [(r["dtype"], r["shape"], r["numel"], r["bytes"]) for r in found["tensor_rows"]
            if r["tensor"] == "blk.0.ffn_down_exps.weight"]
    assert rows == [("Q8_0", [32, 32], 1_024, 1_088)] * 4
    config = {**CASES["qwen3_moe"][2], "moe_intermediate_size": 32}
    assert (found["parameters"], found["active_parameters"]) == (37_312, 25_024) == \
        transformers_counts(meta_model("qwen3_moe", config))


def test_llama_or_mixtral_by_expert_count_else_by_names(tmp_path):
    """Both are llama.cpp's "llama": `llama.expert_count` > 0 says Mixtral; a file without the
    key is told by its tensors (the experts' names are Mixtral's alone)."""
    from inspector import families
    from inspector.formats import open_checkpoint

    assert [f.name for f in families.gguf_families("llama")] == ["llama", "mixtral"]
    assert families.gguf_family("llama").name == "llama"
    path = write_case("mixtral", tmp_path)
    names = [t.name for t in open_checkpoint(str(path)).tensors]
    pick = families.gguf_checkpoint_family
    assert pick({"general.architecture": "llama", "llama.expert_count": 4}, names).name \
        == "mixtral"
    assert pick({"general.architecture": "llama", "llama.expert_count": 0}, []).name == "llama"
    assert pick({"general.architecture": "llama"}, names).name == "mixtral"
    assert pick({"general.architecture": "llama"}, names[:3]).name == "llama"  # a tie: Llama
    (tmp_path / "no-keys").mkdir()
    found = inspect_json(write_case("mixtral", tmp_path / "no-keys", expert_keys=False),
                         "--by", "tensor")
    assert (found["layout"], found["shape"]["family"], unmapped(found)) == \
        ("gguf-llama-mixtral", "mixtral", [])
