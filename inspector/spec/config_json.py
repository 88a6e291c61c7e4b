"""A Hugging Face `config.json` read as a Spec, and a Spec written as one, through the key
tables of the family its model_type names (inspector.families)."""

from __future__ import annotations

from inspector import families
from inspector.errors import SpecError
from inspector.families.base import Family
from inspector.spec.schema import BIAS_KINDS, Spec
from inspector.spec.validation import spec_from_dict
from inspector.vocab.words import ACTIVATIONS, HF_ACTIVATIONS


def first_key(config_keys: str | tuple[str, ...]) -> str:
    return config_keys[0] if isinstance(config_keys, tuple) else config_keys


def spec_from_config(config: object, origin: str = "config.json", name: str | None = None) -> Spec:
    if not isinstance(config, dict):
        raise SpecError(origin, "config.json must hold a JSON object")
    composite = families.composite_of(config)
    if composite is not None:
        name = name or config.get("_name_or_path") or composite.model_type
        config = _text_config(config, families.get(composite.text_family))
    model_type = config.get("model_type")
    family = families.by_model_type(model_type)
    if family is None:
        raise SpecError(origin, f"model_type {model_type!r} is not supported; supported:"
                                f" {', '.join(families.model_types())}")
    data = {**family.defaults, "family": family.name}
    for key, config_keys in family.config_keys.items():
        for config_key in (config_keys if isinstance(config_keys, tuple) else (config_keys,)):
            if config.get(config_key) is not None:
                data[key] = config[config_key]
                break
    act = config.get(family.activation_key) if family.activation_key else None
    if act is not None:
        data["activation"] = ACTIVATIONS.get(act, act) if isinstance(act, str) else act
    if family.bias_keys:
        data["biases"] = _biases(config, family, data.get("biases", False))
    if family.tie_key and config.get(family.tie_key) is not None:
        data["tied_embeddings"] = config[family.tie_key]
    if family.read_config is not None:
        try:
            family.read_config(config, data)
        except ValueError as e:
            raise SpecError(origin, str(e)) from e
    data["name"] = name or config.get("_name_or_path") or model_type
    data["source"] = f"config.json ({origin})"
    return spec_from_dict(data, origin=origin)


def _text_config(config: dict, family: Family) -> dict:
    """A multimodal config.json's language model as a config of its own family: its
    text_config (Qwen2-VL's says model_type qwen2_vl_text), with the top level's tie, which is
    the one transformers applies to the whole model."""
    text = config.get("text_config")
    text = {**text} if isinstance(text, dict) else {}
    text["model_type"] = family.config_model_type
    if family.tie_key and config.get(family.tie_key) is not None:
        text[family.tie_key] = config[family.tie_key]
    return text


def _biases(config: dict, family: Family, default: bool | dict) -> dict:
    """The family's bias kinds, each config key in `bias_keys` switching its kinds on or off."""
    biases = dict.fromkeys(BIAS_KINDS, default) if isinstance(default, bool) else dict(default)
    for config_key, kinds in family.bias_keys.items():
        if config.get(config_key) is not None:
            biases.update(dict.fromkeys(kinds, bool(config[config_key])))
    return biases


def config_from_spec(spec: Spec) -> dict:
    """The config.json entries of `spec` in its family's keys (before transformers' defaults)."""
    family = families.get(spec.family)
    config: dict = {"model_type": family.config_model_type, "architectures": [family.hf_class]}
    for key, config_keys in family.config_keys.items():
        config[first_key(config_keys)] = getattr(spec, key)
    if family.activation_key:
        config[family.activation_key] = HF_ACTIVATIONS[spec.activation]
    for config_key, kinds in family.bias_keys.items():
        config[config_key] = all(spec.has_bias(kind) for kind in kinds)
    if family.tie_key:
        config[family.tie_key] = spec.tied_embeddings
    if family.write_config is not None:
        family.write_config(spec, config)
    return config
