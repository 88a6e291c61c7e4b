"""One module per family (or group of families), each defining `CASES`: a tuple of FamilyCase.

tests/test_families.py runs every case through the same checks, so adding a family's tests is
adding its case module here. The expected roles are written from the architecture (transformers'
modeling code and the paper), never from inspector's output.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FamilyCase:
    model_type: str  # transformers' model_type
    config: dict  # a small config (AutoConfig.for_model(model_type, **config)), seeded below
    # Stored name (`{i}` for the layer) -> the roles of its parts in order: ("query", "key",
    # "value") for a fused qkv. Every stored tensor must be listed (transformers' names today).
    roles: dict[str, tuple[str, ...]]
    buffers: tuple[str, ...] = ()  # stored names (`{i}` for the layer) that are buffers
    tied: bool = False  # the unembedding is the embedding's storage
    auto_class: str = "AutoModelForCausalLM"  # the transformers class to build (AutoModel: encoders)
    output: str = "logits"  # what forward equivalence compares: logits | last_hidden_state
    # A config change that must make `check --spec` fail: key -> new value.
    changed: dict = field(default_factory=lambda: {"intermediate_size": 40})
    forward: bool = True  # inspector's model reproduces transformers' outputs
    build: bool = True  # `inspector build config.json --out` writes what transformers loads
    tolerance: float = 1e-4
    # Token ids the forward test must meet (placed at the start of the second sequence and in
    # the middle of the first): a padding id that positions skip, say.
    special_ids: tuple[int, ...] = ()
    notes: str = ""
    id: str = ""  # the test id, where one model_type has several cases (default: model_type)

    @property
    def name(self) -> str:
        return self.id or self.model_type


def all_cases() -> list[FamilyCase]:
    cases = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.extend(getattr(module, "CASES", ()))
    return cases
