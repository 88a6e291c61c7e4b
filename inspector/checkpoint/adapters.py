"""PEFT adapters: a folder with adapter_config.json and adapter_model.safetensors, as peft's
`save_pretrained` writes them. This module reads one: its config, and each stored tensor as the
part (lora_A, lora_B, ...) of the base module it adapts. adapter_tables puts the tensors under the
base's roles and layers; adapter_fit says whether the adapter fits a base model.

peft names a tensor after the base module it adapts: `base_model.model.` + the base model's own
module name + the adapter's part (`model.layers.0.self_attn.q_proj` + `.lora_A.weight`). Taking
off both ends gives the base tensor (`model.layers.0.self_attn.q_proj.weight`), which the base
family's layout gives a role, a layer and canonical names, as it does in a checkpoint.

adapter_config.json is read here, not by peft's `LoraConfig.from_pretrained`: `import peft`
imports torch (peft/__init__ imports its tuners, which import torch and transformers: about a
second, `python -X importtime -c "import peft.config"`), and reading an adapter is header-only.
Only the keys peft 0.21 writes that say what the tensors are, and how they act, are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import sqrt
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.formats.base import Checkpoint, TensorInfo

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
