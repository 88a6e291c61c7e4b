"""The architecture, drawn with exact counts: a self-contained SVG (and an HTML page around it).

Drawn from rows, the same rows every table sums (inspector.vocab.tables), so each box's count is a sum
the `count` and `inspect` tables also give. Each module of a block is one box whatever the layer
(`layers.{i}.attn.query`: its per-layer shape and count, x layers, its total and share); routed
experts are one box per projection (`experts.{e}`); multi-head latent attention is drawn as its
path, down to the latents and up to the heads (block.draw_latent); an encoder-decoder is two
stacks and one block whose decoder-only cross-attention is framed apart; a checkpoint's other
components (a vision tower, a multi-token-prediction layer) are one box each, apart. Plain string
building: no torch, no numpy, no network (the page carries its own CSS and a
Content-Security-Policy that forbids fetching).

model: what is drawn (boxes, the Model); text: the words in them; canvas, block, svg: the
picture; sources: from a spec or a checkpoint, to a file.
"""

from inspector.output.diagram.model import Drawing, drawing, model_of_spec
from inspector.output.diagram.sources import (
    checkpoint_summary,
    figure,
    of_inspection,
    save,
    spec_summary,
    write,
)
from inspector.output.diagram.svg import svg

__all__ = ["Drawing", "checkpoint_summary", "drawing", "figure", "model_of_spec",
           "of_inspection", "save", "spec_summary", "svg", "write"]
