"""Every causal-LM model type of the installed transformers, read by the transformers path
(inspector.spec.reference): a small config of each (tests/reference_configs.py), built on the
meta device and written by transformers' own save_pretrained with a hole data region, then
inspected, checked and counted, each against the model transformers built:

- inspect's total is num_parameters(); buffers are the model's persistent buffers; the tie is
  transformers' (the unembedding is the embedding's parameter);
- at most 1% of the language model's parameters unmapped, none of a state-space or linear
  attention mixer;
- check --spec config.json matches, and a config of one more layer does not;
- count config.json is num_parameters(); a mixture of experts' active parameters are those
  outside the routed experts plus k/E of them.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from reference_configs import save_hole_checkpoint

# Model types whose default config transformers 5.25 cannot build, at full size as shrunk
# (on the meta device): the reason.
DOES_NOT_BUILD: dict[str, str] = {
    "cohere_compass_text": "KeyError: 'full_attention'",
    "dbrx": "AttributeError: 'DbrxAttentionConfig' object has no attribute 'rope_theta'",
    "dots1": "TypeError: empty() takes 1 positional argument but 3 were given",
    "gemma3n": "ImportError: TimmWrapperModel requires the timm library",
    "gemma4_assistant": "StrictDataclassClassValidationError: hidden_size_per_layer_input must be 0",
    "hunyuan_v1_dense": "TypeError: unsupported operand type(s) for ** or pow(): 'NoneType' and 'float'",
    "hunyuan_v1_moe": "TypeError: unsupported operand type(s) for ** or pow(): 'NoneType' and 'float'",
    "lfm2_moe": "TypeError: 'NoneType' object is not subscriptable",
    "ministral": "TypeError: unsupported operand type(s) for ** or pow(): 'NoneType' and 'float'",
    "musicgen": "AttributeError: 'MusicgenConfig' object has no attribute 'dropout'",
    "musicgen_melody": "AttributeError: 'MusicgenMelodyConfig' object has no attribute 'dropout'",
    "nemotron": "TypeError: unsupported operand type(s) for //: 'int' and 'NoneType'",
}

# Model types that build but do not yet answer as transformers does (what remains to do): the
# first assertion that fails. Asserted exactly, so that a fix moves a type out of this table.
NOT_YET: dict[str, str] = {}
UNMAPPED_OVER_1_PERCENT: dict[str, str] = {}

MIXER_CLASSES = ("Mamba", "GatedDeltaNet", "DeltaNet", "ShortConv", "LinearAttention",
                 "Lightning", "Mixer")


def _types() -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def _reference(folder) -> tuple:
    """(inspection, check verdict, counted rows, spec) by the functions the commands call."""
    from inspector.checkpoint.check import check
    from inspector.checkpoint.inspection import inspect_source
    from inspector.spec.describe import spec_rows
    from inspector.spec.loading import load_spec

    spec = load_spec(str(folder / "config.json"))
    # (count's spec: a multimodal composite's whole model, as transformers builds it)
    whole = load_spec(str(folder / "config.json"), whole_model=True)
    return inspect_source(str(folder)), check(spec, inspect_source(str(folder), spec).decoupled), \
        spec_rows(whole), spec


# (HRM's num_hidden_layers counts the stack's repeats: its layers are num_layers_per_stack)
# (xLSTM's blocks are num_blocks)
LAYER_KEYS = ("num_layers_per_stack", "num_blocks", "num_hidden_layers", "n_layer", "n_layers", "num_layers",
              "decoder_layers", "num_decoder_layers")
# pairs (min, max; gate, down; Reformer's two axial position tables), not one value per layer
PAIRS = ("time_step_limit", "mlp_multipliers", "axial_pos_embds_dim", "axial_pos_shape")


def _one_more_layer(folder, tmp_path):
    """The config.json with one more layer (in its sub-configs when it has no layer count of
    its own), in a folder of its own."""
    config = json.loads((folder / "config.json").read_text())
    if not _grow(config):
        for value in config.values():
            if isinstance(value, dict):
                _grow(value)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(config))
    return changed


def _grow(config: dict) -> bool:
    """One more layer in a config dict, its per-layer lists, patterns and per-layer configs
    grown with it; False when it has no layer count."""
    key = next((k for k in LAYER_KEYS if isinstance(config.get(k), int)), None)
    if key is None and isinstance(config.get("layers_block_type"), list):
        config["layers_block_type"] += config["layers_block_type"][-1:]  # (Nemotron-H's count)
        return True
    if key is None:
        return False
    layers = config[key]
    config[key] += 1
    for key, value in config.items():
        if layers > 1 and key not in PAIRS and isinstance(value, (list, str)) \
                and len(value) == layers:
            # (a list of layer numbers, each layer its own: Kolibri's kv_source_layers)
            config[key] = value + ([layers] if value == list(range(layers)) else value[-1:])
    if config.get("num_kv_shared_layers") == layers:  # (a draft model's layers all share)
        config["num_kv_shared_layers"] += 1
    per_layer = config.get("per_layer_config")
    if isinstance(per_layer, dict) and str(layers - 1) in per_layer:
        per_layer[str(layers)] = per_layer[str(layers - 1)]
    return True


def _assert_like_transformers(model, folder, tmp_path):
    from inspector.checkpoint.check import check
    from inspector.checkpoint.inspection import inspect_source
    from inspector.errors import SpecError
    from inspector.spec.loading import load_spec
    from inspector.vocab.tables import active_total, total

    inspection, verdict, counted, spec = _reference(folder)
    rows = inspection.rows
    n = model.num_parameters()
    assert total(rows) == n
    assert total(counted) == n  # count config.json
    assert verdict["ok"], verdict["problems"][:5]
    stored = {t.name for t in inspection.decoupled.checkpoint.tensors}
    assert {r.tensor for r in rows if r.kind == "buffer"} == _stored_buffers(model) & stored
    tied = model.get_output_embeddings() is not None and model.get_input_embeddings() is not None \
        and model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert inspection.decoupled.tied == tied
    language = [r for r in rows if r.counted and not _other_component(r.tensor)]
    unmapped = sum(r.numel for r in language if r.kind == "unmapped")
    assert unmapped * 100 <= total(language) or model.config.model_type in \
        UNMAPPED_OVER_1_PERCENT, sorted({r.tensor for r in rows if r.kind == "unmapped"})[:5]
    for name, module in model.named_modules():
        if any(c in type(module).__name__ for c in MIXER_CLASSES):
            assert not any(r.tensor.startswith(name + ".") and r.kind == "unmapped"
                           for r in rows), name
    routed = sum(r.numel for r in rows if r.counted and r.expert is not None)
    if routed:
        k, experts = spec.experts_per_token, spec.n_experts
        if k:
            assert active_total(rows, k) == n - routed + routed * k // experts
    try:
        changed = load_spec(str(_one_more_layer(folder, tmp_path)))
    except SpecError:  # (a layer count transformers refuses grown alone: Dory's block pairs)
        changed = load_spec(str(_wider_mlp(folder, tmp_path)))
    assert not check(changed, inspect_source(str(folder), changed).decoupled)["ok"]


def _wider_mlp(folder, tmp_path):
    """The config.json with an MLP 16 wider (in its text config when it has one)."""
    config = json.loads((folder / "config.json").read_text())
    holder = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    holder["intermediate_size"] += 16
    changed = tmp_path / "wider.json"
    changed.write_text(json.dumps(config))
    return changed


def _stored_buffers(model) -> set[str]:
    """The persistent buffers under the names save_pretrained stores them by (transformers'
    own conversion: DeepSeek-V4's mlp.gate.tid2eid is stored as ffn.gate.tid2eid)."""
    from transformers.core_model_loading import revert_weight_conversion

    state = model.state_dict()
    names = set()
    for name, _ in model.named_buffers():
        if name in state:
            try:
                names |= set(revert_weight_conversion(model, {name: state[name]}))
            except Exception:  # noqa: BLE001  (a conversion needing its partners: the name)
                names.add(name)
    return names


def _other_component(name: str) -> bool:
    """A multimodal model's vision or audio tower or projector (not the language model)."""
    return any(part in name for part in ("vision", "visual", "audio", "multi_modal_projector",
                                         "image", "speech"))


@pytest.mark.slow
def test_every_causal_lm_type(tmp_path_factory, monkeypatch):
    """Every type builds and answers as transformers does, but those DOES_NOT_BUILD lists."""
    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path_factory.mktemp("cache")))
    failed, wrong = {}, {}
    for model_type in _types():
        folder = tmp_path_factory.mktemp(model_type.replace("-", "_"))
        try:
            model = save_hole_checkpoint(model_type, folder)
        except Exception as e:  # noqa: BLE001  (transformers' own refusal of the config)
            failed[model_type] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
            continue
        try:
            _assert_like_transformers(model, folder, folder)
        except Exception as e:  # noqa: BLE001  (an assertion, or a config transformers refuses)
            wrong[model_type] = f"{type(e).__name__}: {e}"[:200]
    assert set(failed) == set(DOES_NOT_BUILD), failed
    assert set(wrong) == set(NOT_YET), wrong


@pytest.fixture(scope="module")
def mamba(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mamba")
    return save_hole_checkpoint("mamba", folder), folder


def test_state_space_mixer(mamba, tmp_path, monkeypatch):
    """Mamba: every mixer tensor has a role (mixer, or output for out_proj); tied as
    transformers ties it; count, check and inspect agree with num_parameters()."""
    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path / "cache"))
    model, folder = mamba
    _assert_like_transformers(model, folder, tmp_path)
    found = json.loads(run_cli("inspect", str(folder), "--by", "tensor", "--format",
                               "json").stdout)
    roles = {r["tensor"]: r["role"] for r in found["tensor_rows"]}
    layer = "backbone.layers.0.mixer"
    assert {roles[f"{layer}.{t}"] for t in ("in_proj.weight", "conv1d.weight", "x_proj.weight",
                                            "dt_proj.weight", "A_log", "D")} == {"mixer"}
    assert roles[f"{layer}.out_proj.weight"] == "output" and found["tied"] is True
    assert found["parameters"] == model.num_parameters()


def test_costs_of_a_state_space_model(mamba, tmp_path):
    """count --costs of Mamba (no attention layer, no context length): no keys or values
    cached, no attention term; the weights every parameter once; a fixed state per sequence of
    2 layers x (128 conv channels x 4 kernel + 128 d_inner x 16 d_state) = 2 x 2,560 values,
    x 4 bytes in fp32 = 20,480."""
    model, folder = mamba
    env = {"INSPECTOR_CACHE": str(tmp_path / "cache")}
    result = run_cli("count", str(folder / "config.json"), "--costs", "--format", "json",
                     env=env)
    assert result.returncode == 0, result.stderr
    costs = json.loads(result.stdout)["costs"]
    kv = costs["kv_cache"]
    assert [p["bytes"] for p in kv["per_token"]] == [0, 0, 0]
    assert kv["state_per_sequence"][0] == {"dtype": "fp32", "bytes": 20_480}
    assert costs["flops"]["attention"] == 0
    assert costs["weights"][0]["bytes"] == 4 * model.num_parameters()  # fp32


def test_fit_of_a_state_space_model(mamba, tmp_path):
    """fit of Mamba: nothing cached grows with the context; with no n_ctx in its config the
    context is asked for."""
    _, folder = mamba
    env = {"INSPECTOR_CACHE": str(tmp_path / "cache")}
    spec = str(folder / "config.json")
    asked = run_cli("fit", spec, "--memory", "1GB", env=env)
    assert asked.returncode != 0 and "say --context" in asked.stderr
    found = json.loads(run_cli("fit", spec, "--memory", "1GB", "--context", "4096", "--format",
                               "json", env=env).stdout)
    assert found["fits"] and found["kv_cache_bytes"] == 0 and found["max_context"] == 4096


def test_second_count_reads_the_cache_without_torch(mamba, tmp_path):
    """The first count builds the model (torch); the second reads the cache: no torch import."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    _, folder = mamba
    env = {**os.environ, "PYTHONPATH": str(REPO), "INSPECTOR_CACHE": str(tmp_path / "cache")}
    code = ("import sys\nfrom inspector.cli.main import main\n"
            f"sys.argv = ['inspector', 'count', {str(folder / 'config.json')!r}, '--format',"
            " 'json']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, file=sys.stderr)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=600, check=False) for _ in range(2)]
    assert [r.stderr.strip().splitlines()[-1] for r in runs] == ["True", "False"]
    assert json.loads(runs[0].stdout) == json.loads(runs[1].stdout)


@pytest.mark.parametrize("head", ["bert", "roberta"])
def test_encoder_causal_heads(head, tmp_path, monkeypatch):
    """BertLMHeadModel and RobertaForCausalLM (config.json and checkpoint of one model): check
    matches, count is num_parameters(), tied as transformers ties them."""
    import torch
    from transformers import BertConfig, BertLMHeadModel, RobertaConfig, RobertaForCausalLM

    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path / "cache"))
    config_class, model_class = {"bert": (BertConfig, BertLMHeadModel),
                                 "roberta": (RobertaConfig, RobertaForCausalLM)}[head]
    torch.manual_seed(0)
    model = model_class(config_class(vocab_size=1000, hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=128,
                                     is_decoder=True))
    model.save_pretrained(tmp_path / head)
    folder = tmp_path / head
    assert run_cli("check", str(folder), "--spec", str(folder / "config.json")).returncode == 0
    counted = json.loads(run_cli("count", str(folder / "config.json"), "--format", "json").stdout)
    assert counted["total"] == model.num_parameters() == 169_256
    found = json.loads(run_cli("inspect", str(folder), "--format", "json").stdout)
    assert found["tied"] is True and found["parameters"] == model.num_parameters()
    assert not any(r["role"] == "unmapped" for r in found["roles"])


def test_count_of_a_multimodal_config_is_the_whole_model(tmp_path, monkeypatch):
    """Gemma 3's config.json names Gemma3ForConditionalGeneration: `count` gives that model's
    num_parameters(), vision tower and projector included (read by the transformers path),
    while `check --spec config.json` still compares the language model by its family
    (tests/test_components.py)."""
    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path / "cache"))
    model = save_hole_checkpoint("gemma3", tmp_path / "gemma3")
    result = run_cli("count", str(tmp_path / "gemma3" / "config.json"), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == model.num_parameters()
