"""A layer's routed experts, stored one tensor per expert, read once per template of names.

Kimi-K2 stores 139,583 tensors, 138,240 of them its experts' (384 experts x 60 layers x 3
matrices, each with its FP8 scales): tensors that differ only in the expert number of their
names. Reading each alike tensor through the layout, the quantization and the rows costs tens of
microseconds; here the tensors of one template (name before and after the expert number, dtype,
shape) are read once, for their first expert, and held as one Repeated row group
(inspector.vocab.rows) that tables sum with its multiplicity. The second expert is read too and
compared with the first's rows renumbered, so a layout whose reading depends on the number
(anything but renaming) is caught and the checkpoint read tensor by tensor instead.

Only where every expert first .. first + n - 1 is stored once, with no gap: anything else is read
tensor by tensor, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from inspector.checkpoint.quantization import stored_view
from inspector.vocab.rows import Grouped, Repeated, Row

MARK = ".experts."


@dataclass
class ExpertGroup:
    """Tensors alike but for their expert number: `members[k]` (an index into the checkpoint's
    tensors) holds expert first + k."""
    first: int
    members: list[int]


def expert_groups(tensors) -> list[ExpertGroup]:
    """The templates of at least two experts numbered first .. first + n - 1, each once.

    The names are templated all at once, one regular expression over them joined (C, not a
    Python step a tensor: 2.5x as fast at 140,000). Grouping is only a shortcut, so a header
    whose names defeat it (a line break in a name, two expert numbers in one) is simply read
    tensor by tensor: no groups."""
    names = [t[0] for t in tensors]
    joined = "\n".join(names)
    templates = _NUMBERED.sub(_TEMPLATE, joined).split("\n")
    numbers = _NUMBERED.findall(joined)
    numbered = [i for i, (template, name) in enumerate(zip(templates, names)) if template != name]
    if len(templates) != len(names) or len(numbers) != len(numbered):
        return []
    by_template: dict[tuple, list[tuple[int, int]]] = {}
    for i, number in zip(numbered, numbers):
        _, dtype, shape, _, _, _, storage = tensors[i]
        if storage is not None:  # (a .bin's tied storages are read one by one)
            continue
        key = (templates[i], dtype, shape)
        found = by_template.get(key)
        if found is None:
            by_template[key] = [(int(number), i)]
        else:
            found.append((int(number), i))
    groups = []
    for members in by_template.values():
        if len(members) < 2:
            continue
        members.sort()
        first = members[0][0]
        if members[-1][0] - first != len(members) - 1 or len({e for e, _ in members}) != len(
                members):
            continue  # a gap or a repeat: read one by one
        groups.append(ExpertGroup(first, [i for _, i in members]))
    return groups


# An expert's number in a name, spelled one way only (`07` would not be renamed back from 7).
_NUMBERED = re.compile(r"\.experts\.(0|[1-9][0-9]*)(?=\.)")
_TEMPLATE = ".experts.{e}"


def held_once(group: ExpertGroup, first_rows: list[Row], second_rows: list[Row]
              ) -> Repeated | None:
    """The group as one Repeated, when its second expert's rows are its first's renumbered;
    else None (read it tensor by tensor)."""
    if not first_rows or any(r.expert != group.first for r in first_rows):
        return None
    held = Repeated(tuple(first_rows), group.first, len(group.members))
    return held if held.expert_rows(group.first + 1) == second_rows else None


class LogicalTensors:
    """A quantized checkpoint's tensors as the unquantized model names and shapes them, its
    bookkeeping left out: what layouts are matched against. Made on demand for what is looked
    at (the layout is chosen from a sample of a few hundred names), not for 140,000 tensors."""

    def __init__(self, tensors, views: dict, groups: list[ExpertGroup], quantization, logical):
        self._tensors, self._views, self._quantization = tensors, views, quantization
        self._logical = logical  # (inspector.checkpoint.tensor_rows._logical)
        first_of = {i: g.members[0] for g in groups for i in g.members[2:]}
        # (a later expert is bookkeeping exactly when its group's first is)
        self._kept = [i for i in range(len(tensors))
                      if not views[first_of.get(i, i)].bookkeeping] if first_of else \
            [i for i in range(len(tensors)) if not views[i].bookkeeping]

    def __len__(self) -> int:
        return len(self._kept)

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, at):
        if isinstance(at, slice):
            return [self._one(i) for i in self._kept[at]]
        return self._one(self._kept[at])

    def _one(self, i: int):
        view = self._views.get(i)
        if view is None:
            view = stored_view(self._tensors[i], self._quantization)
        return self._logical(self._tensors[i], view)


@dataclass
class Placed:
    """Rows and where they stand in the checkpoint's order: `key` sorts them as reading the
    tensors one by one lists them (weights in tensor order, then bookkeeping, then what is
    added after: the tied unembedding). A Repeated stands at its first member's key, each
    expert at its own member's (`positions`)."""
    key: tuple
    rows: list[Row] | Repeated
    positions: list[int] | None = None  # a Repeated's members' indices, by expert


def in_order(placed: list[Placed]) -> list[Row]:
    """Every row, Repeated ones expanded, in the order of reading tensor by tensor."""
    blocks: list[tuple[tuple, list[Row]]] = []
    for p in placed:
        if isinstance(p.rows, Repeated):
            kind = p.key[0]
            first = p.rows.first
            blocks.extend(((kind, position), p.rows.expert_rows(first + k))
                          for k, position in enumerate(p.positions))
        else:
            blocks.append((p.key, p.rows))
    blocks.sort(key=_first)
    return [row for _, rows in blocks for row in rows]


def held_rows(placed: list[Placed]) -> list:
    """The rows with each Repeated held once, at its first member's place (a Grouped list)."""
    out = Grouped()
    for p in sorted(placed, key=_key):
        if isinstance(p.rows, Repeated):
            out.append(p.rows)
        else:
            out.extend(p.rows)
    return out


def singles_in_order(placed: list[Placed]) -> list[Row]:
    """The rows outside expert groups (every embedding, norm, attention, router), in order."""
    return [r for p in sorted(placed, key=_key) if not isinstance(p.rows, Repeated)
            for r in p.rows]


def each_block(placed: list[Placed], change) -> list[Placed]:
    """`change` applied to every row (a Repeated's rows: its first expert's, the same for all)."""
    out = []
    for p in placed:
        if isinstance(p.rows, Repeated):
            held = p.rows
            out.append(replace(p, rows=replace(held, rows=tuple(map(change, held.rows)))))
        else:
            out.append(replace(p, rows=list(map(change, p.rows))))
    return out


def bookkeeping_of(decoupled) -> list[dict]:
    """A quantized checkpoint's scales, zero points and indices, one entry per stored tensor in
    the order of the tensors (inspector.vocab.tables.bookkeeping of every row), each expert of
    a group named from its first's name, its sizes its first's. Bookkeeping tensors are all
    of kind 1 (read after the weights), so their entries are put in place by position."""
    from inspector.vocab.tables import bookkeeping

    if decoupled.placed is None:
        return bookkeeping(decoupled.rows)
    at: list = [None] * len(decoupled.checkpoint.tensors)
    for p in decoupled.placed:
        if p.key[0] != 1:
            continue
        if not isinstance(p.rows, Repeated):
            at[p.key[1]] = bookkeeping(p.rows)
            continue
        held = p.rows
        (entry,) = bookkeeping(list(held.rows))  # (one tensor's rows: one entry)
        name, numel, nbytes = entry["name"], entry["numel"], entry["bytes"]
        marker = f"{MARK}{held.first}."
        for k, position in enumerate(p.positions):
            at[position] = [{"name": name.replace(marker, f"{MARK}{held.first + k}.", 1),
                             "numel": numel, "bytes": nbytes}]
    # (each position one tensor, its rows already merged into one entry by bookkeeping())
    return [e for entries in at if entries for e in entries]


def tensor_table_of(decoupled) -> list[dict]:
    """inspector.vocab.tables.tensor_table of every row, in the order of the tensors, without
    making each expert's Row: each expert's entries are its first's with the names renumbered
    (the only cells that differ)."""
    from inspector.vocab.tables import tensor_table

    if decoupled.placed is None:
        return tensor_table(decoupled.rows)
    blocks: list[tuple[tuple, list[dict]]] = []
    for p in decoupled.placed:
        if not isinstance(p.rows, Repeated):
            blocks.append((p.key, tensor_table(p.rows)))
            continue
        held = p.rows
        first = tensor_table(list(held.rows))
        marker = f"{MARK}{held.first}."
        for k, position in enumerate(p.positions):
            named = f"{MARK}{held.first + k}."
            entries = []
            for entry in first:
                entry = entry.copy()
                entry["tensor"] = entry["tensor"].replace(marker, named, 1)
                entry["canonical"] = entry["canonical"].replace(marker, named, 1)
                entries.append(entry)
            blocks.append(((p.key[0], position), entries))
    blocks.sort(key=_first)
    return [entry for _, entries in blocks for entry in entries]


def _first(block: tuple) -> tuple:
    return block[0]


def _key(p: Placed) -> tuple:
    return p.key
