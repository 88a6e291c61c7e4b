"""inspector in a notebook: `inspector.count(spec)` and `inspector.inspect(source)`.

Each returns an object holding the same rows and tables the commands print, that shows itself
in Jupyter (`_repr_html_`: a summary, the role table and the diagram) and as text in a terminal
(`repr`: the summary and the role table). Header-only like the commands: no torch, no tensor
bytes. Tables are lists of dicts (`pandas.DataFrame(obj.roles)` makes a frame of one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from inspector import diagram
from inspector.analytic import spec_rows
from inspector.inspection import Inspection, Shape, inspect_source
from inspector.rendering import table
from inspector.rows import Row
from inspector.spec import Spec, load_spec
from inspector.tables import active_total, buffers, layer_table, role_table, tensor_table, total

__all__ = ["Counted", "Inspected", "count", "inspect", "load_spec"]


@dataclass
class _Shown:
    """What a count and an inspection share: rows, their tables, and how they show."""
    name: str
    rows: list[Row] = field(repr=False)
    spec: Spec | None = field(repr=False)

    @property
    def parameters(self) -> int:
        return total(self.rows)

    @property
    def active_parameters(self) -> int | None:
        """Parameters a token passes through (k of E routed experts); None if k is unknown."""
        return active_total(self.rows, self.spec.experts_per_token if self.spec else None)

    @property
    def buffers(self) -> list[dict]:
        return buffers(self.rows)

    @property
    def tied(self) -> bool:
        return any(r.tied_to is not None for r in self.rows)

    @property
    def roles(self) -> list[dict]:
        return role_table(self.rows)

    @property
    def layers(self) -> list[dict]:
        return layer_table(self.rows)

    @property
    def tensors(self) -> list[dict]:
        return tensor_table(self.rows)

    def _drawing(self) -> diagram.Drawing:
        return diagram.drawing(self.rows, diagram.model_of_spec(self.spec))

    def diagram(self) -> str:
        """The architecture as an SVG string (`inspector diagram`'s picture)."""
        d = self._drawing()
        return diagram.svg(d, f"{d.model.name}: {d.total:,} parameters")

    def _summary(self) -> list[tuple[str, str]]:
        return diagram.totals(self._drawing(), self.spec, self.rows)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} {self.name}"]
        lines += [f"  {key}: {value}" for key, value in self._summary()]
        return "\n".join(lines) + "\n\n" + table(self.roles)

    def _repr_html_(self) -> str:
        d = self._drawing()
        items = "".join(f"<dt><b>{escape(k)}</b></dt><dd>{escape(v)}</dd>"
                        for k, v in self._summary())
        return (f"<div><h3>{escape(self.name)}</h3><dl>{items}</dl>"
                f"{diagram.figure(d, self.rows, f'{d.model.name}: {d.total:,} parameters')}"
                "</div>")


@dataclass(repr=False)
class Counted(_Shown):
    """A spec's exact counts, by arithmetic (`inspector count`)."""


@dataclass(repr=False)
class Inspected(_Shown):
    """A checkpoint's contents (`inspector inspect`): what its headers hold."""
    inspection: Inspection | None = field(default=None, repr=False)

    @property
    def shape(self) -> Shape:
        return self.inspection.shape

    def check(self, spec: str | Spec) -> dict:
        """The verdict of `inspector check` (its JSON): `ok`, per-role counts, problems."""
        from inspector.check import check

        return check(_spec(spec), self.inspection.decoupled)

    def _drawing(self) -> diagram.Drawing:
        return diagram.of_inspection(self.name, self.inspection, None)


def _spec(spec: str | Spec) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec)


def count(spec: str | Spec) -> Counted:
    """A spec's counts: a shipped name (`"gpt3-175b"`), a spec YAML, a config.json, or a Spec."""
    spec = _spec(spec)
    return Counted(spec.name, spec_rows(spec), spec)


def inspect(source: str, spec: str | Spec | None = None) -> Inspected:
    """A checkpoint (a file, a folder or a hub id), header-only; `spec` supplies what the files
    do not say (the head count)."""
    inspection = inspect_source(source, _spec(spec) if spec is not None else None)
    return Inspected(source, inspection.rows, inspection.spec, inspection)
