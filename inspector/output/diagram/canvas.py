"""The SVG drawn so far (Canvas), and boxes laid out in rows across a width."""

from __future__ import annotations

from inspector.output.diagram.model import Box, Drawing, Model
from inspector.output.diagram.text import box_lines
from inspector.output.markup import xml_text

BOX_H, LINE = 78, 14


def text_lines(x: float, y: float, lines: list[str]) -> str:
    """Lines of text from (x, y) down, the first one a title."""
    return "".join(f'<text x="{x:.0f}" y="{y + LINE * i:.0f}"{TITLE if i == 0 else ""}>'
                   f"{xml_text(line)}</text>" for i, line in enumerate(lines))


TITLE = ' class="title"'


def box_height(lines: list[str]) -> int:
    return max(BOX_H, 12 + LINE * len(lines))


class Canvas:
    """SVG elements in order, and the lowest point drawn."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.bottom = 0
        self.drawn: set[str] = set()  # the boxes drawn so far, by module key

    def add(self, svg: str, bottom: float) -> None:
        self.parts.append(svg)
        self.bottom = max(self.bottom, int(bottom))

    def text(self, x: float, y: float, text: str, cls: str = "note", anchor: str = "start"):
        self.add(f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}">'
                 f"{xml_text(text)}</text>", y + 4)

    def arrow(self, x1: float, y1: float, x2: float, y2: float, cls: str = "arrow") -> None:
        self.add(f'<path class="{cls}" d="M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"/>', y2)

    def box(self, x: float, y: float, w: float, box: Box, total_params: int, model: Model,
            wrong: dict[str, list[str]], h: float = BOX_H) -> float:
        """A box with weights, its numbers as text (and as data attributes, for tests and
        scripts), at least h high; returns its bottom."""
        lines = box_lines(box, total_params, model, wrong)
        self.drawn.add(box.key)
        h = max(h, box_height(lines))
        classes = " ".join(["box", box.role, *(["tied"] if box.tied_to else []),
                            *(["mismatch"] if box.role in wrong else [])])
        label = "; ".join(lines)
        self.add(f'<g class="{classes}" role="img" aria-label="{xml_text(label)}"'
                 f' data-role="{xml_text(box.role)}" data-module="{xml_text(box.key)}"'
                 f' data-params="{box.params}" data-counted="{box.counted}"'
                 f' data-tied="{xml_text(box.tied_to or "")}">'
                 f'<title>{xml_text(label)}</title>'
                 f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h}" rx="6"/>'
                 f"{text_lines(x + 8, y + 18, lines)}</g>", y + h)
        return y + h

    def op(self, x: float, y: float, w: float, text: str, h: int = 30) -> None:
        """A step with no weights (softmax, top-k, attention's arithmetic)."""
        self.add(f'<g class="op"><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h}"'
                 f' rx="14"/><text x="{x + w / 2:.0f}" y="{y + h / 2 + 4:.0f}"'
                 f' text-anchor="middle">{xml_text(text)}</text></g>', y + h)

    def frame(self, x: float, y: float, w: float, h: float, label: str,
              dashed: bool = False) -> None:
        """A labelled outline around boxes; dashed: a part only some blocks have."""
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        self.add(f'<g class="frame"><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}"'
                 f' height="{h:.0f}" rx="8"{dash}/><text x="{x + 10:.0f}" y="{y + 17:.0f}">'
                 f"{xml_text(label)}</text></g>", y + h)

    def residual_add(self, x: float, y: float, text: str) -> None:
        self.add(f'<g class="add" role="img" aria-label="residual add"><circle cx="{x:.0f}"'
                 f' cy="{y:.0f}" r="10"/><text x="{x:.0f}" y="{y + 5:.0f}"'
                 f' text-anchor="middle">+</text></g>', y + 10)
        self.text(x + 18, y + 4, text)


def row_of_boxes(c: Canvas, d: Drawing, keys: list[str], x: float, y: float, w: float) -> float:
    """Boxes side by side across width w; returns the y below them."""
    keys = [k for k in keys if k in d.boxes]
    if not keys:
        return y
    gap = 10
    each = (w - gap * (len(keys) - 1)) / len(keys)
    return max(c.box(x + i * (each + gap), y, each, d.boxes[key], d.total, d.model, d.wrong)
               for i, key in enumerate(keys))


def grid_row(c: Canvas, d: Drawing, keys: list[str | None], x: float, y: float,
             w: float) -> tuple[float, list[float]]:
    """Boxes of one height in equal slots across width w, a slot left empty for None or a
    module not drawn; returns the y below them and each slot's centre."""
    gap = 10
    each = (w - gap * (len(keys) - 1)) / len(keys)
    drawn = [key for key in keys if key in d.boxes]
    h = max((box_height(box_lines(d.boxes[k], d.total, d.model, d.wrong)) for k in drawn),
            default=0)
    for i, key in enumerate(keys):
        if key in drawn:
            c.box(x + i * (each + gap), y, each, d.boxes[key], d.total, d.model, d.wrong, h)
    return y + h, [x + i * (each + gap) + each / 2 for i in range(len(keys))]
