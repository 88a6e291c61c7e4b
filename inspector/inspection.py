"""A source, opened and decoupled, with what it is: family and shape, from config.json when
there is one, else from the tensor shapes (heads only when something says how many)."""

from __future__ import annotations

from dataclasses import dataclass

from inspector.decouple import Decoupled, decouple
from inspector.errors import SpecError
from inspector.formats import open_checkpoint
from inspector.spec import Spec


@dataclass(frozen=True)
class Shape:
    family: str
    basis: str  # where the numbers come from: config.json, GGUF metadata, or tensor shapes
    n_layers: int | None = None
    d_model: int | None = None
    vocab_size: int | None = None
    d_ff: int | None = None
    n_ctx: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Inspection:
    decoupled: Decoupled
    shape: Shape
    config_spec: Spec | None  # config.json read as a spec, when it could be

    @property
    def rows(self):
        return self.decoupled.rows


def inspect_source(source: str, spec: Spec | None = None) -> Inspection:
    """Open and decouple a source. `spec`, when given, supplies what the files do not (heads)."""
    checkpoint = open_checkpoint(source)
    config_spec = _config_spec(checkpoint.config, source)
    known = spec or config_spec
    tied_default = known.tied_embeddings if known is not None else True
    decoupled = decouple(checkpoint, tied_default=tied_default)
    return Inspection(decoupled, infer_shape(decoupled, known, from_spec=spec is not None),
                      config_spec)


def _config_spec(config: dict | None, source: str) -> Spec | None:
    if config is None:
        return None
    from inspector.hf_config import spec_from_config

    try:
        return spec_from_config(config, origin=f"{source}/config.json")
    except SpecError:
        return None  # a config we cannot read as a spec still leaves the tensors to inspect


def infer_shape(decoupled: Decoupled, known: Spec | None, from_spec: bool = False) -> Shape:
    if known is not None:
        return Shape(family=known.family, basis="--spec" if from_spec else "config.json",
                     n_layers=known.n_layers, d_model=known.d_model, vocab_size=known.vocab_size,
                     d_ff=known.d_ff, n_ctx=known.n_ctx, n_heads=known.n_heads,
                     n_kv_heads=known.n_kv_heads)
    by_canonical = {r.canonical: r for r in decoupled.rows if r.canonical}
    layers = [r.layer for r in decoupled.rows if r.layer is not None and r.role is not None]
    embed, pos = by_canonical.get("embed.weight"), by_canonical.get("pos.weight")
    up = by_canonical.get("layers.0.mlp.up.weight")
    return Shape(
        family=decoupled.layout.name,
        basis="tensor shapes",
        n_layers=max(layers) + 1 if layers else 0,
        d_model=embed.shape[1] if embed else None,
        vocab_size=embed.shape[0] if embed else None,
        d_ff=up.shape[0] if up else None,
        n_ctx=pos.shape[0] if pos else None,
    )

