"""PEFT adapters: a folder with adapter_config.json and adapter_model.safetensors, as peft's
`save_pretrained` writes them. What the adapter holds, by the role of the base module each tensor
adapts, and whether it fits a base model (a spec, a config.json or a base model's folder).

peft names a tensor after the base module it adapts: `base_model.model.` + the base model's own
module name + the adapter's part (`model.layers.0.self_attn.q_proj` + `.lora_A.weight`). Taking
off both ends gives the base tensor (`model.layers.0.self_attn.q_proj.weight`), which the base
family's layout gives a role, a layer and canonical names, as it does in a checkpoint. A LoRA on a
fused module (GPT-2's `c_attn`) adapts all of its parts: B's rows (and DoRA's magnitudes) are cut
as the module's outputs are; A, which every part reads whole, is counted under the first part and
shown under the others as `shared` (one storage, several roles, added once: as a tied
unembedding is).

adapter_config.json is read here, not by peft's `LoraConfig.from_pretrained`: `import peft`
imports torch (peft/__init__ imports its tuners, which import torch and transformers: about a
second, `python -X importtime -c "import peft.config"`), and reading an adapter is header-only.
Only the keys peft 0.21 writes that say what the tensors are, and how they act, are read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from math import sqrt
from pathlib import Path

from inspector.vocab.canonical import parse
from inspector.errors import CheckpointError
from inspector.formats.base import Checkpoint, TensorInfo
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.roles import Role, role_sort_key
from inspector.spec.schema import Spec
from inspector.vocab.tables import UNMAPPED_ROLE, layer_sort_key

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")  # the first present is read
PEFT_PREFIX = "base_model.model."  # PeftModel.base_model (the tuner) .model (the base model)

# The parts of an adapter, as columns of its tables. BASE_LAYER: a base module peft saves beside
# a LoRA on it (`embed_tokens.base_layer.weight`: save_embedding_layers, for a vocabulary that
# may have grown), not trained: shown, not added (peft's count of trainable parameters leaves it
# out too).
LORA_A, LORA_B, MAGNITUDE, COPY, BASE_LAYER, OTHER = (
    "lora_A", "lora_B", "magnitude", "modules_to_save", "base_layer", "other")
PARTS = (LORA_A, LORA_B, MAGNITUDE, COPY, BASE_LAYER, OTHER)
NOT_ADDED = (BASE_LAYER,)
COPIES = (COPY, BASE_LAYER)  # whole base tensors: the base's shape and roles

# A stored name's ending -> (part, kind). `lora_embedding_A/B` adapt an nn.Embedding (peft keeps
# them as bare parameters, no `.weight`); DoRA's magnitudes are one value per output of the base
# module (peft 0.21 writes `.lora_magnitude_vector`, earlier ones `.lora_magnitude_vector.weight`).
ENDINGS = (
    (".lora_A.weight", LORA_A, "weight"),
    (".lora_B.weight", LORA_B, "weight"),
    (".lora_B.bias", LORA_B, "bias"),  # lora_bias=True
    (".lora_embedding_A", LORA_A, "weight"),
    (".lora_embedding_B", LORA_B, "weight"),
    (".lora_magnitude_vector.weight", MAGNITUDE, "weight"),
    (".lora_magnitude_vector", MAGNITUDE, "weight"),
)


@dataclass(frozen=True)
class AdapterConfig:
    """What adapter_config.json says of the tensors and how they act."""

    peft_type: str | None
    r: int | None
    lora_alpha: float | None
    use_rslora: bool
    use_dora: bool
    fan_in_fan_out: bool  # the base stores (in, out) (GPT-2's Conv1D); A and B are (r, in), (out, r)
    target_modules: list[str] | str | None  # names, or one regular expression
    modules_to_save: list[str]
    base_model: str | None  # base_model_name_or_path
    # Modules trained at another rank or alpha than r and lora_alpha (module name -> value)
    rank_pattern: dict = field(default_factory=dict)
    alpha_pattern: dict = field(default_factory=dict)

    @property
    def scaling(self) -> float | None:
        """What B A is multiplied by: alpha / r, or alpha / sqrt(r) with rsLoRA."""
        if not self.r or self.lora_alpha is None:
            return None
        return self.lora_alpha / (sqrt(self.r) if self.use_rslora else self.r)

    def as_dict(self) -> dict:
        return {"peft_type": self.peft_type, "r": self.r, "lora_alpha": self.lora_alpha,
                "scaling": self.scaling, "use_rslora": self.use_rslora,
                "use_dora": self.use_dora, "fan_in_fan_out": self.fan_in_fan_out,
                "target_modules": self.target_modules, "modules_to_save": self.modules_to_save,
                "base_model_name_or_path": self.base_model, "rank_pattern": self.rank_pattern,
                "alpha_pattern": self.alpha_pattern}


@dataclass(frozen=True)
class AdapterTensor:
    info: TensorInfo
    part: str  # lora_A | lora_B | magnitude | modules_to_save | other
    kind: str  # weight | bias
    module: str  # the base tensor it adapts or copies (`model.layers.0.self_attn.q_proj.weight`)
    embedding: bool = False  # lora_embedding_A/B: A is (r, vocab), B (d, r)


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


@dataclass
class Adapter:
    source: str
    config: AdapterConfig
    checkpoint: Checkpoint
    tensors: list[AdapterTensor] = field(default_factory=list)


def adapter_folder(source: str) -> Path:
    """The folder of an adapter named by its folder or by its weights file."""
    path = Path(source)
    return path.parent if path.name in ADAPTER_WEIGHTS and path.is_file() else path


def is_adapter(source: str) -> bool:
    """A folder holding adapter_config.json (what peft's save_pretrained writes), or the
    adapter's weights file in one."""
    return (adapter_folder(source) / ADAPTER_CONFIG).is_file()


def open_adapter(source: str) -> Adapter:
    folder = adapter_folder(source)
    config = read_config(folder / ADAPTER_CONFIG)
    weights = next((folder / n for n in ADAPTER_WEIGHTS if (folder / n).is_file()), None)
    if weights is None:
        raise CheckpointError(folder / ADAPTER_WEIGHTS[0], "no such file: the adapter's weights"
                                                           f" (nor {ADAPTER_WEIGHTS[1]})")
    from inspector.formats.local import open_file

    checkpoint = open_file(weights, source)
    tensors = [classify(t, config.modules_to_save) for t in checkpoint.tensors]
    return Adapter(source, config, checkpoint, tensors)


def read_config(path: Path) -> AdapterConfig:
    from inspector.files.bounded_json import read_json

    raw = read_json(path, CheckpointError)
    if not isinstance(raw, dict):
        raise CheckpointError(path, "adapter_config.json does not hold a JSON object")

    def typed(key: str, kinds: tuple, default=None):
        value = raw.get(key, default)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)
                                  and bool not in kinds):
            raise CheckpointError(path, f"{key} is {value!r}, not a {kinds[0].__name__}")
        return value

    targets = typed("target_modules", (list, str))
    if isinstance(targets, list) and not all(isinstance(t, str) for t in targets):
        raise CheckpointError(path, "target_modules holds something other than names")
    saved = typed("modules_to_save", (list,)) or []
    if not all(isinstance(m, str) for m in saved):
        raise CheckpointError(path, "modules_to_save holds something other than names")
    return AdapterConfig(
        peft_type=typed("peft_type", (str,)), r=typed("r", (int,)),
        lora_alpha=typed("lora_alpha", (int, float)),
        use_rslora=bool(typed("use_rslora", (bool,), False)),
        use_dora=bool(typed("use_dora", (bool,), False)),
        fan_in_fan_out=bool(typed("fan_in_fan_out", (bool,), False)),
        target_modules=sorted(targets) if isinstance(targets, list) else targets,
        modules_to_save=list(saved), base_model=typed("base_model_name_or_path", (str,)),
        rank_pattern=typed("rank_pattern", (dict,)) or {},
        alpha_pattern=typed("alpha_pattern", (dict,)) or {})


def classify(info: TensorInfo, modules_to_save: list[str]) -> AdapterTensor:
    """A stored name -> its part and the base tensor it belongs to."""
    name = info.name.removeprefix(PEFT_PREFIX)
    for ending, part, kind in ENDINGS:
        if name.endswith(ending):
            module = f"{name[: -len(ending)]}.weight"  # (B's bias adds to the module's output)
            return AdapterTensor(info, part, kind, module, "lora_embedding" in ending)
    if ".base_layer." in name:
        return AdapterTensor(info, BASE_LAYER, name.rsplit(".", 1)[-1],
                             name.replace(".base_layer.", ".", 1))
    owner = name.rsplit(".", 1)[0]  # peft saves a modules_to_save copy under the base's name
    if any(owner == m or owner.endswith(f".{m}") for m in modules_to_save):
        return AdapterTensor(info, COPY, name.rsplit(".", 1)[-1], name)
    return AdapterTensor(info, OTHER, "weight", name)


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
        from inspector.families import family_of_layout
        from inspector.checkpoint.inspection import inspect_source

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
        from dataclasses import replace

        from inspector.checkpoint.tensor_rows import _rows  # the base's own reading of that tensor

        return [AdapterRow(t.info.name, t.part, r.role, r.layer, r.numel, r.canonical)
                for r in _rows(replace(t.info, name=t.module), layout, spec)]
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
    parts and no spec to size them) whole under its first part, as inspector.checkpoint.tensor_rows does."""
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


def names_joined(rows: list[dict]) -> list[dict]:
    """Rows for a table or CSV: a list of names (roles, parts) as one cell `query, key, value`
    (the renderer writes a list as a shape, `96x32`)."""
    return [{k: ", ".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) and v
             else ("-" if v == [] else v) for k, v in row.items()} for row in rows]
