"""What differs between two architectures, said before the tensors it changes: the layer count,
the widths, the heads, the family and the tie. One comparison serves every answer that sets a
checkpoint beside something else: `check` (`n_layers: spec 32, checkpoint 3`), `diff`
(`n_layers: A 2, B 3`), and the warning of `inspect`/`diagram --spec` (`--spec llama2-7b says
n_layers 32, the checkpoint has 3`).

Each side is anything with the sizes as attributes (a Spec, an inspected Shape); a size one side
does not say (None) is not compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector import families

# Compared in this order, the order they are said in: layers, widths, heads.
SIZES_COMPARED = ("n_layers", "d_model", "vocab_size", "d_ff", "n_heads", "n_kv_heads", "d_head")


@dataclass(frozen=True)
class Difference:
    key: str  # a Spec key: n_layers, ..., family, tied_embeddings
    first: object  # the spec's (check), A's (diff)
    second: object  # the checkpoint's (check), B's (diff)

    def line(self, first: str, second: str) -> str:
        """`n_layers: spec 32, checkpoint 3` (first, second: what each side is called)."""
        said = f"{self.key}: {first} {_said(self.first)}, {second} {_said(self.second)}"
        if self.key == "tied_embeddings":  # what the second side's files hold, in words
            said += (" (its unembedding is the embedding's storage)" if self.second
                     else " (its unembedding is stored apart)")
        return said

    def as_dict(self, first: str, second: str) -> dict:
        return {"key": self.key, first: self.first, second: self.second}


def _said(value: object) -> str:
    if isinstance(value, bool):  # as a spec spells it
        return "true" if value else "false"
    return f"{value:,}" if isinstance(value, int) else str(value)


def size_differences(first, second) -> list[Difference]:
    """The sizes both sides say and that differ."""
    out = []
    for key in SIZES_COMPARED:
        a, b = getattr(first, key, None), getattr(second, key, None)
        if a is not None and b is not None and a != b:
            out.append(Difference(key, a, b))
    return out


def _written(family: str) -> str:
    """The model_type a family writes in config.json: GPT-3's specs are GPT-2 checkpoints."""
    found = families.get(family)
    return (found.model_type or found.name) if found is not None else family


def family_difference(first: str | None, second: str | None) -> list[Difference]:
    """The families, when both are known ones (a registry name) and store different models."""
    if first is None or second is None or families.get(first) is None \
            or families.get(second) is None or _written(first) == _written(second):
        return []
    return [Difference("family", first, second)]


def tie_difference(first: bool | None, second: bool | None) -> list[Difference]:
    """Whether the unembedding is the embedding's storage, where both sides have one."""
    if first is None or second is None or first == second:
        return []
    return [Difference("tied_embeddings", first, second)]
