"""How the notebook API's objects show themselves: a table as a pandas DataFrame, the summary
lines (and warnings) as text for `repr` and as HTML for Jupyter's `_repr_html_`, a drawing as
its SVG. The lines themselves are the commands' (inspector.output.answers); pandas is imported
only when a DataFrame is asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.output import diagram as drawing_of
from inspector.output.markup import xml_text
from inspector.vocab.rows import Row

if TYPE_CHECKING:  # the annotation only: importing pandas costs a second
    import pandas


def frame(rows: list[dict], columns: list[str] | None = None) -> pandas.DataFrame:
    """A table as a DataFrame (of `columns` where they are there); layer and head numbers stay
    integers where some are None (outside the blocks), as pandas' nullable Int64 rather than
    floats with NaN."""
    import pandas

    found = pandas.DataFrame(rows)
    for column in ("layer", "head", "expert"):
        if column in found and all(isinstance(r.get(column), int | None) for r in rows):
            found[column] = found[column].astype("Int64")
    return found if columns is None else found[[c for c in columns if c in found]]


def _text(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def summary_text(title: str, pairs: list[tuple[str, object]], warnings: list[str] = ()) -> str:
    """The title, then one indented `key: value` line each, then each warning."""
    return "\n".join([title, *(f"  {k}: {_text(v)}" for k, v in pairs),
                      *(f"  warning: {w}" for w in warnings)])


def summary_html(title: str, pairs: list[tuple[str, object]], warnings: list[str] = ()) -> str:
    """The same as a heading, a definition list and the warnings, escaped."""
    items = "".join(f"<dt><b>{xml_text(str(k))}</b></dt><dd>{xml_text(_text(v))}</dd>"
                    for k, v in pairs)
    said = "".join(f"<p><b>warning</b>: {xml_text(w)}</p>" for w in warnings)
    return f"<h3>{xml_text(title)}</h3><dl>{items}</dl>{said}"


def notes_html(lines: list[str]) -> str:
    """Notes printed below a table (a check's problems) as an HTML list; none, nothing."""
    items = "".join(f"<li>{xml_text(line.strip())}</li>" for line in lines)
    return f"<ul>{items}</ul>" if items else ""


@dataclass(repr=False)
class Diagram:
    """The architecture drawn with exact counts (`inspector diagram`): shown as SVG in Jupyter,
    `.svg` the picture, `.save(path)` a self-contained .html page or a .svg file."""
    drawn: drawing_of.Drawing
    rows: list[Row]
    summary: list[tuple[str, str]]

    @property
    def title(self) -> str:
        return f"{self.drawn.model.name}: {self.drawn.total:,} parameters"

    @property
    def svg(self) -> str:
        return drawing_of.svg(self.drawn, self.title)

    def save(self, path: str) -> str:
        """Write the page (.html) or the picture (.svg), whole or not at all; returns the path."""
        return drawing_of.save(self.drawn, self.rows, self.summary, path)

    def _repr_html_(self) -> str:
        return drawing_of.figure(self.drawn, self.rows, self.title)

    def __repr__(self) -> str:
        return f"Diagram({self.title}; .save('model.html') writes the page)"
