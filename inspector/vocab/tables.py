"""Rows -> tables (lists of dicts): by role, layer, head and tensor, plus totals.

Every number the tool prints is one of these sums, so the rules live here once:
a tied repeat is shown but not added (unless `count_tied`), buffers are never parameters,
`weights_only` keeps the matrices (no biases, norms or position table).
"""

from __future__ import annotations

import re
from collections import defaultdict

from inspector.errors import UsageError
from inspector.vocab.roles import NOT_WEIGHTS, Role, role_sort_key
from inspector.vocab.rows import (
    AUDIO,
    BIAS,
    BOOKKEEPING,
    BUFFER,
    LANGUAGE_MODEL,
    MTP,
    PROJECTOR,
    UNMAPPED,
    VISION,
    Row,
    each_row,
    weighted,
)

UNMAPPED_ROLE = "unmapped"  # stored tensors that no layout rule recognises
# Components in display order (inspector.vocab.rows): the language model, then what feeds it.
COMPONENTS = (LANGUAGE_MODEL, VISION, PROJECTOR, AUDIO, MTP)

# --by value -> the document key of its table (stats and diff JSON; `inspector export` files).
TABLE_KEYS = {"role": "roles", "layer": "layers", "head": "heads", "tensor": "tensors"}


def role_name(row: Row) -> str:
    """A row's role as tables name it: unmapped tensors "unmapped", buffers no role."""
    return row.role.value if row.role is not None else (UNMAPPED_ROLE if row.kind != BUFFER
                                                        else "")


def layer_sort_key(layer: int | None) -> tuple[bool, int]:
    """Sort key of a layer in tables: None (outside the blocks) first, then by number."""
    return layer is not None, layer if layer is not None else 0


def head_order(layer: int | None, role: str) -> tuple:
    """Sort key of a `--by head` row (inspect, stats, diff): by layer, then role order (query,
    key, value, output) whatever order the file stores them in (safetensors sorts names: k_proj,
    o_proj, q_proj, v_proj). A stable sort keeps each role's heads in their order."""
    return layer_sort_key(layer), role_sort_key(role)


def select(rows: list[Row], count_tied: bool = False, weights_only: bool = False) -> list[Row]:
    """The parameter rows that a total adds up."""
    return [row for row in rows if _kept(row, count_tied, weights_only)]


def _kept(row: Row, count_tied: bool, weights_only: bool) -> bool:
    if not row.is_parameter or (row.tied_to is not None and not count_tied):
        return False
    return not (weights_only and (row.kind == BIAS or row.role in NOT_WEIGHTS))


def select_weighted(rows: list[Row], count_tied: bool = False, weights_only: bool = False):
    """select(), as (row, how many rows it stands for) pairs (inspector.vocab.rows.weighted)."""
    for row, n in weighted(rows):
        if _kept(row, count_tied, weights_only):
            yield row, n


def total(rows: list[Row], count_tied: bool = False, weights_only: bool = False) -> int:
    return sum(r.numel * n for r, n in select_weighted(rows, count_tied, weights_only))


# What model cards leave out of "non-embedding" parameters: the tables a token's id and position
# look up, and the unembedding (Qwen3-30B-A3B: 30.5B, 29.9B non-embedding).
EMBEDDING_TABLES = (Role.EMBEDDING, Role.POSITION, Role.TOKEN_TYPE, Role.UNEMBEDDING)


def active_total(rows: list[Row], experts_per_token: int | None,
                 embeddings: bool = True) -> int | None:
    """The parameters a token passes through: every counted parameter, except that of the E
    routed experts of an MoE layer only k are (k/E of their parameters; experts of one layer are
    alike). None when the rows hold routed experts and k is not known. `embeddings=False`
    leaves out the embedding tables and the unembedding (the model cards' convention)."""
    routed: dict[int | None, int] = defaultdict(int)
    numbers: dict[int | None, set[int]] = defaultdict(set)  # a layer's experts, one a row
    runs: dict[int | None, set[tuple]] = defaultdict(set)  # (first, count): a Repeated's rows
    fixed = 0
    for row, n in select_weighted(rows):
        if not embeddings and row.role in EMBEDDING_TABLES:
            continue
        if row.expert is None:
            fixed += row.numel * n
        else:
            routed[row.layer] += row.numel * n
            if n == 1:
                numbers[row.layer].add(row.expert)
            else:
                runs[row.layer].add((row.expert, n))
    if routed and not experts_per_token:
        return None
    return fixed + sum(n * experts_per_token // _how_many(numbers[layer], runs[layer])
                       for layer, n in routed.items())


def _how_many(numbers: set[int], runs: set[tuple]) -> int:
    """Distinct expert numbers among `numbers` and the runs (first, count), without listing a
    run's numbers (each layer of a spec holds its experts as one run: Kimi-K2's 384)."""
    spans: list[list[int]] = []  # [start, end) of the runs, overlapping ones joined
    for first, count in sorted(runs):
        if spans and first <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], first + count)
        else:
            spans.append([first, first + count])
    outside = len(numbers) if not spans else sum(
        1 for e in numbers if not any(start <= e < end for start, end in spans))
    return sum(end - start for start, end in spans) + outside


def active_parameters(rows: list[Row], spec) -> dict:
    """The JSON keys of the parameters a token passes through (every parameter of a dense
    model; k of E routed experts of a mixture), with and without the embedding tables: what
    `count`, `inspect` and `report` say."""
    k = spec.experts_per_token if spec is not None else None
    return {"active_parameters": active_total(rows, k),
            "active_parameters_without_embeddings": active_total(rows, k, embeddings=False)}


def expert_table(rows: list[Row]) -> list[dict]:
    """One row per (layer, expert) of a mixture of experts, and one for each layer's shared
    experts: their weights, biases and parameters."""
    cells: dict[tuple, list[int]] = {}
    for row, n in select_weighted(rows):
        shared = ".mlp.shared." in row.canonical
        if row.expert is None and not shared:
            continue
        for expert in ["shared"] if shared else range(row.expert, row.expert + n):
            cell = cells.setdefault((row.layer, expert), [0, 0])
            cell[row.kind == BIAS] += row.numel
    return [{"layer": layer, "expert": expert, "weights": w, "biases": b, "parameters": w + b}
            for (layer, expert), (w, b) in cells.items()]


def component_sort_key(name: str | None) -> int:
    """Sort key of a component: the language model first, the rest in COMPONENTS' order."""
    return COMPONENTS.index(name) if name in COMPONENTS else len(COMPONENTS)


def role_table(rows: list[Row], count_tied: bool = False, weights_only: bool = False) -> list[dict]:
    """One row per role: weights, biases, parameters, and tied_to for a role that is a repeat.
    A checkpoint with components (a multimodal model) has one row per component and role,
    the component first.

    A tied role is listed with its size even when it is not counted, so that the reader sees it.
    """
    sums: dict[tuple, dict] = {}
    for row, n in weighted(rows):
        if not row.is_parameter:
            continue
        if weights_only and (row.kind == BIAS or row.role in NOT_WEIGHTS):
            continue
        name = row.role.value if row.role is not None else UNMAPPED_ROLE
        entry = sums.get((row.component, name))
        if entry is None:
            entry = sums[row.component, name] = {
                **({"component": row.component} if row.component is not None else {}),
                "role": name, "weights": 0, "biases": 0, "parameters": 0, "tied_to": None}
        entry["biases" if row.kind == BIAS else "weights"] += row.numel * n
        entry["parameters"] += row.numel * n
        if row.tied_to is not None:
            entry["tied_to"] = row.tied_to.value
    return sorted(sums.values(), key=lambda e: (component_sort_key(e.get("component")),
                                                role_sort_key(e["role"])))


def component_table(rows: list[Row], count_tied: bool = False,
                    weights_only: bool = False) -> list[dict]:
    """One row per component (a plain language model: one, `language_model`): weights, biases,
    parameters, and how many of them no rule gave a role (`unmapped`, counted all the same)."""
    cells: dict[str, dict] = {}
    for row, n in select_weighted(rows, count_tied, weights_only):
        name = row.component or LANGUAGE_MODEL
        cell = cells.setdefault(name, {"component": name, "weights": 0, "biases": 0,
                                       "parameters": 0, "unmapped": 0})
        cell["biases" if row.kind == BIAS else "weights"] += row.numel * n
        cell["parameters"] += row.numel * n
        cell["unmapped"] += row.numel * n if row.kind == UNMAPPED else 0
    return sorted(cells.values(), key=lambda c: component_sort_key(c["component"]))


def layer_table(rows: list[Row], count_tied: bool = False, weights_only: bool = False) -> list[dict]:
    """One row per layer (None: outside the blocks): its weights, biases and parameters; with
    components (a vision tower's layers beside the language model's), per component and layer."""
    by_layer: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for row, n in select_weighted(rows, count_tied, weights_only):
        cell = by_layer[row.component, row.layer]
        cell["weights" if row.kind != BIAS else "biases"] += row.numel * n
        cell["parameters"] += row.numel * n
    out = []
    for component, layer in sorted(by_layer, key=lambda k: (component_sort_key(k[0]),
                                                            layer_sort_key(k[1]))):
        cell = by_layer[component, layer]
        out.append({**({"component": component} if component is not None else {}),
                    "layer": layer, "weights": cell["weights"], "biases": cell["biases"],
                    "parameters": cell["parameters"]})
    return out


HEADS_UNKNOWN = ("the number of attention heads is not known (no config.json or metadata says"
                 " it); pass --spec SPEC")


def head_table(rows: list[Row], n_heads: int | None, n_kv_heads: int | None,
               source: str = "checkpoint") -> list[dict]:
    """Query, key, value and output cut per head: one row per (layer, head, role), with the
    head's weights and biases.

    Query rows are n_heads x d_head; key and value rows n_kv_heads x d_head (grouped-query
    attention); the output projection's columns are cut by query head. The output bias belongs
    to no head (it is added after the heads are summed), so it is left out here. The head
    counts are the language model's: a multimodal model's vision tower is not cut. An
    encoder-decoder's decoder layers have two attentions, their own and the cross-attention over
    the encoder: their heads are rows apart, told by an `attention` column (self or cross) that
    only such a model's table has.
    """
    if not n_heads:
        raise UsageError(source, HEADS_UNKNOWN)
    kv = n_kv_heads or n_heads
    cells: dict[tuple, list[int]] = {}  # (layer, cross, role, heads) -> [weights, biases] of a head
    for row, n in select_weighted(rows):
        if not row.cut_by_head:
            continue
        heads = kv if row.role in (Role.KEY, Role.VALUE) else n_heads
        # query/key/value: rows are heads; the output matrix: columns are heads (a vector, as
        # gpt-oss's sinks, one value a head). Either way numel splits evenly.
        axis = 1 if row.role == Role.OUTPUT and len(row.shape) == 2 else 0
        size = row.shape[axis] if len(row.shape) > axis else 0
        if size < heads or size % heads:  # a head count that is not this checkpoint's (and
            # a hostile config.json's 2**30 heads would otherwise be 2**30 rows per tensor)
            raise UsageError(row.tensor, f"cannot be cut into {heads:,} heads: its"
                                         f" {row.role.value} {'columns' if axis else 'rows'}"
                                         f" number {size:,}; the head count does not fit this"
                                         " checkpoint")
        cross = ".cross_attn." in row.canonical  # an encoder-decoder's second attention
        cell = cells.setdefault((row.layer, cross, row.role, heads), [0, 0])
        cell[row.kind == BIAS] += row.numel // heads * n
    any_cross = any(cross for _, cross, _, _ in cells)
    out = []
    append = out.append
    # (an encoder-decoder's cross-attention after its self-attention, in each layer)
    for (layer, cross, role, heads), (weights, biases) in sorted(
            cells.items(), key=lambda c: (head_order(c[0][0], c[0][2].value), c[0][1])):
        first = {"layer": layer, "head": 0,
                 **({"attention": "cross" if cross else "self"} if any_cross else {}),
                 "role": role.value, "weights": weights, "biases": biases,
                 "parameters": weights + biases}
        # The rows of a (layer, role) differ in the head only: each a copy of the first with
        # its head set (its key keeps its place), 1.6x faster than building each row anew
        # (GPT-3 175B has 36,864 head rows).
        copy = first.copy
        for head in range(heads):
            row = copy()
            row["head"] = head
            append(row)
    return out


def tensor_table(rows: list[Row]) -> list[dict]:
    return [
        {"tensor": r.tensor, "role": r.role.value if r.role else (UNMAPPED_ROLE if r.kind == UNMAPPED
                                                                  else ""),
         "canonical": r.canonical, "layer": r.layer, "kind": r.kind, "shape": list(r.shape),
         "dtype": r.dtype,
         "numel": r.numel, "bytes": r.nbytes,
         "tied_to": r.tied_to.value if r.tied_to else None,
         **({"component": r.component} if r.component is not None else {})}
        for r in rows
    ]


def buffers(rows: list[Row]) -> list[dict]:
    """(No Repeated holds a buffer: its rows are one routed expert's, inspector.checkpoint.
    expert_groups.)"""
    return [{"name": r.tensor, "numel": r.numel} for r in each_row(rows) if r.kind == BUFFER]


def name_pattern(name: str) -> str:
    """A stored name with its layer (or expert) numbers as N: `h.3.attn.bias` -> `h.N.attn.bias`."""
    return re.sub(r"(?<=\.)\d+(?=\.)", "N", name)


def buffer_groups(rows: list[Row]) -> dict[str, list[Row]]:
    """Buffers by name pattern: one entry per kind (every layer's causal mask together)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in each_row(rows):  # (no Repeated holds a buffer)
        if r.kind == BUFFER:
            groups[name_pattern(r.tensor)].append(r)
    return groups


def bookkeeping(rows: list[Row]) -> list[dict]:
    """A quantized checkpoint's scales, zero points and indices, one entry per stored tensor."""
    out: dict[str, dict] = {}
    for r in rows:
        if r.kind == BOOKKEEPING:
            entry = out.setdefault(r.tensor, {"name": r.tensor, "numel": 0, "bytes": 0})
            entry["numel"] += r.numel
            entry["bytes"] += r.nbytes
    return list(out.values())


def quantized_roles(rows: list[Row], roles: list[dict]) -> list[dict]:
    """The role table of a quantized checkpoint: beside each role's logical parameters, the
    elements and bytes its weights are stored in, its bookkeeping's bytes, and the bits a
    parameter takes with them."""
    stored: dict[str, list[int]] = {}  # role -> [stored elements, bytes, bookkeeping bytes]
    for r, n in weighted(rows):
        if r.role is None and r.kind != UNMAPPED or r.tied_to is not None:
            continue
        cell = stored.setdefault(role_name(r), [0, 0, 0])
        if r.kind == BOOKKEEPING:
            cell[2] += r.nbytes * n
        else:
            cell[0] += (r.numel if r.stored is None else r.stored) * n
            cell[1] += r.nbytes * n
    out = []
    for entry in roles:
        elements, nbytes, extra = stored.get(entry["role"], [0, 0, 0])
        bits = (nbytes + extra) * 8 / entry["parameters"] if entry["parameters"] else None
        out.append({**entry, "stored": elements, "bytes": nbytes, "bookkeeping_bytes": extra,
                    "bits_per_parameter": round(bits, 3) if bits is not None else None})
    return out


def unmapped(rows: list[Row]) -> list[str]:
    """(No Repeated holds an unmapped row: a rule gave its rows their expert.)"""
    return [r.tensor for r in each_row(rows) if r.kind == UNMAPPED]
