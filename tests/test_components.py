"""A checkpoint with more than a language model: its tensors grouped by component first
(`language_model`, `vision`, `projector`, `mtp`), roles within each.

The reference is transformers 5.24: a tiny seeded model of each multimodal model type,
`save_pretrained`, its `num_parameters()` and the parameters of its submodules
(`model.vision_tower`, `model.multi_modal_projector`, `model.language_model` + `lm_head`, ...).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import pytest
import torch
from conftest import run_cli

# Every tiny model: a 2-layer text model of width 32 (4 query heads, 2 key/value heads of 8,
# MLP 64, vocabulary 128) beside a 2-layer vision tower of width 32 (4 heads, MLP 64, 32x32
# images in 8x8 patches).
TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 128}
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "image_size": 32, "patch_size": 8}
QWEN_VISION = {"depth": 2, "embed_dim": 32, "hidden_size": 32, "num_heads": 4,
               "intermediate_size": 64, "patch_size": 8, "out_hidden_size": 32,
               "spatial_merge_size": 2}
QWEN_TEXT = {**TEXT, "rope_parameters": {"rope_type": "default", "mrope_section": [1, 1, 2]}}


def _config(model_type: str):
    from transformers import AutoConfig

    if model_type == "llava":
        return AutoConfig.for_model("llava", text_config={"model_type": "llama", **TEXT},
                                    vision_config={"model_type": "clip_vision_model",
                                                   "projection_dim": 16, **VISION})
    if model_type == "gemma3":
        return AutoConfig.for_model("gemma3", text_config=TEXT, vision_config=VISION,
                                    mm_tokens_per_image=4)
    if model_type == "llama":
        return AutoConfig.for_model("llama", **TEXT)
    if model_type in ("qwen2_vl", "qwen2_5_vl"):
        return AutoConfig.for_model(model_type, text_config=QWEN_TEXT, vision_config=QWEN_VISION)
    return AutoConfig.for_model(model_type, text_config={"model_type": "llama", **TEXT},
                                vision_config=VISION, scale_factor=2)


# model_type -> component -> (transformers submodules whose parameters it holds, submodules of
# those it leaves to another component). A tied lm_head is the embedding's parameter: counted once.
LLAVA_LIKE = {"language_model": (("model.language_model", "lm_head"), ()),
              "vision": (("model.vision_tower",), ()),
              "projector": (("model.multi_modal_projector",), ())}
QWEN_VL = {"language_model": (("model.language_model", "lm_head"), ()),
           "vision": (("model.visual",), ("model.visual.merger",)),
           "projector": (("model.visual.merger",), ())}
IDEFICS3 = {"language_model": (("model.text_model", "lm_head"), ()),
            "vision": (("model.vision_model",), ()),
            "projector": (("model.connector",), ())}
CASES = {"llava": LLAVA_LIKE, "gemma3": LLAVA_LIKE, "qwen2_vl": QWEN_VL, "qwen2_5_vl": QWEN_VL,
         "idefics3": IDEFICS3, "smolvlm": IDEFICS3}


def _saved(model_type: str, folder):
    """A tiny model of `model_type` from seed 0, written by save_pretrained into `folder`
    (transformers' warnings about tiny configs silenced)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    auto = AutoModelForImageTextToText if model_type in CASES else AutoModelForCausalLM
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        model = auto.from_config(_config(model_type))
        model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module", params=list(CASES))
def saved(request, tmp_path_factory):
    """(model_type, model, folder): a tiny seeded model as save_pretrained writes it."""
    folder = tmp_path_factory.mktemp(request.param)
    return request.param, _saved(request.param, folder), folder


def _parameters(model, modules: tuple[str, ...], leaving: tuple[str, ...] = ()) -> set:
    """The parameters (by identity: a tied one once) of `modules`, without those of `leaving`."""
    def of(names):
        return {id(p) for name in names for p in model.get_submodule(name).parameters()}

    return of(modules) - of(leaving)


def _component_counts(model, model_type: str) -> dict[str, int]:
    numel = {id(p): p.numel() for p in model.parameters()}
    found = {component: _parameters(model, *where)
             for component, where in CASES[model_type].items()}
    assert set().union(*found.values()) == set(numel)  # every parameter in one component
    return {component: sum(numel[i] for i in ids) for component, ids in found.items()}


def _inspect(folder, *args: str) -> dict:
    result = run_cli("inspect", str(folder), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_total_and_components_are_transformers(saved):
    """`inspect` total == num_parameters(), and `--by component` (JSON key `components`) holds
    each component's parameters as transformers' submodules hold them (llava: language model
    22,688 + lm_head 4,096; CLIP tower 23,936; projector 2 x (32 x 32 + 32) = 2,112)."""
    model_type, model, folder = saved
    doc = _inspect(folder, "--by", "component")
    assert doc["parameters"] == model.num_parameters()
    found = {c["component"]: c["parameters"] for c in doc["components"]}
    assert found == _component_counts(model, model_type)
    assert [c["component"] for c in doc["components"]] == ["language_model", "vision",
                                                           "projector"]


def test_role_table_is_per_component_and_adds_up(saved):
    """The default role table: one row per (component, role), the component first; the rows of a
    component add up to its total, and every row's parameters to the checkpoint's."""
    model_type, model, folder = saved
    doc = _inspect(folder)
    roles = doc["roles"]
    counted = [r for r in roles if r["tied_to"] is None]
    assert sum(r["parameters"] for r in counted) == model.num_parameters()
    by_component: dict[str, int] = {}
    for r in counted:
        by_component[r["component"]] = by_component.get(r["component"], 0) + r["parameters"]
    assert by_component == _component_counts(model, model_type)
    text_roles = {r["role"] for r in roles if r["component"] == "language_model"}
    assert "unmapped" not in text_roles  # the language model is read by its family's layout
    assert {"embedding", "query", "key", "value", "output", "up", "gate", "down", "norm",
            "unembedding"} == text_roles


def test_check_config_checks_the_language_model(saved):
    """`check --spec config.json`: the text_config read as its family's spec (llava: llama,
    qwen2_vl: qwen2, gemma3: gemma3_text) matches the language model exactly, exit 0; the other
    components are listed as not checked, with their parameters."""
    model_type, model, folder = saved
    result = run_cli("check", str(folder), "--spec", str(folder / "config.json"), "--format",
                     "json")
    assert result.returncode == 0, result.stdout
    verdict = json.loads(result.stdout)
    counts = _component_counts(model, model_type)
    assert verdict["total"] == {"expected": counts["language_model"],
                                "actual": counts["language_model"]}
    assert {c["component"]: c["parameters"] for c in verdict["unchecked"]} == \
        {"vision": counts["vision"], "projector": counts["projector"]}


def test_check_catches_a_changed_text_config(saved, tmp_path):
    """A text_config with another MLP width is not this language model: exit 1."""
    _, _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["intermediate_size"] = 48
    changed = tmp_path / "config.json"
    changed.write_text(json.dumps(config))
    assert run_cli("check", str(folder), "--spec", str(changed)).returncode == 1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """model_type -> the folder of its tiny model, written once for the module."""
    folders: dict = {}

    def folder(model_type: str):
        if model_type not in folders:
            folders[model_type] = tmp_path_factory.mktemp(f"{model_type}-roles")
            _saved(model_type, folders[model_type])
        return folders[model_type]
    return folder


@pytest.fixture(scope="module")
def llava(tiny):
    return tiny("llava")


def test_llava_roles_from_the_architecture(llava):
    """LLaVA's roles, written from transformers' modeling code (LlamaModel; CLIPVisionModel;
    LlavaMultiModalProjector: linear_1, GELU, linear_2).

    Language model (Llama, 2 layers, width 32, 4 x 8 query and 2 x 8 key/value rows, MLP 64):
    embedding and unembedding 128 x 32 = 4,096 each; query and output 2 x 32 x 32 = 2,048; key
    and value 2 x 16 x 32 = 1,024; up, gate, down 2 x 64 x 32 = 4,096; norms (2 x 2 + 1) x 32 =
    160. Vision tower (CLIP, every linear with a bias): patch embedding 32 x 3 x 8 x 8 = 6,144 and
    the class embedding 32 (an embedding, as ViT's [CLS]): 6,176; position (4 x 4 + 1) x 32 = 544;
    query, key, value, output 2 x (32 x 32 + 32) = 2,112; fc1 (up) 2 x (64 x 32 + 64) = 4,224;
    fc2 (down) 2 x (32 x 64 + 32) = 4,160; layer_norm1/2 2 x 2 x 64 + pre_layrnorm 64 +
    post_layernorm 64 = 384. Projector: 2 x (32 x 32 + 32) = 2,112, no role in the vocabulary:
    unmapped, under projector.
    """
    roles = {(r["component"], r["role"]): r["parameters"] for r in _inspect(llava)["roles"]}
    assert roles == {
        ("language_model", "embedding"): 4_096, ("language_model", "query"): 2_048,
        ("language_model", "key"): 1_024, ("language_model", "value"): 1_024,
        ("language_model", "output"): 2_048, ("language_model", "up"): 4_096,
        ("language_model", "gate"): 4_096, ("language_model", "down"): 4_096,
        ("language_model", "unembedding"): 4_096, ("language_model", "norm"): 160,
        ("vision", "embedding"): 6_176, ("vision", "position"): 544,
        ("vision", "query"): 2_112, ("vision", "key"): 2_112, ("vision", "value"): 2_112,
        ("vision", "output"): 2_112, ("vision", "up"): 4_224, ("vision", "down"): 4_160,
        ("vision", "norm"): 384, ("projector", "unmapped"): 2_112,
    }


def test_qwen2_vl_vision_qkv_is_cut_in_thirds(tiny):
    """Qwen2-VL's VisionAttention: `qkv` Linear(32, 96) with a bias, cut into query, key, value:
    each 2 layers x (32 x 32 + 32) = 2,112; `attn.proj` the output, 2,112; fc1 (up) 2 x (128 x 32
    + 128) = 8,448, fc2 (down) 2 x (32 x 128 + 32) = 8,256 (mlp_ratio 4); the 3-D patch
    convolution 32 x 3 x 2 x 8 x 8 = 12,288 an embedding; norm1/norm2 2 x 2 x 64 = 256. The
    merger (ln_q 64; mlp.0 128 x 128 + 128, mlp.2 32 x 128 + 32) is the projector."""
    roles = {(r["component"], r["role"]): r["parameters"]
             for r in _inspect(tiny("qwen2_vl"))["roles"]}
    assert {role: n for (component, role), n in roles.items() if component == "vision"} == {
        "embedding": 12_288, "query": 2_112, "key": 2_112, "value": 2_112, "output": 2_112,
        "up": 8_448, "down": 8_256, "norm": 256}
    assert {role: n for (component, role), n in roles.items() if component == "projector"} == {
        "norm": 64, "unmapped": 16_512 + 4_128}


def test_unmapped_tensors_are_listed_under_their_component(tiny):
    """Nothing unmapped silently: Gemma 3's SigLIP attention-pooling head (nn.MultiheadAttention's
    fused in_proj, its probe) and its projector matrix have no rule; the tensor table names each
    one's component, the warning which components hold them."""
    result = run_cli("inspect", str(tiny("gemma3")), "--by", "tensor", "--format", "json")
    rows = {r["tensor"]: r for r in json.loads(result.stdout)["tensor_rows"]}
    for name, component in (("vision_tower.head.probe", "vision"),
                            ("vision_tower.head.attention.in_proj_weight", "vision"),
                            ("multi_modal_projector.mm_input_projection_weight", "projector")):
        assert (rows[name]["role"], rows[name]["component"]) == ("unmapped", component)
    assert "components: projector, vision" in result.stderr


def test_by_layer_keeps_the_towers_apart(llava):
    """Layer 0 of the vision tower and layer 0 of the language model are two rows: a Llama layer
    1,024 + 2 x 512 + 1,024 + 3 x 2,048 + 2 x 32 = 9,280, a CLIP layer 4 x 1,056 + 2,112 + 2,080
    + 2 x 64 = 8,544."""
    layers = {(r["component"], r["layer"]): r["parameters"]
              for r in _inspect(llava, "--by", "layer")["layers"]}
    assert layers["language_model", 0] == 9_280
    assert layers["vision", 0] == 8_544


def test_heads_are_the_language_models(llava):
    """`--by head` cuts the language model's attention by its 4 query and 2 key/value heads:
    per layer a query head 8 x 32 = 256, key and value heads 256, an output head's columns 256;
    the vision tower's attention (its own head count) is left out: 2 layers x (4 + 2 + 2 + 4)
    rows."""
    heads = _inspect(llava, "--by", "head")["heads"]
    assert len(heads) == 2 * (4 + 2 + 2 + 4)
    assert {h["parameters"] for h in heads} == {256}


def test_plain_language_model_has_no_component_column(tmp_path):
    """A checkpoint that is only a language model keeps its tables as they were (no `component`
    key), and `--by component` gives one row: the language model, all its parameters."""
    model = _saved("llama", tmp_path)
    assert all("component" not in r for r in _inspect(tmp_path)["roles"])
    assert _inspect(tmp_path, "--by", "component")["components"] == [
        {"component": "language_model", "weights": model.num_parameters(), "biases": 0,
         "parameters": model.num_parameters(), "unmapped": 0}]


def test_a_family_can_declare_its_extra_layers_a_component(tmp_path, monkeypatch):
    """A multi-token-prediction layer (DeepSeek-V3's `model.layers.{num_hidden_layers}`: a full
    block plus eh_proj, enorm, hnorm, shared_head) is component `mtp` when the family says so
    (`Family.extra_layers`). No family here stores one yet, so Llama's is given the field.

    Header-only file: config 2 layers of width 32, stored layers 0-2. Layer 2 (MTP): the block
    9,280 (as above) + eh_proj 32 x 64 = 2,048 + enorm, hnorm, shared_head.norm 3 x 32 = 96 +
    shared_head.head 128 x 32 = 4,096 = 15,520. The language model: embedding 4,096 + 2 x 9,280 +
    norm 32 + lm_head 4,096 = 26,784."""
    from inspector import families
    from inspector.building.hole_files import stored_shapes, write_hole_safetensors
    from inspector.checkpoint.inspection import inspect_source
    from inspector.spec.config_json import spec_from_config
    from inspector.vocab.rows import MTP
    from inspector.vocab.tables import component_table, total

    spec = spec_from_config({"model_type": "llama", **TEXT, "num_hidden_layers": 3})
    shapes = stored_shapes(spec)
    shapes |= {"model.layers.2.eh_proj.weight": [32, 64], "model.layers.2.enorm.weight": [32],
               "model.layers.2.hnorm.weight": [32],
               "model.layers.2.shared_head.norm.weight": [32],
               "model.layers.2.shared_head.head.weight": [128, 32]}
    write_hole_safetensors(tmp_path / "model.safetensors",
                           {name: ("BF16", shape) for name, shape in shapes.items()})
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "llama", **TEXT, "tie_word_embeddings": False}))
    llama = families.get("llama")
    with_mtp = replace(llama, extra_layers=MTP)
    by_model_type = families.by_model_type
    monkeypatch.setattr(families, "by_model_type",
                        lambda t: with_mtp if t == "llama" else by_model_type(t))
    inspection = inspect_source(str(tmp_path))
    found = {c["component"]: c["parameters"] for c in component_table(inspection.rows)}
    assert found == {"language_model": 26_784, "mtp": 15_520}
    assert total(inspection.rows) == 26_784 + 15_520
    assert inspection.shape.n_layers == 2
