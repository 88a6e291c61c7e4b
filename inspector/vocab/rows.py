"""The row: one tensor (or one part of a fused tensor) with its role, layer and size.

Analytic counts and decoupled checkpoints both produce rows, so every table, total and check
is computed one way, in `inspector.vocab.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from math import prod

from inspector.vocab.roles import HEAD_ROLES, Role

WEIGHT, BIAS, BUFFER, UNMAPPED = "weight", "bias", "buffer", "unmapped"
SHARED_BY_HEADS = (".attn.q_down.", ".attn.kv_down.")  # MLA's latent down-projections
# A quantized checkpoint's scales, zero points, group indices: stored, never parameters
# (inspector.checkpoint.quantization).
BOOKKEEPING = "bookkeeping"

# The components of a checkpoint that holds more than a language model (a family's data says
# which names are which: inspector.families.base.Composite, Family.extra_layers). Rows of a
# plain language model have none (None).
LANGUAGE_MODEL, VISION, PROJECTOR = "language_model", "vision", "projector"
AUDIO, MTP = "audio", "mtp"  # a speech encoder; a multi-token-prediction layer


@dataclass(frozen=True)
class Row:
    """One tensor, or one part of a fused tensor, with its role, layer and shape."""
    tensor: str  # the stored name (checkpoint) or the canonical name (spec)
    role: Role | None  # None for buffers and for tensors no layout recognises
    layer: int | None
    kind: str  # weight | bias | buffer | unmapped
    shape: tuple[int, ...]  # PyTorch (out, in) orientation for parameters
    canonical: str = ""  # the canonical name this row fills (see inspector.vocab.canonical)
    dtype: str = ""
    nbytes: int = 0
    tied_to: Role | None = None  # this row is another role's storage seen again: not in totals
    # Stored elements, where packing makes them fewer than the logical values (numel): eight
    # 4-bit values in one int32. None: as many as numel.
    stored: int | None = None
    expert: int | None = None  # the routed expert of a mixture of experts (k of E a token)
    # The part of a multimodal checkpoint (language_model, vision, projector, ...; see
    # inspector.families.base), None for a plain language model.
    component: str | None = None

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def in_language_model(self) -> bool:
        """Part of the language model (what a spec describes, what ties its embeddings)."""
        return self.component is None or self.component == LANGUAGE_MODEL

    @property
    def is_parameter(self) -> bool:
        return self.kind in (WEIGHT, BIAS, UNMAPPED)

    @property
    def cut_by_head(self) -> bool:
        """Split among the attention heads (`--by head`): the language model's query, key, value
        and output, but not the output bias (added after the heads are summed) nor multi-head
        latent attention's down-projections (one latent that every head reads)."""
        return (self.role in HEAD_ROLES and self.in_language_model
                and not (self.role == Role.OUTPUT and self.kind == BIAS)
                and not any(part in self.canonical for part in SHARED_BY_HEADS))

    @property
    def counted(self) -> bool:
        """Counted in the parameter total: a parameter stored here, not a tied repeat."""
        return self.is_parameter and self.tied_to is None


@dataclass(frozen=True)
class Repeated:
    """The rows of the routed experts of one layer, held once: `rows` are expert `first`'s (in
    the order a spec lists them), and experts first + 1 ... first + count - 1 have the same rows
    but for the expert number in their names. A spec's tables are sums, which need each row
    once with its multiplicity (DeepSeek-V3: 759 rows where there are 45,398), and only the
    table by tensor needs every row (`expand`)."""
    rows: tuple[Row, ...]
    first: int
    count: int

    def expand(self):
        """Every expert's rows, expert by expert (the order spec_rows lists them in)."""
        for e in range(self.first, self.first + self.count):
            yield from self.expert_rows(e)

    def expert_rows(self, e: int) -> list[Row]:
        """Expert e's rows: the first expert's, its number in their names made e."""
        marker, named = f".experts.{self.first}.", f".experts.{e}."
        return [Row(tensor=r.tensor.replace(marker, named, 1), role=r.role, layer=r.layer,
                    kind=r.kind, shape=r.shape, canonical=r.canonical.replace(marker, named, 1),
                    dtype=r.dtype, nbytes=r.nbytes, tied_to=r.tied_to, stored=r.stored,
                    expert=e, component=r.component)
                for r in self.rows]



class Grouped(list):
    """A list of Row and Repeated (inspector.spec.describe.spec_row_groups)."""


def weighted(rows):
    """(row, how many rows it stands for) of a list of rows: 1 each, except in a Grouped list,
    where a Repeated stands for each of its rows `count` times."""
    if not isinstance(rows, Grouped):
        return zip(rows, repeat(1))
    return _weighted(rows)


def _weighted(rows):
    for r in rows:
        if isinstance(r, Repeated):
            for each in r.rows:
                yield each, r.count
        else:
            yield r, 1


def each_row(rows):
    """Every row of a list, a Repeated's as its first expert's (not expanded): for what the
    experts' numbers do not change (a set of layers, a lookup of a named module)."""
    for r in rows:
        if isinstance(r, Repeated):
            yield from r.rows
        else:
            yield r


def expand(rows) -> list[Row]:
    """Rows, each Repeated expanded into every expert's rows (a plain list as it is)."""
    if not isinstance(rows, Grouped):
        return rows
    out: list[Row] = []
    for r in rows:
        if isinstance(r, Repeated):
            out.extend(r.expand())
        else:
            out.append(r)
    return out
