"""PEFT adapters written by peft itself (get_peft_model + save_pretrained) on small seeded
transformers models: inspector's counts equal peft's own count of trainable parameters, every
tensor has the role of the base module it adapts (written here from transformers' modeling code),
and `check --spec BASE` says 0 for the base the adapter was trained on, 1 for another.

The bases: a Llama of d_model 32, 4 query heads and 2 key/value heads of 8 (so k_proj and v_proj
give 16 outputs), d_ff 64, vocabulary 100, 2 layers, lm_head untied; and a GPT-2 of d_model 32,
d_ff 128 (4 d), 2 layers, whose Conv1D `c_attn` fuses query, key and value ([32, 96], in x out).
"""

from __future__ import annotations

import json
import shutil
from math import prod

import pytest
from conftest import run_cli, tiny_gpt2_config

from inspector.checkpoint.adapter_fit import fit, load_base
from inspector.checkpoint.adapter_tables import inspect_adapter, part_table
from inspector.checkpoint.adapters import open_adapter

pytest.importorskip("peft")  # the test extras install it: the adapters here are peft's own

LLAMA = {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False}

# The role of each module peft adapts, from transformers' modeling code: LlamaAttention's
# q/k/v/o_proj, LlamaMLP's gate/up/down_proj, the causal LM's lm_head, LlamaModel's embed_tokens;
# GPT2Attention's c_attn
# (query, key and value, concatenated on the output in that order) and c_proj, GPT2MLP's c_fc and
# c_proj.
ROLES = {
    "q_proj": ["query"], "k_proj": ["key"], "v_proj": ["value"], "o_proj": ["output"],
    "gate_proj": ["gate"], "up_proj": ["up"], "down_proj": ["down"], "lm_head": ["unembedding"],
    "embed_tokens": ["embedding"],
    "attn.c_attn": ["query", "key", "value"], "attn.c_proj": ["output"], "mlp.c_fc": ["up"],
    "mlp.c_proj": ["down"],
}


def saved_base(path, model_class, config):
    """A seeded base model saved and loaded back from `path`, so that the adapter's
    base_model_name_or_path is that folder."""
    import torch

    torch.manual_seed(0)
    model_class(config).save_pretrained(path)
    return model_class.from_pretrained(path)


def write_adapter(path, model, **lora) -> tuple[int, dict]:
    """peft's adapter of `model` written to `path`: peft's count of trainable parameters, and
    the adapter's state dict as peft saves it (name -> shape)."""
    from peft import LoraConfig, get_peft_model
    from peft.utils import get_peft_model_state_dict

    peft_model = get_peft_model(model, LoraConfig(**lora))
    trainable, _ = peft_model.get_nb_trainable_parameters()
    peft_model.save_pretrained(path)
    state = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(peft_model).items()}
    return trainable, state


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from transformers import GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("adapters")
    out = {}

    def llama():  # a fresh base each time: get_peft_model changes the model it is given
        return saved_base(root / "llama", LlamaForCausalLM, LlamaConfig(**LLAMA))

    def gpt2():
        return saved_base(root / "gpt2", GPT2LMHeadModel, tiny_gpt2_config())

    out["dora"] = write_adapter(root / "dora", llama(), r=4, lora_alpha=8, use_dora=True,
                                target_modules=["q_proj", "v_proj", "down_proj"],
                                modules_to_save=["lm_head"])
    out["all"] = write_adapter(root / "all", llama(), r=8, lora_alpha=16, use_rslora=True,
                               target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                               "gate_proj", "up_proj", "down_proj"],
                               rank_pattern={"down_proj": 2}, alpha_pattern={"down_proj": 4})
    out["gpt2"] = write_adapter(root / "gpt2_lora", gpt2(), r=2, lora_alpha=4, fan_in_fan_out=True,
                                target_modules=["c_attn", "c_proj", "c_fc"])
    out["embedding"] = write_adapter(root / "embedding", llama(), r=4,
                                     target_modules=["embed_tokens", "o_proj"])
    out["gpt2_dora"] = write_adapter(root / "gpt2_dora", gpt2(), r=2, fan_in_fan_out=True,
                                     use_dora=True, target_modules=["c_attn"])
    wide = dict(LLAMA, hidden_size=48, num_attention_heads=6, num_key_value_heads=3)
    saved_base(root / "llama_wide", LlamaForCausalLM, LlamaConfig(**wide))
    return root, out


def expected_roles(state: dict[str, tuple]) -> list[dict]:
    """The role table from peft's state dict and ROLES: each part's values under the roles of
    the module it adapts. B's rows and DoRA's magnitudes are cut among a fused module's parts
    (GPT-2's are equal: d each); A, read whole by every part, counts under the first and is
    shown as `shared` under the others."""
    cells: dict[str, dict] = {}
    for name, shape in state.items():
        numel = prod(shape)
        stem, part = name, "modules_to_save"
        if ".base_layer." in name:  # peft's save_embedding_layers: the base's own, not trained
            stem, part = name.replace(".base_layer.", "."), "base_layer"
        for ending, said in ((".lora_A.weight", "lora_A"), (".lora_B.weight", "lora_B"),
                             (".lora_embedding_A", "lora_A"), (".lora_embedding_B", "lora_B"),
                             (".lora_magnitude_vector", "magnitude")):
            if name.endswith(ending):
                stem, part = name[: -len(ending)], said
        roles = next(v for k, v in ROLES.items() if stem.removesuffix(".weight").endswith(k))
        for at, role in enumerate(roles):
            cell = cells.setdefault(role, {"role": role, "lora_A": 0, "lora_B": 0,
                                           "magnitude": 0, "modules_to_save": 0,
                                           "base_layer": 0, "other": 0, "shared": 0,
                                           "parameters": 0})
            share = numel if part == "lora_A" else numel // len(roles)
            key = "shared" if part == "lora_A" and at else part
            cell[key] += share
            cell["parameters"] += share if key not in ("shared", "base_layer") else 0
    order = ["embedding", "query", "key", "value", "output", "up", "gate", "down", "unembedding"]
    return sorted(cells.values(), key=lambda c: order.index(c["role"]))


def test_dora_adapter_with_lm_head_copy(made):
    """r 4 on q_proj (32 -> 32), v_proj (32 -> 16) and down_proj (64 -> 32), DoRA, lm_head
    saved whole. A layer: q 4x32 + 32x4 + 32 = 288; v 4x32 + 16x4 + 16 = 208; down
    4x64 + 32x4 + 32 = 416; 912 a layer, 1,824 for two; lm_head 100 x 32 = 3,200; 5,024 in all,
    as peft counts its trainable parameters."""
    root, out = made
    trainable, state = out["dora"]
    assert trainable == sum_numel(state) == 5_024
    document, _, rows = inspect_adapter(str(root / "dora"))
    assert document["parameters"] == 5_024
    assert document["adapter"] == {
        "peft_type": "LORA", "r": 4, "lora_alpha": 8, "scaling": 2.0, "use_rslora": False,
        "use_dora": True, "fan_in_fan_out": False,
        "target_modules": ["down_proj", "q_proj", "v_proj"], "modules_to_save": ["lm_head"],
        "base_model_name_or_path": str(root / "llama"), "rank_pattern": {},
        "alpha_pattern": {}}
    assert document["base"]["family"] == "llama"
    assert document["roles"] == expected_roles(state)
    by_role = {r["role"]: r for r in document["roles"]}
    assert by_role["value"]["magnitude"] == 2 * 16 and by_role["down"]["lora_A"] == 2 * 4 * 64
    assert by_role["unembedding"]["modules_to_save"] == 3_200
    assert part_table(rows, "layer") == [
        {"layer": None, "lora_A": 0, "lora_B": 0, "magnitude": 0, "modules_to_save": 3_200,
         "base_layer": 0, "other": 0, "shared": 0, "parameters": 3_200},
        *({"layer": i, "lora_A": 128 + 128 + 256, "lora_B": 128 + 64 + 128,
           "magnitude": 32 + 16 + 32, "modules_to_save": 0, "base_layer": 0, "other": 0,
           "shared": 0, "parameters": 912} for i in (0, 1))]


def sum_numel(state: dict[str, tuple]) -> int:
    return sum(prod(shape) for shape in state.values())


def test_every_tensor_has_its_base_modules_role(made):
    """Each stored tensor's roles are those of the module its name adapts (ROLES), in all three
    adapters, and A is (r, in), B (out, r)."""
    root, _ = made
    from inspector.checkpoint.adapter_tables import tensor_table

    for name in ("dora", "all", "gpt2_lora", "embedding", "gpt2_dora"):
        _, adapter, rows = inspect_adapter(str(root / name))
        for t in tensor_table(adapter, rows):
            module = t["module"].removesuffix(".weight")
            assert t["roles"] == next(v for k, v in ROLES.items() if module.endswith(k)), t
            top = "lm_head" in module or "embed_tokens" in module
            assert t["layer"] == (None if top else int(module.split(".")[2]))


def test_rank_and_alpha_variants(made):
    """r 8 (rsLoRA: scaling 16 / sqrt(8)) on every projection, down_proj at r 2 (rank_pattern).
    A layer: q 8x32 + 32x8 = 512; k and v 8x32 + 16x8 = 384 each; o 512; gate and up
    8x32 + 64x8 = 768 each; down 2x64 + 32x2 = 192; 3,520 a layer, 7,040 for two."""
    root, out = made
    trainable, state = out["all"]
    assert trainable == sum_numel(state) == 7_040
    document, _, _ = inspect_adapter(str(root / "all"))
    assert document["parameters"] == 7_040
    assert document["adapter"]["scaling"] == 16 / 8 ** 0.5 and document["adapter"]["use_rslora"]
    assert document["adapter"]["rank_pattern"] == {"down_proj": 2}
    assert document["roles"] == expected_roles(state)


def test_gpt2_conv1d_fused_c_attn(made):
    """fan_in_fan_out (Conv1D stores (in, out)), yet peft's A is (r, in) and B (out, r). r 2:
    c_attn A 2x32 = 64, B 96x2 = 192 (each of query, key, value 32x2 = 64); attn.c_proj
    64 + 64 = 128; c_fc 64 + 128x2 = 320; mlp.c_proj 2x128 + 32x2 = 320; 1,024 a layer,
    2,048 for two. A of c_attn counts under query, shown as shared under key and value."""
    root, out = made
    trainable, state = out["gpt2"]
    assert trainable == sum_numel(state) == 2_048
    document, _, _ = inspect_adapter(str(root / "gpt2_lora"))
    assert document["parameters"] == 2_048 and document["base"]["family"] == "gpt2"
    assert document["roles"] == expected_roles(state)
    by_role = {r["role"]: r for r in document["roles"]}
    assert by_role["query"]["parameters"] == 2 * (64 + 64)
    assert by_role["key"]["shared"] == 2 * 64 and by_role["key"]["parameters"] == 2 * 64


def test_embedding_lora_and_its_saved_base_layer(made):
    """A LoRA on embed_tokens (nn.Embedding: A is r x vocab = 4 x 100 = 400, B d x r = 32 x 4 =
    128) and on o_proj (4 x 32 + 32 x 4 = 256 a layer, 512 for two): 1,040, peft's trainable
    count. peft also saves the base's embedding (save_embedding_layers: 100 x 32 = 3,200) as
    `embed_tokens.base_layer.weight`: shown as base_layer, not added."""
    root, out = made
    trainable, state = out["embedding"]
    assert trainable == 1_040 and sum_numel(state) == 1_040 + 3_200
    document, _, _ = inspect_adapter(str(root / "embedding"))
    assert document["parameters"] == 1_040
    assert document["roles"] == expected_roles(state)
    assert document["roles"][0]["base_layer"] == 3_200
    verdict = fit(open_adapter(str(root / "embedding")), load_base(str(root / "llama")))
    assert verdict["ok"], verdict["problems"]


def test_dora_on_a_fused_module(made):
    """DoRA on GPT-2's c_attn, r 2: A 2 x 32 = 64, B 96 x 2 = 192, one magnitude per output:
    96 (32 each for query, key and value); 352 a layer, 704 for two."""
    root, out = made
    trainable, state = out["gpt2_dora"]
    assert trainable == sum_numel(state) == 704
    document, _, _ = inspect_adapter(str(root / "gpt2_dora"))
    assert document["parameters"] == 704
    assert document["roles"] == expected_roles(state)
    assert [r["magnitude"] for r in document["roles"]] == [64, 64, 64]


def test_roles_without_the_base_folder(made, tmp_path):
    """base_model_name_or_path a hub id (unreachable here): the names choose the layout, and the
    roles are the same."""
    root, out = made
    for name in ("dora", "gpt2_lora"):
        moved = tmp_path / name
        shutil.copytree(root / name, moved)
        config = json.loads((moved / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = "someone/not-here"
        (moved / "adapter_config.json").write_text(json.dumps(config))
        document, _, _ = inspect_adapter(str(moved))
        assert document["base"]["basis"] == "tensor names"
        key = "dora" if name == "dora" else "gpt2"
        assert document["roles"] == expected_roles(out[key][1])


@pytest.mark.parametrize("adapter, base", [("dora", "llama"), ("all", "llama"),
                                           ("gpt2_lora", "gpt2")])
def test_check_fits_its_base(made, adapter, base):
    """The base folder and its config.json: every adapted module is there, A reads d_model (or
    d_ff for down_proj) inputs, B gives the module's outputs: exit 0."""
    root, _ = made
    for spec in (root / base, root / base / "config.json"):
        verdict = fit(open_adapter(str(root / adapter)), load_base(str(spec)))
        assert verdict["ok"] and not verdict["problems"], verdict["problems"]
    result = run_cli("check", root / adapter, "--spec", root / base)
    assert result.returncode == 0 and "fits" in result.stdout


def test_check_names_each_mismatch(made):
    """The same Llama at d_model 48 (6 heads of 8, 3 key/value heads): q_proj is 48 -> 48, so
    the adapter's A (4 x 32) reads 32 inputs, not 48, B gives 32 outputs, not 48; v_proj gives
    24, not 16; down_proj reads 64 but gives 48; lm_head is 100 x 48. Exit 1, each named."""
    root, _ = made
    verdict = fit(open_adapter(str(root / "dora")), load_base(str(root / "llama_wide")))
    assert not verdict["ok"]
    problems = verdict["problems"]
    assert ("model.layers.0.self_attn.q_proj.weight (query): lora_A [4, 32] has 32 inputs,"
            " the base module 48 (base [48, 48])") in problems
    assert ("model.layers.1.self_attn.v_proj.weight (value): lora_B [16, 4] has 16 outputs,"
            " the base module 24 (base [24, 48])") in problems
    assert ("model.layers.0.mlp.down_proj.weight (down): magnitude [32] has 32 outputs, the"
            " base module 48 (base [48, 64])") in problems
    assert ("lm_head.weight (unembedding): its copy (modules_to_save) is [100, 32], the base's"
            " is [100, 48]") in problems
    # per layer: q A, q B, q magnitude, v A, v B, v magnitude, down B, down magnitude
    assert len(problems) == 2 * 8 + 1
    result = run_cli("check", root / "dora", "--spec", root / "llama_wide" / "config.json")
    assert result.returncode == 1 and "MISMATCH" in result.stdout
    assert result.stdout.count("problem: ") == 17


def test_check_against_another_family_and_a_shipped_spec(made):
    """A GPT-2 adapter against the Llama base: no c_attn, c_proj or c_fc there. The Llama
    adapter against the shipped llama2-7b: d_model 4,096, not 32."""
    root, _ = made
    verdict = fit(open_adapter(str(root / "gpt2_lora")), load_base(str(root / "llama")))
    assert not verdict["ok"]
    assert ("transformer.h.0.attn.c_attn.weight: the base"
            f" {root / 'llama'} has no such module") in verdict["problems"]
    assert ("target module 'c_attn' (adapter_config.json): the base"
            f" {root / 'llama'} has no such module") in verdict["problems"]
    result = run_cli("check", root / "all", "--spec", "llama2-7b", "--format", "json")
    assert result.returncode == 1
    found = json.loads(result.stdout)
    assert ("model.layers.0.self_attn.q_proj.weight (query): lora_A [8, 32] has 32 inputs, the"
            " base module 4096 (base [4096, 4096])") in found["problems"]


def test_cli_inspect_by_layer_and_json_keys(made):
    root, _ = made
    result = run_cli("inspect", root / "dora", "--by", "layer", "--format", "json")
    assert result.returncode == 0
    found = json.loads(result.stdout)
    assert set(found) >= {"source", "format", "adapter", "base", "tensors", "parameters",
                          "bytes", "dtypes", "roles", "layers"}
    assert sum(r["parameters"] for r in found["layers"]) == found["parameters"] == 5_024
    table = run_cli("inspect", root / "gpt2_lora")
    assert table.returncode == 0
    assert "LORA: r 2, lora_alpha 4, scaling 2, fan_in_fan_out" in table.stdout
    assert "shared" in table.stdout
    assert run_cli("inspect", root / "dora", "--by", "head").returncode == 2
    weights = run_cli("inspect", root / "dora" / "adapter_model.safetensors", "--format", "json")
    assert json.loads(weights.stdout)["parameters"] == 5_024  # the weights file: its folder


@pytest.mark.parametrize("damage, named", [
    (lambda d: (d / "adapter_config.json").write_text("{not json"), "adapter_config.json"),
    (lambda d: (d / "adapter_config.json").write_text('{"r": "four"}'), "adapter_config.json"),
    (lambda d: (d / "adapter_model.safetensors").unlink(), "adapter_model.safetensors"),
    (lambda d: (d / "adapter_model.safetensors").write_bytes(b"\x10"), "adapter_model.safetensors"),
])
def test_bad_adapter_is_one_line_exit_2(made, tmp_path, damage, named):
    root, _ = made
    broken = tmp_path / "broken"
    shutil.copytree(root / "dora", broken)
    damage(broken)
    for args in (("inspect", broken), ("check", broken, "--spec", root / "llama")):
        result = run_cli(*args)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("inspector: error: ")
        assert named in result.stderr


def test_adapter_commands_import_nothing_heavy(made, tmp_path):
    """inspect and check of an adapter are header-only: no torch (peft's import would bring it),
    numpy, transformers."""
    from test_imports import HEADER_ONLY_FORBIDS, imported

    root, _ = made
    for args in (("inspect", root / "dora"), ("check", root / "gpt2_lora", "--spec", root / "gpt2"),
                 ("check", root / "all", "--spec", "llama2-7b", "--format", "json")):
        code, modules = imported(tmp_path, *args)
        assert code in (0, 1)
        assert not modules & set(HEADER_ONLY_FORBIDS), modules & set(HEADER_ONLY_FORBIDS)
