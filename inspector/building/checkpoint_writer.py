"""`inspector build`: a spec -> a hub-layout checkpoint (config.json + model.safetensors) of
seeded random weights, in the names of the spec's family, that transformers' from_pretrained loads.

The tensor names come from inverting the family's layout table (weights.to_stored), and the
config.json from inverting hf_config's key table, then reading it back as a spec: whatever the
config cannot say (a head width apart from d_model in GPT-2, a norm GPT-2 does not have) is an
error, not a silently different model. GPT-3's local attention layers are the one exception: they
change no tensor, so the checkpoint is written and the gap is said aloud.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from inspector import families
from inspector.errors import SpecError, UsageError
from inspector.files.atomic import make_folder, write_atomically
from inspector.formats.dtypes import DTYPES as ALL_DTYPES
from inspector.formats.dtypes import WRITTEN
from inspector.spec.config_json import config_from_spec, spec_from_config
from inspector.spec.describe import parameter_shapes
from inspector.spec.schema import BIAS_KINDS, FIELDS, Spec

DTYPES = WRITTEN  # by torch name: float32, float16, bfloat16
DTYPE_BYTES = {d.torch: d.bytes for d in ALL_DTYPES if d.written}


# Spec fields that describe no tensor and no arithmetic of the forward pass.
DESCRIPTIVE = ("name", "family", "source", "notes", "published")
# Fields the config.json cannot carry but that change no tensor: written with a note.
FORWARD_ONLY = ("attention_pattern", "local_window")


@dataclass
class Written:
    files: list[Path]
    notes: list[str]


def hub_config(spec: Spec, dtype: str = "float32") -> tuple[dict, list[str]]:
    """The transformers config.json of `spec`, and notes on what it cannot say (forward only)."""
    family = families.get(spec.family)
    if family is None:  # a spec is validated against the registry, so only a hand-made Spec
        raise UsageError(spec.name, f"family {spec.family!r} has no hub layout to write")
    config = config_from_spec(spec)
    config = _validated(config, dtype)
    try:
        back = spec_from_config(config, origin=f"{spec.name} as config.json")
    except SpecError as e:
        raise UsageError(spec.name, f"a {family.config_model_type} config.json cannot express"
                                    " this spec:"
                                    f" read back, {e.cause}") from e
    back = families.tied_as_stored(back, spec.tied_embeddings)  # the tensors written say it
    lost = [f"{key} {getattr(spec, key)!r} (it reads back as {getattr(back, key)!r})"
            for key in FIELDS if key not in DESCRIPTIVE + FORWARD_ONLY + ("biases",)
            and getattr(spec, key) != getattr(back, key)]
    # Biases are judged by the tensors they make: `biases: true` on an encoder names an
    # unembedding bias that no tensor carries.
    ours, theirs = dict(parameter_shapes(spec)), dict(parameter_shapes(back))
    for name in sorted(set(ours) ^ set(theirs)):
        lost.append(f"{name} ({'the spec has it' if name in ours else 'the spec has none'})")
    if lost:
        raise UsageError(spec.name, f"a {family.config_model_type} config.json cannot express "
                                    + "; ".join(lost) + f": {family.hf_class} would be a"
                                    " different model" + _bias_hint(spec, back, family))
    notes = []
    if _layer_attention(spec) != _layer_attention(back):  # a pattern the config has no key for
        notes.append(f"{spec.name}: attention_pattern {list(spec.attention_pattern)} (local window"
                     f" {spec.local_window}) has no {family.config_model_type} config key; the"
                     f" tensors are the same, but transformers' {family.hf_class} attends densely"
                     " in every layer (inspector's own model keeps the local layers)")
    return config, notes


def _bias_hint(spec: Spec, back: Spec, family) -> str:
    """Why `count` counted a bias `build` refuses: the spec names a kind of bias (`biases: true`
    names them all) the family's model has not; and the biases it has, to write instead."""
    ours = len(parameter_shapes(spec))
    extra = [kind for kind in BIAS_KINDS if kind in spec.biases and kind not in back.biases
             and len(parameter_shapes(replace(spec, biases=spec.biases - {kind}))) < ours]
    if not extra:
        return ""
    has = ", ".join(f"{kind}: true" for kind in BIAS_KINDS if kind in back.biases)
    return (f". The spec gives {', '.join(extra)} a bias (`biases: true` names every kind), so"
            f" `count` counts it; a {family.name} model has biases: {{{has}}}")


def _layer_attention(spec: Spec) -> tuple:
    """Each layer's attention kind, and the window of the local ones."""
    local = "local" in spec.attention_pattern
    return (tuple(spec.layer_attention(i) for i in range(spec.n_layers)),
            spec.local_window if local else None)


# Special tokens a config class names by default (GPT-2's <|endoftext|> is 50256).
TOKEN_ID_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id")


def _validated(config: dict, dtype: str) -> dict:
    """Through transformers' own config class: its defaults filled in, every key explicit. A
    default special-token id beyond this vocabulary (50256 in a 100-token model) is dropped: the
    spec names no tokens, and transformers warns about such an id."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config_class = CONFIG_MAPPING[config["model_type"]]
    for key in TOKEN_ID_KEYS:
        default = getattr(config_class, key, None)
        if isinstance(default, int) and default >= config["vocab_size"]:
            config[key] = None
    try:
        made = AutoConfig.for_model(**config, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise UsageError(config["model_type"], f"transformers refuses the config: {e}") from e
    return json.loads(made.to_json_string(use_diff=False))


def _places(rule, spec: Spec) -> list[tuple[int | None, int | None]]:
    """(layer, expert) of each tensor a rule stores: an expert's tensor per layer and expert,
    a layer's experts together (expert = how many), or one a layer, or one."""
    layers = _stored_layers(rule, spec)
    if "{e}" in rule.pattern:
        return [(layer, e) for layer in layers for e in range(spec.n_experts)]
    return [(layer, spec.n_experts if rule.experts else None) for layer in layers]


def hub_tensors(model, spec: Spec) -> dict:
    """The model's parameters under the family's names, in its stored orientation. A tied
    unembedding is not written (transformers ties it from the config)."""
    from inspector.building.weights import targets, to_stored

    layout = families.get(spec.family).write_layout(spec)
    canonical = {name: p.detach() for name, p in model.named_parameters()}
    out, written = {}, set()
    for rule in layout.rules:
        if rule.is_buffer:
            continue
        for stored_layer, expert in _places(rule, spec):
            layer = rule.canonical_layer(stored_layer, spec.n_layers)
            names = targets(rule, layer, expert)
            present = [n in canonical and n not in written for n in names]
            if not any(present):
                continue  # a bias this spec does not have, or a name an earlier rule wrote
            if not all(present):
                absent = [n for n, p in zip(names, present) if not p]
                raise UsageError(spec.name, f"the {layout.name} layout stores"
                                            f" {', '.join(names)} together, the model lacks"
                                            f" {', '.join(absent)}")
            stored = rule.pattern.replace("{i}", str(stored_layer)).replace("{e}", str(expert))
            out[stored] = to_stored([canonical[n] for n in names], rule, layer, spec)
            written.update(names)
    left = sorted(set(canonical) - written)
    if left:
        raise UsageError(spec.name, f"the {layout.name} layout has no name for "
                                    f"{', '.join(left[:5])}" + (" ..." if len(left) > 5 else ""))
    return out


def _stored_layers(rule, spec: Spec) -> list[int | None]:
    """The layer numbers a rule's stored names take: none, the blocks, or a decoder stack's."""
    if "{i}" not in rule.pattern:
        return [None]
    return list(range(spec.n_decoder_layers if rule.after_encoder else spec.n_layers))


def write_checkpoint(spec: Spec, out_dir: str | Path, seed: int = 0,
                     dtype: str = "float32") -> Written:
    """Build `spec` with seeded random weights (build.init_weights) and write it (write_model)."""
    if dtype not in DTYPES:
        raise UsageError(dtype, f"not a dtype to write; choose one of {', '.join(DTYPES)}")
    from inspector.building.transformer import refuse_unbuilt

    refuse_unbuilt(spec)  # refuse a model that cannot be built, or an inexpressible spec,
    hub_config(spec, dtype)  # before any work
    _prepare(Path(out_dir), spec, dtype, copies=2)  # the model, then its stored copy

    import torch

    from inspector.building.transformer import build_model

    model = build_model(spec, device="cpu", dtype=getattr(torch, dtype), seed=seed)
    return write_model(model, out_dir, dtype, {"inspector_seed": str(seed)})


def write_model(model, out_dir: str | Path, dtype: str = "float32",
                metadata: dict | None = None) -> Written:
    """A built model's values as config.json + model.safetensors in its family's hub layout, both
    or neither (temporary files, renamed into place once both are complete)."""
    import torch
    from safetensors.torch import save_file

    spec: Spec = model.spec
    config, notes = hub_config(spec, dtype)
    out_dir = Path(out_dir)
    _prepare(out_dir, spec, dtype, copies=1)
    tensors = {name: t.to(getattr(torch, dtype)) for name, t in hub_tensors(model, spec).items()}
    metadata = {"format": "pt", "inspector_spec": spec.name, **(metadata or {})}
    files = write_atomically(out_dir, {
        "config.json": lambda tmp: tmp.write_text(json.dumps(config, indent=2) + "\n",
                                                  encoding="utf-8"),
        "model.safetensors": lambda tmp: save_file(tensors, str(tmp), metadata=metadata),
    }, "checkpoint")
    return Written(files, notes)


def _prepare(out_dir: Path, spec: Spec, dtype: str, copies: int) -> None:
    """The folder exists, nothing in it would be read before our model.safetensors, and there
    is room: refuse now rather than fail after minutes of work."""
    from inspector.formats.local import FOLDER_WEIGHTS
    from inspector.spec.describe import spec_rows
    from inspector.vocab.tables import total

    nbytes = total(spec_rows(spec)) * DTYPE_BYTES[dtype]
    memory = _available_memory()
    if memory is not None and copies * nbytes > memory:
        raise UsageError(spec.name, f"writing it in {dtype} needs about"
                                    f" {copies * nbytes / 1e9:,.1f}"
                                    f" GB of memory, {memory / 1e9:,.1f} GB is available; count"
                                    " it instead (`inspector count`)")
    make_folder(out_dir)
    shadowing = [n for n in FOLDER_WEIGHTS[:FOLDER_WEIGHTS.index("model.safetensors")]
                 if (out_dir / n).exists()]
    if shadowing:
        raise UsageError(out_dir, f"already holds {', '.join(shadowing)}, which would be read"
                                  " instead of the model.safetensors written here; use an"
                                  " empty folder")
    free = shutil.disk_usage(out_dir).free
    if nbytes > free:
        raise UsageError(out_dir, f"{spec.name} in {dtype} needs {nbytes / 1e9:,.1f} GB, the"
                                  f" disk has {free / 1e9:,.1f} GB free")


def _available_memory() -> int | None:
    """Linux's estimate of memory available without swapping; None where it is not known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
