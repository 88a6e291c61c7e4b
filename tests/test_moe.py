"""Mixtures of experts: active parameters, the experts' table, and the 3-D form of the experts.

The reference for the active count is transformers' own model: every parameter outside the
routed experts, and k/E of the routed experts' (a token passes through k of a layer's E alike
experts; shared experts and routers are outside `.experts.` and always count)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from conftest import run_cli
from family_cases.latent_and_sinks import CASES as LATENT_CASES
from family_cases.moe import CASES
from quantized_files import write_safetensors

MOE_CASES = {case.name: case for case in CASES}


def reference(case):
    import transformers

    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config)
    return model, config


def transformers_active(model, config) -> int:
    experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    n = getattr(config, "num_local_experts", None) or config.num_experts
    return model.num_parameters() - experts + experts * config.num_experts_per_tok // n


def inspect_json(source, *args) -> dict:
    result = run_cli("inspect", str(source), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", list(MOE_CASES))
def test_active_parameters_equal_transformers_k_of_e(name, tmp_path):
    model, config = reference(MOE_CASES[name])
    model.save_pretrained(tmp_path)
    found = inspect_json(tmp_path)
    assert found["parameters"] == model.num_parameters()
    assert found["active_parameters"] == transformers_active(model, config)
    tables = model.get_input_embeddings().weight.numel() + \
        model.get_output_embeddings().weight.numel()
    assert found["active_parameters_without_embeddings"] == found["active_parameters"] - tables


def test_mixtral_arithmetic_and_the_summary_line(tmp_path):
    """The Mixtral case (d 32, 4 experts of 80, k 2, vocab 120, 2 layers): an expert holds
    3 x 80 x 32 = 7,680; a layer 4 x 7,680 = 30,720 of experts, a router 4 x 32 = 128, attention
    2 x 2,048 + 2 x 1,024 = 6,144 and norms 64: 37,056. Total 2 x 3,840 + 2 x 37,056 + 32 =
    81,824; active 81,824 - 2 x 30,720 + 2 x 2 x 7,680 = 51,104; without the embedding table
    and lm_head 51,104 - 2 x 3,840 = 43,424."""
    model, _ = reference(MOE_CASES["mixtral"])
    model.save_pretrained(tmp_path)
    found = inspect_json(tmp_path)
    assert (found["parameters"], found["active_parameters"],
            found["active_parameters_without_embeddings"]) == (81_824, 51_104, 43_424)
    lines = run_cli("inspect", str(tmp_path)).stdout.splitlines()
    assert any(line.split(None, 1) == ["active", ("51,104 a token: 2 of 4 routed experts in each"
                                       " MoE layer; 43,424 without the embedding and"
                                       " unembedding")]
               for line in lines)


def test_the_report_says_the_active_count(tmp_path):
    """The Mixtral case's 51,104 active parameters of 81,824 (see the test above) in `report`."""
    model, _ = reference(MOE_CASES["mixtral"])
    model.save_pretrained(tmp_path)
    result = run_cli("report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert ("- **active parameters**: 51,104 a token (2 of 4 routed experts in each MoE layer;"
            " 43,424 without the embedding and unembedding)") in result.stdout.splitlines()


def test_the_experts_table(tmp_path):
    """Qwen2-MoE's case: per layer 4 routed experts of 3 x 24 x 32 = 2,304 and a shared expert
    of 3 x 40 x 32 = 3,840 (its gate, 32, is a router)."""
    model, _ = reference(MOE_CASES["qwen2_moe"])
    model.save_pretrained(tmp_path)
    rows = inspect_json(tmp_path, "--by", "expert")["experts"]
    assert rows == [{"layer": layer, "expert": expert, "weights": n, "biases": 0,
                     "parameters": n}
                    for layer in (0, 1)
                    for expert, n in ((0, 2_304), (1, 2_304), (2, 2_304), (3, 2_304),
                                      ("shared", 3_840))]


def test_experts_fused_in_3d_tensors(tmp_path):
    """transformers >= 5 holds a layer's experts as experts.gate_up_proj [E, 2 ff, d] and
    experts.down_proj [E, d, ff] (its state dict; gpt-oss and newer checkpoints store them so):
    read expert by expert, they count and route as the per-expert tensors do."""
    model, config = reference(MOE_CASES["qwen3_moe"])
    state = model.state_dict()
    assert "model.layers.1.mlp.experts.gate_up_proj" in state
    write_safetensors(tmp_path / "model.safetensors",
                      {name: ("F32", tuple(p.shape)) for name, p in state.items()})
    config.save_pretrained(tmp_path)
    found = inspect_json(tmp_path, "--by", "tensor")
    assert found["parameters"] == model.num_parameters()
    assert found["active_parameters"] == transformers_active(model, config)
    roles = [r["role"] for r in found["tensor_rows"]
             if r["tensor"] == "model.layers.1.mlp.experts.gate_up_proj"]
    assert roles == ["gate", "up"] * 4
    check = run_cli("check", str(tmp_path), "--spec", str(tmp_path / "config.json"))
    assert check.returncode == 0, check.stdout + check.stderr


def test_count_of_a_shipped_moe_spec():
    """mixtral-8x7b: 46,702,792,704 in all (tests/test_specs.py), 12,879,925,248 a token:
    less 32 layers x 6 of 8 experts x 3 x 14,336 x 4,096 (6 x 176,160,768 = 1,056,964,608)."""
    result = run_cli("count", "mixtral-8x7b", "--format", "json")
    found = json.loads(result.stdout)
    assert found["total"] == 46_702_792_704
    assert found["active_parameters"] == 46_702_792_704 - 32 * 1_056_964_608 == 12_879_925_248


LATENT_AND_SINKS = {case.name: case for case in LATENT_CASES}


@pytest.mark.parametrize("name", list(LATENT_AND_SINKS))
def test_deepseek_and_gpt_oss_active_equal_transformers(name, tmp_path):
    """DeepSeek-V3's routed experts (its shared experts and dense layers always count) and
    gpt-oss's experts with their biases, stored (in, out) in 3-D tensors: k/E of them active."""
    model, config = reference(LATENT_AND_SINKS[name])
    model.save_pretrained(tmp_path)
    found = inspect_json(tmp_path)
    assert found["parameters"] == model.num_parameters()
    assert found["active_parameters"] == transformers_active(model, config)


@pytest.mark.parametrize("name", list(LATENT_AND_SINKS))
def test_heads_of_latent_attention_and_sinks(name, tmp_path):
    """`--by head` of DeepSeek-V3 and gpt-oss, each head's share of transformers' modules:
    DeepSeek's latent down-projections (q_a_proj, kv_a_proj_with_mqa: one latent every head
    reads) are no head's; q_b_proj is cut by query head ((nope + rope) x q_lora_rank each, or
    q_proj's (nope + rope) x d without a query latent), kv_b_proj's rows per head into key
    (nope x kv_lora_rank) and value (v_head x kv_lora_rank), o_proj's columns (d x v_head).
    gpt-oss: q/k/v/o with their biases (o's bias no head's), and one sink logit a head."""
    model, config = reference(LATENT_AND_SINKS[name])
    model.save_pretrained(tmp_path)
    heads = inspect_json(tmp_path, "--by", "head")["heads"]
    attn = model.model.layers[0].self_attn
    n, kv = config.num_attention_heads, config.num_key_value_heads

    def one_head(role):
        return {h["parameters"] for h in heads if h["layer"] == 0 and h["role"] == role}

    def numel(*modules):
        return sum(p.numel() for m in modules for p in m.parameters())

    if name.startswith("deepseek"):
        nope, v, r = config.qk_nope_head_dim, config.v_head_dim, config.kv_lora_rank
        q = attn.q_b_proj if config.q_lora_rank else attn.q_proj
        assert one_head("query") == {numel(q) // n}
        assert one_head("key") == {nope * r} and one_head("value") == {v * r}
        assert nope * r * n + v * r * n == numel(attn.kv_b_proj)
        assert one_head("output") == {attn.o_proj.weight.numel() // n}
    else:
        assert one_head("query") == {numel(attn.q_proj) // n}
        assert one_head("key") == {numel(attn.k_proj) // kv} == one_head("value")
        assert one_head("output") == {attn.o_proj.weight.numel() // n + 1}  # + the sink
        assert attn.sinks.numel() == n
    assert len([h for h in heads if h["layer"] == 0]) == 2 * n + 2 * kv
    # `stats --by head` cuts the same rows: as many values per (layer, role, head)
    result = run_cli("stats", str(tmp_path), "--by", "head", "--format", "json")
    assert result.returncode == 0, result.stderr
    values: dict = {}
    for h in json.loads(result.stdout)["heads"]:
        key = (h["layer"], h["role"], h["head"])
        values[key] = values.get(key, 0) + h["values"]
    assert values == {(h["layer"], h["role"], h["head"]): h["parameters"] for h in heads}


@pytest.mark.parametrize("name, total, active", [
    # 58 MoE layers x 248 of 256 experts x 3 x 2048 x 7168 (44,040,192) = 633,474,121,728
    ("deepseek-v3", 671_026_404_352, 671_026_404_352 - 633_474_121_728),
    # 36 layers x 124 of 128 experts x 24,891,840 (gate_up 5760 x 2880 + 5760, down
    # 2880 x 2880 + 2880) = 111,117,173,760
    ("gpt-oss-120b", 116_829_156_672, 116_829_156_672 - 111_117_173_760),
])
def test_count_of_the_latent_and_sink_specs(name, total, active):
    """37,552,282,624 and 5,711,982,912 a token, as transformers' meta-device models give
    (num_parameters less (E - k)/E of the `.experts.` parameters)."""
    found = json.loads(run_cli("count", name, "--format", "json").stdout)
    assert (found["total"], found["active_parameters"]) == (total, active)
    assert active in (37_552_282_624, 5_711_982_912)


def test_build_refuses_latent_attention(tmp_path):
    """Counted exactly, not computed: `build` says so in one line and exits 2."""
    built = run_cli("build", "deepseek-v3", "--out", str(tmp_path / "out"))
    assert built.returncode == 2
    assert built.stderr.count("\n") == 1 and "build and forward refuse" in built.stderr, \
        built.stderr


def test_deepseek_multi_token_prediction_layer_is_recognised(tmp_path):
    """DeepSeek-V3's published files store a multi-token-prediction module as layer
    num_hidden_layers: a whole decoder layer, enorm, hnorm, eh_proj (2d -> d), shared_head.norm,
    shared_head.head and embed_tokens. Every tensor gets a role (none unmapped); the module is
    the rows of that layer, and the rest are transformers' model (whose count ignores it)."""
    case = LATENT_AND_SINKS["deepseek_v3"]
    model, config = reference(case)
    d, v = config.hidden_size, config.vocab_size
    state = {name: ("F32", tuple(p.shape)) for name, p in model.state_dict().items()}
    layer = {name.replace("layers.1.", "layers.2."): shape for name, shape in state.items()
             if name.startswith("model.layers.1.")}
    own = {"enorm.weight": ((d,), "norm"), "hnorm.weight": ((d,), "norm"),
           "eh_proj.weight": ((d, 2 * d), "head"),
           "shared_head.norm.weight": ((d,), "norm"),
           "shared_head.head.weight": ((v, d), "unembedding"),
           "embed_tokens.weight": ((v, d), "embedding")}
    own = {f"model.layers.2.{name}": shape_role for name, shape_role in own.items()}
    write_safetensors(tmp_path / "model.safetensors",
                      {**state, **layer, **{k: ("F32", s) for k, (s, _) in own.items()}})
    config.save_pretrained(tmp_path)
    rows = inspect_json(tmp_path, "--by", "tensor")["tensor_rows"]
    assert all(row["role"] != "unmapped" for row in rows)
    roles = {row["tensor"]: row["role"] for row in rows if row["tensor"] in own}
    assert roles == {name: role for name, (_, role) in own.items()}
    params = [row for row in rows if row["kind"] != "buffer"]
    in_main = sum(row["numel"] for row in params if row["layer"] != config.num_hidden_layers)
    in_mtp = sum(row["numel"] for row in params if row["layer"] == config.num_hidden_layers)
    assert in_main == model.num_parameters()
    # the decoder layer (layer 1's parameters; its correction bias is a buffer), three norms
    # of d, eh_proj 2d x d, shared_head.head and embed_tokens v x d each
    layer_one = sum(p.numel() for n, p in model.named_parameters() if ".layers.1." in n)
    assert in_mtp == layer_one + 3 * d + 2 * d * d + 2 * v * d


def test_gpt_oss_experts_read_as_transformers_computes_them():
    """GptOssExperts: gate_up = x @ gate_up_proj[e] + bias, gate = gate_up[..., ::2], up =
    gate_up[..., 1::2]; down = h @ down_proj[e]. Read through the layout, expert e's canonical
    gate, up and down (out, in) give the same numbers, and written back are the stored tensors."""
    from inspector.building.weights import from_stored, to_stored
    from inspector.families import get
    from inspector.spec.config_json import spec_from_config

    case = LATENT_AND_SINKS["gpt_oss"]
    model, config = reference(case)
    spec = spec_from_config(config.to_dict())
    layout = get("gpt_oss").hub_layout
    experts = model.model.layers[1].mlp.experts
    x = torch.randn(3, config.hidden_size)
    for stored in ("gate_up_proj", "gate_up_proj_bias", "down_proj"):
        name = f"model.layers.1.mlp.experts.{stored}"
        rule, layer = layout.match(name)
        value = getattr(experts, stored).detach()
        read = dict(from_stored(value, rule, layer, spec))
        assert torch.equal(to_stored(list(read.values()), rule, layer, spec), value)
        if stored == "gate_up_proj":
            for e in range(config.num_local_experts):
                both = x @ value[e]
                assert torch.allclose(x @ read[f"layers.1.mlp.experts.{e}.gate.weight"].T,
                                      both[..., ::2])
                assert torch.allclose(x @ read[f"layers.1.mlp.experts.{e}.up.weight"].T,
                                      both[..., 1::2])
