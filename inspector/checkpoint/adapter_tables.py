"""A PEFT adapter's tensors under the roles and layers of the base modules they adapt, and its
tables (by role, layer, tensor): what `inspector inspect ADAPTER_DIR` shows.

A LoRA on a fused module (GPT-2's `c_attn`) adapts all of its parts: B's rows (and DoRA's
magnitudes) are cut as the module's outputs are; A, which every part reads whole, is counted
under the first part and shown under the others as `shared` (one storage, several roles, added
once: as a tied unembedding is).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from inspector.checkpoint.adapter_fit import said_base
from inspector.checkpoint.adapters import (
    COPIES,
    LORA_A,
    LORA_B,
    NOT_ADDED,
    PARTS,
    Adapter,
    AdapterTensor,
    open_adapter,
)
from inspector.spec.schema import Spec
from inspector.vocab.canonical import parse
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.roles import Role, role_sort_key
from inspector.vocab.tables import UNMAPPED_ROLE, layer_sort_key


@dataclass(frozen=True)
class AdapterRow:
    """One adapter tensor, or what of it adapts one part of a fused base module (B's rows of
    that part; all of A)."""

    tensor: str
    part: str
    role: Role | None  # None: the base layout does not know the module
    layer: int | None
    numel: int
    canonical: str = ""  # the base's canonical name of the part adapted
    shared: bool = False  # a fused module's A seen again by another part: shown, not added

    @property
    def counted(self) -> bool:
        """Added to the adapter's parameters: not a repeat, not a saved base layer."""
        return not self.shared and self.part not in NOT_ADDED


def adapter_rows(adapter: Adapter, layout: Layout | None, spec: Spec | None) -> list[AdapterRow]:
    """Every adapter tensor under the role and layer of the base module it adapts."""
    outputs = {t.module: t.info.shape[0] for t in adapter.tensors
               if t.part == LORA_B and t.kind == "weight" and t.info.shape}
    return [row for t in adapter.tensors
            for row in _tensor_rows(t, layout, spec, outputs.get(t.module))]


def _tensor_rows(t: AdapterTensor, layout: Layout | None, spec: Spec | None,
                 outputs: int | None) -> list[AdapterRow]:
    """A tensor's rows: one per part of the base module it adapts (a fused module has several).
    `outputs`: the module's outputs as its B has them, by which a fused module is cut."""
    found = layout.match(t.module) if layout is not None and layout.rules else None
    if found is None or found[0].is_buffer:
        return [AdapterRow(t.info.name, t.part, *_inferred(t.module), t.info.numel)]
    if t.part in COPIES:  # the base tensor itself: cut as the base's own would be
        from inspector.checkpoint.tensor_rows import _rows  # the base's own reading of that tensor

        return [AdapterRow(t.info.name, t.part, r.role, r.layer, r.numel, r.canonical)
                for r in _rows(t.info._replace(name=t.module), layout, spec)]
    rule, layer = found
    targets, sizes = _cut(rule, layer, outputs, spec)
    if t.part == LORA_A:  # every part reads all of A
        return [AdapterRow(t.info.name, t.part, parse(name)[0], layer, t.info.numel, name,
                           shared=at > 0) for at, name in enumerate(targets)]
    whole = sum(sizes)  # B's rows (its bias, DoRA's magnitudes): each part its own outputs
    return [AdapterRow(t.info.name, t.part, parse(name)[0], layer, t.info.numel * n // whole,
                       name) for name, n in zip(targets, sizes)]


def _cut(rule: Rule, layer: int | None, outputs: int | None,
         spec: Spec | None) -> tuple[list[str], list[int]]:
    """A module's canonical parts and their outputs; a fused module that cannot be cut (unequal
    parts and no spec to size them) whole under its first part, as
    inspector.checkpoint.tensor_rows does."""
    from inspector.checkpoint.tensor_rows import split_sizes

    targets = [t.replace("{i}", str(layer)) for t in rule.targets]
    sizes = split_sizes(rule, outputs, spec) if len(targets) > 1 and outputs else None
    if sizes is None:
        return targets[:1], [1]
    return targets, sizes


def _inferred(module: str) -> tuple[Role | None, int | None]:
    """Role and layer by generic names (`q_proj` is a query) where no layout knows the module."""
    from inspector.families.name_patterns import infer

    guess = infer(module)
    if guess is None or guess[2] == "buffer":
        return None, None
    return guess[0], guess[1]


def _role_name(row: AdapterRow) -> str:
    return row.role.value if row.role is not None else UNMAPPED_ROLE


def part_table(rows: list[AdapterRow], key: str) -> list[dict]:
    """One row per role (key "role") or layer (key "layer"): each part's values, their sum, and
    (by role) a fused module's A shown again under its other parts (`shared`, not added)."""
    cells: dict[object, dict] = {}
    for row in rows:
        if row.shared and key != "role":
            continue
        at = _role_name(row) if key == "role" else row.layer
        cell = cells.setdefault(at, {key: at, **dict.fromkeys(PARTS, 0), "shared": 0,
                                     "parameters": 0})
        if row.shared:
            cell["shared"] += row.numel
            continue
        cell[row.part] += row.numel
        cell["parameters"] += row.numel if row.counted else 0
    order = role_sort_key if key == "role" else layer_sort_key
    return sorted(cells.values(), key=lambda c: order(c[key]))


def shown_columns(table: list[dict], key: str) -> list[str]:
    """The columns a printed table needs: the parts this adapter has."""
    return [key, *(p for p in (*PARTS, "shared") if any(row[p] for row in table)),
            "parameters"]


def tensor_table(adapter: Adapter, rows: list[AdapterRow]) -> list[dict]:
    """One row per stored tensor: its part, the base module, the roles it adapts."""
    roles: dict[str, list[str]] = defaultdict(list)
    layers: dict[str, int | None] = {}
    for row in rows:
        roles[row.tensor].append(_role_name(row))
        layers[row.tensor] = row.layer
    return [{"tensor": t.info.name, "part": t.part, "kind": t.kind, "module": t.module,
             "roles": roles[t.info.name], "layer": layers.get(t.info.name),
             "shape": list(t.info.shape), "numel": t.info.numel, "dtype": t.info.dtype,
             "bytes": t.info.nbytes}
            for t in adapter.tensors]


def inspect_adapter(source: str, spec: Spec | None = None) -> tuple[dict, Adapter,
                                                                      list[AdapterRow]]:
    """The JSON document of `inspector inspect ADAPTER_DIR`, with the adapter and its rows."""
    from inspector.families import choose_layout, family_of_layout

    adapter = open_adapter(source)
    base, basis = said_base(adapter, spec)
    names = [t.module for t in adapter.tensors]
    layout = base.layout_for(names) if base is not None else choose_layout(names)
    rows = adapter_rows(adapter, layout, base.spec if base is not None else None)
    dtypes: dict[str, int] = {}
    for t in adapter.tensors:
        dtypes[t.info.dtype] = dtypes.get(t.info.dtype, 0) + 1
    family = base.family if base is not None else (family_of_layout(layout) if layout else None)
    document = {
        "source": source,
        "format": f"peft adapter ({adapter.checkpoint.format})",
        "adapter": adapter.config.as_dict(),
        "base": {"name": base.name if base is not None else adapter.config.base_model,
                 "family": family, "layout": layout.name if layout else "inferred",
                 "basis": basis},
        "tensors": len(adapter.tensors),
        "parameters": sum(r.numel for r in rows if r.counted),
        "bytes": adapter.checkpoint.nbytes,
        "dtypes": dtypes,
        "roles": part_table(rows, "role"),
    }
    return document, adapter, rows


def names_joined(rows: list[dict]) -> list[dict]:
    """Rows for a table or CSV: a list of names (roles, parts) as one cell `query, key, value`
    (the renderer writes a list as a shape, `96x32`)."""
    return [{k: ", ".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) and v
             else ("-" if v == [] else v) for k, v in row.items()} for row in rows]
