"""A source, opened and decoupled, with what it is: family and shape, from config.json when
there is one, from its metadata for a GGUF, else from the tensor shapes. The head count is given
only when something says it: a config, GGUF metadata, a --spec, or the rotary frequencies that
older Llama checkpoints stored per layer (d_head / 2 of them, so n_heads = query rows / d_head).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from inspector import families
from inspector.checkpoint.tensor_rows import Decoupled, decouple
from inspector.errors import SpecError
from inspector.formats import open_checkpoint
from inspector.formats.base import Checkpoint
from inspector.spec.compare import size_differences
from inspector.spec.schema import Spec
from inspector.vocab.rows import BUFFER, Row


@dataclass(frozen=True)
class Shape:
    family: str
    basis: str  # where the numbers come from: config.json, GGUF metadata, or tensor shapes
    n_layers: int | None = None
    n_decoder_layers: int | None = None  # an encoder-decoder's second stack
    d_model: int | None = None
    vocab_size: int | None = None
    d_ff: int | None = None
    n_ctx: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    d_head: int | None = None

    @property
    def heads(self) -> tuple[int, int] | None:
        """(query heads, key/value heads), or None when nothing says them: what `--by head`
        cuts by, and what groups a fused tensor whose parts alternate per key/value head."""
        return (self.n_heads, self.n_kv_heads or self.n_heads) if self.n_heads else None

    def sizes(self) -> dict[str, int]:
        """The sizes it knows (not None), under their names in a Spec (and a diagram's Model)."""
        return {key: getattr(self, key) for key in SIZES if getattr(self, key) is not None}

    def as_dict(self) -> dict:
        """The fields, n_decoder_layers only for an encoder-decoder (every other model's JSON
        keeps the keys it always had)."""
        out = dict(self.__dict__)
        if out["n_decoder_layers"] is None:
            del out["n_decoder_layers"]
        return out


# A Shape's sizes: each a Spec field of the same name.
SIZES = tuple(f.name for f in fields(Shape) if f.name not in ("family", "basis"))


@dataclass
class Inspection:
    decoupled: Decoupled
    shape: Shape
    config_spec: Spec | None  # config.json (or a GGUF's metadata) read as a spec, when it could be
    warnings: list[str] = field(default_factory=list)  # where a --spec disagrees with the files
    spec: Spec | None = None  # what is known of the model: config.json read as a spec, else --spec

    @property
    def rows(self):
        return self.decoupled.rows


def inspect_source(source: str, spec: Spec | None = None) -> Inspection:
    """Open and decouple a source. The shape is the checkpoint's own; `spec`, when given, only
    supplies the head counts the files do not say, and any disagreement becomes a warning."""
    checkpoint = open_checkpoint(source)
    config, basis = described_config(checkpoint)
    reference = _reference(config, f"{source} ({basis})", spec)
    if reference is not None:  # what transformers builds from config.json
        return _inspect_by_reference(checkpoint, reference, basis, config, spec, source)
    config_spec = _config_spec(config, f"{source} ({basis})")
    known = config_spec or spec
    tied_default = known.tied_embeddings if known is not None else True
    # Where the family leaves the tie to the files: an absent unembedding is tied, a stored one
    # is its own (never a copy that config.json ties).
    files_tie = known is not None and families.tie_from_files(known)
    decoupled = decouple(checkpoint, tied_default=tied_default or files_tie, spec=known,
                         config_ties=config_spec is not None and config_spec.tied_embeddings
                         and not files_tie)
    shape = infer_shape(decoupled, config_spec, basis=basis, config=config)
    warnings: list[str] = []
    if spec is not None:
        shape, warnings = with_spec_heads(shape, spec, source)
    return Inspection(decoupled, shape, config_spec, warnings, known)


def _reference(config: dict | None, origin: str, spec: Spec | None) -> Spec | None:
    """The transformers path's spec of a checkpoint (inspector.spec.reference): its own
    config.json's, else a --spec that is one; None when neither is (or transformers cannot)."""
    from inspector.spec.reference import reference_spec, uses_reference

    if uses_reference(config):
        try:
            return reference_spec(config, origin)
        except SpecError:
            pass  # transformers cannot build it: the tensors are still read by their names
    return spec if getattr(spec, "description", None) is not None else None


def _inspect_by_reference(checkpoint: Checkpoint, reference: Spec, basis: str,
                          config: dict | None, spec: Spec | None, source: str) -> Inspection:
    from inspector.checkpoint.reference_rows import decouple_by_reference

    decoupled = decouple_by_reference(checkpoint, reference.description)
    shape = infer_shape(decoupled, reference, basis=basis, config=config)
    warnings: list[str] = []
    if spec is not None and spec is not reference:
        shape, warnings = with_spec_heads(shape, spec, source)
    return Inspection(decoupled, shape, None, warnings, reference)


def with_spec_heads(shape: Shape, spec: Spec, source: str) -> tuple[Shape, list[str]]:
    """The checkpoint's shape with the spec's head counts where the files said none."""
    warnings = [f"{source}: --spec {spec.name} says {d.key} {d.first:,}, the checkpoint"
                f" has {d.second:,}" for d in size_differences(spec, shape)]
    if shape.n_heads is None:
        shape = replace(shape, n_heads=spec.n_heads, n_kv_heads=spec.n_kv_heads,
                        d_head=spec.d_head, basis=f"{shape.basis}; heads from --spec {spec.name}")
    return shape, warnings


def described_config(checkpoint: Checkpoint) -> tuple[dict | None, str]:
    """What the checkpoint says of itself, as a config.json dict, and where that came from."""
    if checkpoint.config is not None:
        return checkpoint.config, "config.json"
    if checkpoint.format == "gguf":
        from inspector.formats.gguf import hf_config

        names = [t.name for t in checkpoint.tensors]
        config = hf_config(checkpoint.metadata, names)
        if config is not None:  # llama.cpp's architecture name -> transformers' model_type
            family = families.gguf_checkpoint_family(checkpoint.metadata, names)
            if family is not None:
                config["model_type"] = family.config_model_type
            else:  # no module: read by the transformers path, under its names
                from inspector.formats.gguf import transformers_config

                config = transformers_config(config, checkpoint.metadata)
            return config, "GGUF metadata"
    return None, "tensor shapes"


def _config_spec(config: dict | None, origin: str) -> Spec | None:
    if config is None:
        return None
    from inspector.spec.config_json import spec_from_config

    try:
        return spec_from_config(config, origin=origin)
    except SpecError:
        return None  # a config we cannot read as a spec still leaves the tensors to inspect


def family_name(decoupled: Decoupled, config: dict | None) -> str:
    """The family config.json names when the registry knows it; `unknown (model_type X)` when
    it names one the registry does not; else the family whose layout the names matched."""
    model_type = (config or {}).get("model_type")
    if decoupled.layout.name.startswith("transformers ") and not decoupled.layout.rules:
        return f"{model_type} ({decoupled.layout.name})"  # the transformers path's
    family = families.by_model_type(model_type)
    if family is not None:
        return family.name
    composite = families.composite_of(config)
    if composite is not None:
        return f"{composite.model_type} (language model: {composite.text_family})"
    if isinstance(model_type, str):
        return f"unknown (model_type {model_type})"
    if decoupled.inferred:
        return "unknown"
    return families.family_of_layout(decoupled.layout) or decoupled.layout.name


def infer_shape(decoupled: Decoupled, known: Spec | None, basis: str = "tensor shapes",
                config: dict | None = None) -> Shape:
    if known is not None:
        # (a spec's n_decoder_layers is 0 for one stack; its other sizes are never 0)
        return Shape(family=family_name(decoupled, config), basis=basis,
                     **{key: getattr(known, key) or None for key in SIZES})
    by_canonical = {r.canonical: r for r in decoupled.rows if r.canonical}
    layers = [r.layer for r in decoupled.rows
              if r.layer is not None and r.role is not None and r.in_language_model]
    # An encoder-decoder's decoder blocks (those with cross-attention) come after the encoder's.
    decoder = len({r.layer for r in decoupled.rows if ".cross_attn." in r.canonical})
    embed, pos = by_canonical.get("embed.weight"), by_canonical.get("pos.weight")
    # An image model's embedding is a patch convolution [d, channels, p, p], its position table
    # [1, n_ctx, d] (ViT): no vocabulary.
    patches = embed is not None and len(embed.shape) == 4
    up = by_canonical.get("layers.0.mlp.up.weight")
    query, key = by_canonical.get("layers.0.attn.query.weight"), by_canonical.get(
        "layers.0.attn.key.weight")
    d_head = _rotary_d_head(decoupled)
    n_heads = _heads(query, d_head)
    n_kv_heads = _heads(key, d_head) if n_heads else None
    return Shape(
        family=family_name(decoupled, config),
        basis="tensor shapes",
        n_layers=max(layers) + 1 - decoder if layers else 0,
        n_decoder_layers=decoder or None,
        d_model=_dim(embed, 0 if patches else 1),
        vocab_size=None if patches else _dim(embed, 0),
        d_ff=_dim(up, 0),
        n_ctx=_dim(pos, 1 if patches else 0),
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        d_head=d_head if n_heads else None,
    )


def _rotary_d_head(decoupled: Decoupled) -> int | None:
    """d_head from a stored rotary `inv_freq` buffer: one frequency per pair of head dims.

    Only where the layout says the rotary covers the whole head (Llama's)."""
    if not decoupled.layout.rotary_inv_freq_is_full_head:
        return None
    sizes = {r.shape[0] for r in decoupled.rows
             if r.kind == BUFFER and r.tensor.endswith("rotary_emb.inv_freq") and len(r.shape) == 1}
    return 2 * sizes.pop() if len(sizes) == 1 else None


def _heads(row: Row | None, d_head: int | None) -> int | None:
    rows = _dim(row, 0)
    if rows is None or not d_head or rows % d_head:
        return None
    return rows // d_head


def _dim(row: Row | None, axis: int) -> int | None:
    """A size read off a tensor, or None when there is no such tensor or it has too few dims
    (a malformed file's 1-D embedding is inspected as it is, not guessed at)."""
    return row.shape[axis] if row is not None and len(row.shape) > axis else None
