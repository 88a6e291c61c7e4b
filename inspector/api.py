"""inspector in a notebook: the commands as Python calls returning objects.

    import inspector
    counted = inspector.count("gpt3-175b")          # a spec's exact counts (`inspector count`)
    found = inspector.inspect("path/or/owner/name")  # a checkpoint's headers (`inspector inspect`)
    found.roles                                      # a pandas DataFrame, as `--by role` prints
    found.check("llama2-7b")                         # `inspector check`'s verdict
    found.stats(by="layer")                          # `inspector stats`, streamed
    found.diagram().save("model.html")               # `inspector diagram`
    model = inspector.build("llama2-70b")            # a torch model on the meta device

Every object shows itself in Jupyter (`_repr_html_`) and as text in a terminal (`repr`, the
command's own table). The numbers come from the functions the commands call
(inspector.output.answers, inspector.checkpoint.check, inspector.values.stats,
inspector.output.diagram): one implementation; inspector.output.notebook shows them.
Counting and inspecting are header-only and import neither torch nor pandas until a table is
asked for as a DataFrame; `stats` imports numba, `build` torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from inspector.checkpoint.inspection import Inspection, Shape, inspect_source
from inspector.output import diagram as drawing_of
from inspector.output.answers import (
    check_notes,
    check_summary,
    count_document,
    count_summary,
    inspect_document,
    inspect_summary,
    unmapped_note,
)
from inspector.output.notebook import Diagram, notes_html, summary_html, summary_text
from inspector.output.notebook import frame as _frame
from inspector.output.rendering import table
from inspector.spec.describe import spec_rows
from inspector.spec.loading import load_spec
from inspector.spec.schema import Spec
from inspector.vocab.rows import Row
from inspector.vocab.tables import head_table, layer_table, tensor_table

if TYPE_CHECKING:  # the annotations only: importing them costs a second
    import pandas
    import torch

    from inspector.checkpoint.adapter_tables import AdapterRow
    from inspector.checkpoint.adapters import Adapter

__all__ = ["Counted", "Diagram", "Inspected", "InspectedAdapter", "Statistics", "Verdict", "build",
           "count", "inspect", "load_spec"]


@dataclass
class _Shown:
    """What a count and an inspection share: rows, their tables, and how they show."""
    name: str
    rows: list[Row] = field(repr=False)
    spec: Spec | None = field(repr=False)

    @property
    def parameters(self) -> int:
        """Every parameter once (a tied unembedding is the embedding's storage)."""
        raise NotImplementedError

    @property
    def active_parameters(self) -> int | None:
        """Parameters a token passes through (k of E routed experts; all of a dense model's);
        None when a mixture of experts does not say k."""
        return self.document["active_parameters"]

    @property
    def buffers(self) -> list[dict]:
        """Stored tensors that are not parameters (masks, rotary tables): name and values."""
        return self.document.get("buffers", [])

    @property
    def tied(self) -> bool:
        return any(r.tied_to is not None for r in self.rows)

    @property
    def roles(self) -> pandas.DataFrame:
        """Parameters by role (`--by role`)."""
        return _frame(self.document["roles"])

    @property
    def layers(self) -> pandas.DataFrame:
        """Parameters by layer (`--by layer`); layer None is outside the blocks."""
        return _frame(layer_table(self.rows))

    @property
    def heads(self) -> pandas.DataFrame:
        """Query, key, value and output parameters per head (`--by head`)."""
        n_heads, n_kv_heads = self._heads()
        return _frame(head_table(self.rows, n_heads, n_kv_heads, self.name))

    @property
    def tensors(self) -> pandas.DataFrame:
        """One row per stored tensor (`--by tensor`)."""
        return _frame(tensor_table(self.rows))

    def diagram(self) -> Diagram:
        """The architecture with exact counts (`inspector diagram`)."""
        return Diagram(self._drawn, self.rows, self._diagram_summary())

    @cached_property
    def _drawn(self) -> drawing_of.Drawing:
        return self._drawing()

    # what each kind supplies
    document: dict = field(init=False, repr=False)

    def _heads(self) -> tuple[int | None, int | None]:
        raise NotImplementedError

    def _drawing(self) -> drawing_of.Drawing:
        raise NotImplementedError

    def _diagram_summary(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def _summary(self) -> list[tuple[str, object]]:
        raise NotImplementedError

    @property
    def warnings(self) -> list[str]:
        """What the commands print on stderr about this spec or checkpoint."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (summary_text(f"{type(self).__name__} {self.name}", self._summary(),
                             self.warnings) + "\n\n" + table(self.document["roles"]))

    def _repr_html_(self) -> str:
        d = self._drawn
        return (f"<div>{summary_html(self.name, self._summary(), self.warnings)}"
                f"{drawing_of.figure(d, self.rows, f'{d.model.name}: {d.total:,} parameters')}"
                "</div>")


@dataclass(repr=False)
class Counted(_Shown):
    """A spec's exact counts, by arithmetic (`inspector count`)."""
    spec: Spec = field(repr=False)

    def __post_init__(self) -> None:
        self.document = count_document(self.spec, self.rows)

    @property
    def parameters(self) -> int:
        return self.document["total"]

    @property
    def warnings(self) -> list[str]:
        """What `count` warns of the spec (a value it reads as something else, ...)."""
        return list(self.spec.warnings())

    def _heads(self) -> tuple[int | None, int | None]:
        return self.spec.n_heads, self.spec.n_kv_heads

    def _drawing(self) -> drawing_of.Drawing:
        return drawing_of.drawing(self.rows, drawing_of.model_of_spec(self.spec))

    def _diagram_summary(self) -> list[tuple[str, str]]:
        return drawing_of.spec_summary(self._drawn, self.spec, self.rows)

    def _summary(self) -> list[tuple[str, object]]:
        return count_summary(self.document, self.spec)


@dataclass(repr=False)
class Inspected(_Shown):
    """A checkpoint's contents (`inspector inspect`): what its headers hold."""
    inspection: Inspection = field(repr=False)

    def __post_init__(self) -> None:
        self.document = inspect_document(self.name, self.inspection)

    @property
    def parameters(self) -> int:
        return self.document["parameters"]

    @property
    def shape(self) -> Shape:
        """What the checkpoint is: family, layers, widths, heads, and where that was read."""
        return self.inspection.shape

    @property
    def warnings(self) -> list[str]:
        """Where a given spec disagrees with the files, and the tensors no rule recognises (as
        `inspect` warns on stderr)."""
        unmapped = unmapped_note(self.document["layout"], self.rows)
        return [*self.inspection.warnings, *([unmapped] if unmapped else [])]

    def check(self, spec: str | Spec) -> Verdict:
        """`inspector check`: does this checkpoint match `spec`, role by role?"""
        from inspector.checkpoint.check import check

        spec = _spec(spec)
        return Verdict(spec, self.name, check(spec, self.inspection.decoupled))

    def stats(self, by: str = "role", threads: int | None = None, progress: bool = False,
              download: bool = False) -> Statistics:
        """`inspector stats`: mean, std, min, max, absmax, L2, zeros, NaN and Inf of the values,
        streamed block by block, by role, layer, head or tensor. A hub id's weights are read
        from the Hugging Face cache; when they are not all there, `download=True` fetches them
        (else an error says how many bytes that is), as `stats --download`."""
        import sys

        from inspector.formats.hub import fetch_values
        from inspector.values.stats import weight_stats

        if fetch_values(self.name, download, "stats", lambda text: print(text, file=sys.stderr)):
            # the same headers, now opened from the cache, where the values can be read
            self.inspection = inspect_source(self.name, self.inspection.spec)
        return Statistics(by, weight_stats(self.inspection.decoupled, by,
                                           self.inspection.shape.heads, threads,
                                           progress=progress))

    def _heads(self) -> tuple[int | None, int | None]:
        return self.inspection.shape.n_heads, self.inspection.shape.n_kv_heads

    def _drawing(self) -> drawing_of.Drawing:
        return drawing_of.of_inspection(self.name, self.inspection, None)

    def _diagram_summary(self) -> list[tuple[str, str]]:
        return drawing_of.checkpoint_summary(self._drawn, self.name, self.inspection)

    def _summary(self) -> list[tuple[str, object]]:
        return inspect_summary(self.document, self.inspection.spec)


@dataclass(repr=False)
class Verdict:
    """`inspector check`'s answer: `ok`, the roles expected and found, the problems. `document`
    is the command's JSON."""
    spec: Spec
    source: str
    document: dict

    @property
    def ok(self) -> bool:
        return self.document["ok"]

    @property
    def problems(self) -> list[str]:
        return self.document["problems"]

    @property
    def roles(self) -> pandas.DataFrame:
        return _frame(self.document["roles"])

    def __getitem__(self, key: str):  # the JSON's keys, as `verdict["ok"]`
        return self.document[key]

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return "\n".join([summary_text("Verdict", check_summary(self.document, self.spec,
                                                                self.source)),
                          "", table(self.document["roles"]), *check_notes(self.document)])

    def _repr_html_(self) -> str:
        return (summary_html("check", check_summary(self.document, self.spec, self.source))
                + self.roles.to_html(index=False) + notes_html(check_notes(self.document)))


@dataclass(repr=False)
class Statistics:
    """`inspector stats`' answer: `table` (a DataFrame of the roll-up asked for), `total` (over
    every parameter; None by head), `document` (the command's JSON)."""
    by: str
    document: dict

    @property
    def table(self) -> pandas.DataFrame:
        from inspector.vocab.tables import TABLE_KEYS

        return _frame(self.document[TABLE_KEYS[self.by]])

    @property
    def total(self) -> dict | None:
        return self.document.get("total")

    def _shown(self) -> tuple[list[tuple[str, object]], list[dict], list[str]]:
        from inspector.values.stats import COLUMNS, summary_pairs
        from inspector.vocab.tables import TABLE_KEYS

        return summary_pairs(self.document), self.document[TABLE_KEYS[self.by]], COLUMNS[self.by]

    def __repr__(self) -> str:
        pairs, rows, columns = self._shown()
        return summary_text("Statistics", pairs) + "\n\n" + table(rows, columns)

    def _repr_html_(self) -> str:
        pairs, rows, columns = self._shown()
        return summary_html("stats", pairs) + _frame(rows, columns).to_html(index=False)


@dataclass(repr=False)
class InspectedAdapter:
    """A PEFT adapter folder (`inspector inspect ADAPTER_DIR`): its config, and its tensors by
    the role of the base module each adapts. `document` is the command's JSON."""
    source: str
    document: dict
    adapter: Adapter
    adapter_rows: list[AdapterRow]

    @property
    def parameters(self) -> int:
        return self.document["parameters"]

    @property
    def roles(self) -> pandas.DataFrame:
        """Parameters by the role of the module adapted: lora_A, lora_B, ... and their sum."""
        return _frame(self.document["roles"])

    @property
    def layers(self) -> pandas.DataFrame:
        from inspector.checkpoint.adapter_tables import part_table

        return _frame(part_table(self.adapter_rows, "layer"))

    @property
    def tensors(self) -> pandas.DataFrame:
        from inspector.checkpoint.adapter_tables import tensor_table

        return _frame(tensor_table(self.adapter, self.adapter_rows))

    def check(self, base: str) -> dict:
        """`inspector check ADAPTER_DIR --spec BASE`: whether the adapter fits the base (a spec,
        a config.json or the base model's folder): `ok`, each module, the problems."""
        from inspector.checkpoint.adapter_fit import fit, load_base

        return fit(self.adapter, load_base(base))

    def _shown(self) -> tuple[list[tuple[str, object]], list[dict], list[str]]:
        from inspector.checkpoint.adapter_tables import names_joined, shown_columns
        from inspector.output.answers import adapter_summary

        roles = self.document["roles"]
        return adapter_summary(self.document), names_joined(roles), shown_columns(roles, "role")

    def __repr__(self) -> str:
        pairs, rows, columns = self._shown()
        return summary_text(f"InspectedAdapter {self.source}", pairs) + "\n\n" + table(
            rows, columns)

    def _repr_html_(self) -> str:
        pairs, rows, columns = self._shown()
        return summary_html(self.source, pairs) + _frame(rows, columns).to_html(index=False)


def _spec(spec: str | Spec, whole_model: bool = False) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec, whole_model=whole_model)


def count(spec: str | Spec) -> Counted:
    """A spec's counts: a shipped name (`"gpt3-175b"`), a spec YAML, a config.json (a
    multimodal one's whole model, as `inspector count` gives it), or a Spec."""
    spec = _spec(spec, whole_model=True)
    return Counted(spec.name, spec_rows(spec), spec)


def inspect(source: str, spec: str | Spec | None = None) -> Inspected | InspectedAdapter:
    """A checkpoint (a file, a folder or a hub id), header-only; `spec` supplies what the files
    do not say (the head count). A PEFT adapter folder gives an InspectedAdapter (`spec` then
    names its base, when base_model_name_or_path does not)."""
    from inspector.checkpoint.adapter_tables import inspect_adapter
    from inspector.checkpoint.adapters import is_adapter

    if is_adapter(source):
        document, adapter, rows = inspect_adapter(source, _spec(spec) if spec else None)
        return InspectedAdapter(source, document, adapter, rows)
    inspection = inspect_source(source, _spec(spec) if spec is not None else None)
    return Inspected(source, inspection.rows, inspection.spec, inspection)


def build(spec: str | Spec, device: str = "meta", dtype: torch.dtype | None = None,
          seed: int = 0) -> torch.nn.Module:
    """The PyTorch model of `spec` (`inspector build`'s model): on "meta" nothing is allocated
    (GPT-3 175B in well under a second); on a real device, seeded random weights."""
    import torch

    from inspector.building.transformer import build_model

    return build_model(_spec(spec), device, dtype or torch.float32, seed)
