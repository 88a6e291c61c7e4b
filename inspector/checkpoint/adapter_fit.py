"""Whether a PEFT adapter fits a base model (`inspector check ADAPTER_DIR --spec BASE`), and the
base models an adapter is read against: a spec, a config.json or a base model's folder."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from inspector.checkpoint.adapters import (
    COPIES,
    LORA_A,
    LORA_B,
    OTHER,
    PARTS,
    Adapter,
    AdapterConfig,
    AdapterTensor,
)
from inspector.spec.schema import Spec
from inspector.vocab.canonical import parse
from inspector.vocab.layout import Layout


@dataclass
class Base:
    """The model an adapter is read against: its canonical shapes and the layout its module
    names are read by (a folder's own; a spec's family's, whichever of its layouts knows most)."""

    name: str
    family: str | None
    spec: Spec | None
    shapes: dict[str, tuple[int, ...]]  # canonical name -> shape, (out, in) for a matrix
    layout: Layout | None = None

    def layout_for(self, names: list[str]) -> Layout | None:
        if self.layout is not None or self.family is None:
            return self.layout
        from inspector import families

        family = families.get(self.family)
        if family is None:
            return None
        return max(family.layouts, key=lambda lay: sum(lay.match(n) is not None for n in names))


def load_base(name: str) -> Base:
    """A base model: a folder (its checkpoint's headers, and config.json when it has one), or
    a shipped spec, a spec file or a config.json (inspector.spec.loading.load_spec)."""
    if Path(name).is_dir():
        from inspector.checkpoint.inspection import inspect_source
        from inspector.families import family_of_layout

        found = inspect_source(name)
        layout = found.decoupled.layout
        shapes = {r.canonical: r.shape for r in found.rows if r.canonical and r.is_parameter}
        family = found.spec.family if found.spec is not None else family_of_layout(layout)
        return Base(name, family, found.spec, shapes, layout)
    from inspector.spec.loading import load_spec

    return spec_base(load_spec(name))


def spec_base(spec: Spec) -> Base:
    """A spec as a base: its canonical shapes, its family's layouts."""
    from inspector.spec.describe import parameter_shapes

    return Base(spec.name, spec.family, spec, dict(parameter_shapes(spec)))


def said_base(adapter: Adapter, spec: Spec | None) -> tuple[Base | None, str]:
    """The base `inspect` reads roles by, and where it comes from: --spec, else
    base_model_name_or_path when it is a folder here; else none (the names choose a layout)."""
    if spec is not None:
        return spec_base(spec), "--spec"
    folder = adapter.config.base_model
    if folder and (Path(folder) / "config.json").is_file():
        return load_base(folder), "base_model_name_or_path"
    return None, "tensor names"


def fit(adapter: Adapter, base: Base) -> dict:
    """Whether the adapter fits the base: every module it adapts or copies is one of the base's,
    each A reads as many inputs and each B (and DoRA magnitude) gives as many outputs as that
    module has, a copy has its shape, and every name in target_modules is a module of the base."""
    layout = base.layout_for([t.module for t in adapter.tensors])
    by_module: dict[str, list[AdapterTensor]] = defaultdict(list)
    for t in adapter.tensors:
        by_module[t.module].append(t)
    problems: list[str] = []
    modules = [_fit_module(module, parts, layout, base, problems)
               for module, parts in by_module.items()]
    problems += _missing_targets(adapter.config, layout, base)
    return {"ok": not problems, "source": adapter.source, "base": base.name,
            "family": base.family, "layout": layout.name if layout else None,
            "modules": modules, "problems": problems}


def _fit_module(module: str, parts: list[AdapterTensor], layout: Layout | None, base: Base,
                problems: list[str]) -> dict:
    """One adapted (or copied) module against the base's: its row of the verdict table."""
    found = layout.match(module) if layout is not None and layout.rules else None
    targets = [] if found is None or found[0].is_buffer else \
        [t.replace("{i}", str(found[1])) for t in found[0].targets]
    shapes = [base.shapes.get(t) for t in targets]
    row = {"module": module, "parts": sorted({t.part for t in parts}, key=PARTS.index),
           "roles": [parse(t)[0].value for t in targets], "layer": found[1] if found else None,
           "shape": None, "base_shape": None, "ok": True}
    if not targets or None in shapes:
        problems.append(f"{module}: the base {base.name} has no such module")
        return {**row, "ok": False}
    whole = (sum(s[0] for s in shapes), *shapes[0][1:])  # parts stacked on their outputs
    row["base_shape"] = list(whole)
    said = []
    for t in parts:
        said += _part_problems(t, whole, found[0].transposed)
    ranks = {t.info.shape[0] if t.part == LORA_A else t.info.shape[-1] for t in parts
             if t.part in (LORA_A, LORA_B) and t.kind == "weight" and len(t.info.shape) == 2}
    if len(ranks) > 1:
        said.append(f"lora_A and lora_B disagree on the rank: {sorted(ranks)}")
    problems += [f"{module} ({', '.join(row['roles'])}): {text}" for text in said]
    row["shape"] = _lora_shape(parts)
    return {**row, "ok": not said}


def _lora_shape(parts: list[AdapterTensor]) -> list[int] | None:
    """The module's shape as its LoRA sees it: [B's outputs, A's inputs] (nn.Linear's order)."""
    a = next((t.info.shape for t in parts if t.part == LORA_A), None)
    b = next((t.info.shape for t in parts if t.part == LORA_B and t.kind == "weight"), None)
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return None
    return [b[0], a[1]]


def _part_problems(t: AdapterTensor, whole: tuple[int, ...], transposed: bool) -> list[str]:
    """What of one adapter tensor does not fit the base module of canonical shape `whole`."""
    shape = tuple(t.info.shape)
    if t.part in COPIES:
        stored = whole[::-1] if transposed and len(whole) == 2 else whole
        return [] if shape == stored else \
            [f"its copy ({t.part}) is {list(shape)}, the base's is {list(stored)}"]
    if t.part == OTHER or len(whole) != 2:
        return [] if t.part == OTHER else [f"{t.part} adapts a module of shape {list(whole)}"]
    outputs, inputs = (whole[1], whole[0]) if t.embedding else whole  # nn.Embedding: (vocab, d)
    if t.part == LORA_A:
        found, want, what = shape[-1], inputs, "inputs"
    else:  # B's rows, its bias, DoRA's magnitudes: one per output
        found, want, what = shape[0], outputs, "outputs"
    if found == want:
        return []
    return [(f"{t.part} {list(shape)} has {found} {what}, the base module {want} (base"
            f" {list(whole)})")]


def _missing_targets(config: AdapterConfig, layout: Layout | None, base: Base) -> list[str]:
    """The names of target_modules (and modules_to_save) the base has no module of; a name is
    looked up by its last part, as peft matches `q_proj` in `model.layers.0.self_attn.q_proj`.
    A regular expression (target_modules as one string) is left to the tensors' own check."""
    leaves = set()
    for rule in layout.rules if layout is not None else ():
        if rule.targets and all(t.replace("{i}", "0").replace("{e}", "0") in base.shapes
                                for t in rule.targets):
            leaves.add(rule.pattern.split(".")[-2] if "." in rule.pattern else rule.pattern)
    listed = [*(config.target_modules if isinstance(config.target_modules, list) else []),
              *config.modules_to_save]
    return [f"target module '{name}' (adapter_config.json): the base {base.name} has no such"
            " module" for name in listed if name.split(".")[-1] not in leaves]
