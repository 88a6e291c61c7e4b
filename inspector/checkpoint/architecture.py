"""A checkpoint's own architecture beside a spec's, or beside another checkpoint's: what differs
(inspector.spec.compare), the cause `check` and `diff` say before the tensors it changes."""

from __future__ import annotations

from inspector.checkpoint.inspection import (
    Inspection,
    Shape,
    _config_spec,
    described_config,
    infer_shape,
)
from inspector.checkpoint.tensor_rows import Decoupled
from inspector.spec.compare import (
    Difference,
    family_difference,
    size_differences,
    tie_difference,
)
from inspector.spec.schema import Spec
from inspector.vocab.roles import Role

# What the two sides are called in `check`'s lines and JSON, and in `diff`'s.
CHECK_SIDES, DIFF_SIDES = ("spec", "checkpoint"), ("A", "B")


def own_shape(decoupled: Decoupled) -> Shape:
    """The shape the checkpoint says of itself (config.json, GGUF metadata, else its tensors),
    with no --spec filling in what it does not say."""
    config, basis = described_config(decoupled.checkpoint)
    return infer_shape(decoupled, _config_spec(config, basis), basis=basis, config=config)


def _said_family(shape: Shape) -> str | None:
    """The family, where the files name it: tensor names alone may fit several families."""
    return None if shape.basis == "tensor shapes" else shape.family


def against_spec(spec: Spec, decoupled: Decoupled) -> list[Difference]:
    """What differs between the spec and the checkpoint's own architecture: sizes, family, tie
    (where the spec has an unembedding; `spec` as the family leaves the tie to the files)."""
    shape = own_shape(decoupled)
    tie = tie_difference(spec.tied_embeddings, decoupled.tied) if spec.has_unembedding else []
    return (size_differences(spec, shape) + family_difference(spec.family, _said_family(shape))
            + tie)


def _tied(inspection: Inspection) -> bool | None:
    has_unembedding = any(r.role == Role.UNEMBEDDING for r in inspection.rows)
    return inspection.decoupled.tied if has_unembedding else None


def between(a: Inspection, b: Inspection) -> list[Difference]:
    """What differs between two checkpoints' architectures."""
    return (size_differences(a.shape, b.shape)
            + family_difference(_said_family(a.shape), _said_family(b.shape))
            + tie_difference(_tied(a), _tied(b)))
