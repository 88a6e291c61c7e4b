"""A mapping checked against the schema (inspector.spec.schema) and made a Spec: every problem
gathered into one SpecError line, with a suggestion where a key or name is close to a valid one."""

from __future__ import annotations

import reprlib

from inspector.errors import SpecError
from inspector.spec.schema import BIAS_KINDS, FIELDS, POSITIVE, REQUIRED, Spec
from inspector.vocab.words import MAX_LAYERS, ROPE_SCALING_KEYS, ROPE_TYPES, UNBUILT_ROPE_TYPES


def _where(origin: str) -> str:
    return origin or "spec"


def _check_type(key: str, value: object, expected) -> str | None:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        return f"'{key}' must be {_type_names(types)}, got {value!r}"
    if not isinstance(value, types):  # the value shortened: a spec's list may be 100,000 long
        return (f"'{key}' must be {_type_names(types)}, got {type(value).__name__}"
                f" {reprlib.repr(value)}")
    return None


def _type_names(types: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             dict: "a mapping", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _biases(value: object, problems: list[str]) -> frozenset:
    if isinstance(value, bool):
        return frozenset(BIAS_KINDS) if value else frozenset()
    kinds = set()
    for kind, on in value.items():
        if kind not in BIAS_KINDS:
            problems.append(f"unknown key 'biases.{kind}'{_suggest(kind, BIAS_KINDS)}")
        elif not isinstance(on, bool):
            problems.append(f"'biases.{kind}' must be true or false, got {reprlib.repr(on)}")
        elif on:
            kinds.add(kind)
    return frozenset(kinds)


def _suggest(key: str, valid) -> str:
    import difflib  # only for a mistake: a name to suggest

    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def spec_from_dict(data: object, origin: str = "") -> Spec:
    """Validate a mapping and build a Spec. All problems are gathered into one SpecError line."""
    where = _where(origin)
    if not isinstance(data, dict):
        raise SpecError(where, f"a spec must be a mapping of keys to values, got {type(data).__name__}")
    problems: list[str] = []
    values: dict[str, object] = {}
    for key in data:
        if key not in FIELDS:
            problems.append(f"unknown key '{key}'{_suggest(key, FIELDS)}")
    for key, (expected, default, choices) in FIELDS.items():
        if key not in data or data[key] is None:
            if default is REQUIRED:
                problems.append(f"missing key '{key}'")
            values[key] = default
            continue
        value = data[key]
        problem = _check_type(key, value, expected)
        if problem:
            problems.append(problem)
            values[key] = default if default is not REQUIRED else None
            continue
        if choices and value not in choices:
            problems.append(f"'{key}' must be one of {', '.join(choices)}; got"
                            f" {reprlib.repr(value)}")
        values[key] = value
    for key in POSITIVE:
        value = values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            problems.append(f"'{key}' must be positive, got {value}")
    for key in ("n_layers", "n_decoder_layers"):
        n_layers = values.get(key)
        if isinstance(n_layers, int) and n_layers > MAX_LAYERS:
            shown = f"{n_layers:,}" if n_layers < 10**30 else "over 10^30"
            problems.append(f"'{key}' is {shown}, more than the {MAX_LAYERS:,} this tool counts")
    if values.get("n_decoder_layers") and values.get("architecture") != "encoder-decoder":
        problems.append("'n_decoder_layers' is for architecture: encoder-decoder only")
    if isinstance(values.get("position_offset"), int) and values["position_offset"] < 0:
        problems.append(f"'position_offset' must be 0 or more, got {values['position_offset']}")
    if isinstance(values.get("type_vocab_size"), int) and values["type_vocab_size"] < 0:
        problems.append(f"'type_vocab_size' must be 0 or more, got {values['type_vocab_size']}")
    biases = _biases(values["biases"], problems) if values["biases"] is not None else frozenset()
    pattern = values["attention_pattern"] or ["dense"]
    if not all(kind in ("dense", "local") for kind in pattern):
        problems.append("'attention_pattern' entries must be dense or local, got"
                        f" {reprlib.repr(pattern)}")
    elif "local" in pattern and not values.get("local_window"):
        problems.append("'attention_pattern' has local layers but 'local_window' is not given")
    _check_heads(values, problems)
    _check_rotary(values, problems)
    _check_experts(values, problems)
    _check_latent(values, problems)
    _check_input(values, problems)
    _check_family(values.get("family"), problems)
    for key in values.get("published") or {}:
        if key != "n_params" and key not in FIELDS:
            problems.append(f"unknown key 'published.{key}'{_suggest(key, FIELDS)}")
    if values.get("nsp_head") and not values.get("pooler"):
        problems.append("'nsp_head' classifies the pooled token: it needs 'pooler: true'")
    if values.get("norm") == "rmsnorm" and "norm" in biases:
        problems.append("'biases.norm' cannot be true with norm: rmsnorm (RMSNorm has no bias)")
    if values.get("norm_unit_offset") and values.get("norm") != "rmsnorm":
        problems.append("'norm_unit_offset' is Gemma's RMSNorm gain (1 + weight): it needs"
                        " norm: rmsnorm")
    if problems:
        raise SpecError(where, "; ".join(problems))
    d_head = values["d_head"] or values["d_model"] // values["n_heads"]
    encoder_decoder = values["architecture"] == "encoder-decoder"
    return Spec(
        **{k: v for k, v in values.items() if k not in ("d_head", "n_kv_heads", "biases",
                                                       "attention_pattern", "published",
                                                       "dense_layers", "n_decoder_layers")},
        dense_layers=tuple(values["dense_layers"] or ()),
        n_decoder_layers=(values["n_decoder_layers"] or values["n_layers"]) if encoder_decoder
        else 0,
        d_head=d_head,
        n_kv_heads=values["n_kv_heads"] or values["n_heads"],
        biases=biases,
        attention_pattern=tuple(pattern),
        published=dict(values["published"] or {}),
        path=origin,
    )


def _check_rotary(values: dict, problems: list[str]) -> None:
    fraction = values.get("rotary_fraction")
    if isinstance(fraction, (int, float)) and not 0 < fraction <= 1:
        problems.append(f"'rotary_fraction' must be in (0, 1], got {fraction}")
    layers = values.get("rotary_layers")
    if layers is not None:
        if any(flag not in (0, 1) or isinstance(flag, float) for flag in layers):
            problems.append(f"'rotary_layers' entries must be 1 (rotary) or 0 (none), got {layers!r}")
        elif isinstance(values.get("n_layers"), int) and len(layers) != values["n_layers"]:
            problems.append(f"'rotary_layers' has {len(layers)} entries for"
                            f" {values['n_layers']} layers")
    scaling = values.get("rope_scaling")
    if scaling is not None and scaling.get("rope_type") == "yarn":
        if not all(isinstance(scaling.get(k), (int, float)) and scaling[k] > 0
                   for k in ("factor", "original_max_position_embeddings")):
            problems.append("'rope_scaling' of rope_type yarn needs positive factor and"
                            f" original_max_position_embeddings; got {scaling!r}")
    elif scaling is not None and scaling.get("rope_type") not in UNBUILT_ROPE_TYPES:
        keys = ROPE_TYPES.get(scaling.get("rope_type"))
        if keys is None or set(scaling) != set(keys):
            problems.append("'rope_scaling' must give rope_type: llama3 and exactly "
                            + ", ".join(ROPE_SCALING_KEYS[1:])
                            + f", or rope_type: linear and factor; got {scaling!r}")
        elif not all(isinstance(scaling[k], (int, float)) and not isinstance(scaling[k], bool)
                     and scaling[k] > 0 for k in keys[1:]):
            problems.append(f"'rope_scaling' values must be positive numbers, got {scaling!r}")


def _check_experts(values: dict, problems: list[str]) -> None:
    experts, k = values.get("n_experts"), values.get("experts_per_token")
    if not isinstance(experts, int) or isinstance(experts, bool):
        return
    if experts < 0:
        problems.append(f"'n_experts' must be 0 or more, got {experts}")
    elif experts and not (isinstance(k, int) and 0 < k <= experts):
        problems.append(f"'experts_per_token' must be from 1 to n_experts ({experts}) in a"
                        f" mixture of experts, got {reprlib.repr(k)}")
    for key in ("d_ff_expert", "d_ff_shared"):
        if isinstance(values.get(key), int) and values[key] < 0:
            problems.append(f"'{key}' must be 0 or more, got {values[key]}")
    dense = values.get("dense_layers") or []
    n_layers = values.get("n_layers")
    limit = n_layers if isinstance(n_layers, int) and not isinstance(n_layers, bool) else None
    if any(not isinstance(i, int) or isinstance(i, bool) or i < 0
           or (limit is not None and i >= limit) for i in dense):
        problems.append(f"'dense_layers' must list layer numbers from 0 to n_layers - 1, got"
                        f" {reprlib.repr(dense)}")


def _check_latent(values: dict, problems: list[str]) -> None:
    """Latent attention needs every head width it names."""
    if values.get("kv_lora_rank") is None:
        return
    missing = [key for key in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
               if values.get(key) is None]
    if missing:
        problems.append(f"'kv_lora_rank' (latent attention) needs {', '.join(missing)}")


def _check_input(values: dict, problems: list[str]) -> None:
    """Token ids need a vocabulary; an image, its size, and as many positions as patches + 1."""
    patch, image, n_ctx = values.get("patch_size"), values.get("image_size"), values.get("n_ctx")
    if patch is None:
        if values.get("vocab_size") is None:
            problems.append("missing key 'vocab_size'")
        return
    if not isinstance(image, int) or not isinstance(patch, int) or image <= 0 or patch <= 0:
        problems.append("'patch_size' needs 'image_size' (an image model's input)")
    elif isinstance(n_ctx, int) and n_ctx != (image // patch) ** 2 + 1:
        problems.append(f"'n_ctx' must be the {(image // patch) ** 2} patches of a {image}-pixel"
                        f" image in {patch}-pixel patches + 1 ([CLS]), got {n_ctx}")


def _check_family(family: object, problems: list[str]) -> None:
    from inspector.families import spec_family_names

    names = spec_family_names()
    if isinstance(family, str) and family not in names:
        problems.append(f"'family' must be one of {', '.join(names)}; got {family!r}"
                        f"{_suggest(family, names)}")


def _check_heads(values: dict, problems: list[str]) -> None:
    d_model, n_heads = values.get("d_model"), values.get("n_heads")
    if not all(isinstance(v, int) and v > 0 for v in (d_model, n_heads)):
        return
    if not values.get("d_head") and d_model % n_heads:
        problems.append(
            f"n_heads {n_heads} does not divide d_model {d_model}; give d_head explicitly"
        )
    n_kv = values.get("n_kv_heads")
    if isinstance(n_kv, int) and n_kv > 0 and n_heads % n_kv:
        problems.append(f"n_kv_heads {n_kv} does not divide n_heads {n_heads}")
