"""Every known layout, and the choice of one for a checkpoint."""

from __future__ import annotations

from inspector.canonical import MODULES
from inspector.layouts.base import Layout, Rule
from inspector.layouts.bert import BERT
from inspector.layouts.gpt2 import GPT2
from inspector.layouts.llama import GGUF_LLAMA, LLAMA

# The model `build` makes, saved with torch: canonical names as they are.
CANONICAL = Layout(
    name="canonical",
    rules=tuple(
        Rule(f"{module}.{kind}", (f"{module}.{kind}",))
        for module in MODULES
        for kind in ("weight", "bias")
    ),
)

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (GPT2, LLAMA, GGUF_LLAMA, BERT, CANONICAL)}

# config.json model_type -> layout, when the config says it.
MODEL_TYPES = {"gpt2": "gpt2", "llama": "llama", "mistral": "llama", "bert": "bert"}


def choose_layout(names: list[str], config: dict | None = None) -> Layout:
    """The layout a config names, else the one that recognises most tensor names."""
    # Every layer repeats the same names, so a spread-out sample of a few hundred decides as well
    # as all of them (a 1T checkpoint has tens of thousands) at a fraction of the matching.
    sample = names[:: max(1, len(names) // LAYOUT_SAMPLE)]
    model_type = (config or {}).get("model_type")
    if isinstance(model_type, str) and model_type in MODEL_TYPES:  # JSON may hold any value
        named = LAYOUTS[MODEL_TYPES[model_type]]
        if not sample or any(named.match(n) is not None for n in sample):
            return named  # else the config describes other weights: the names decide
    return max(LAYOUTS.values(), key=lambda layout: sum(layout.match(n) is not None for n in sample))


LAYOUT_SAMPLE = 256
