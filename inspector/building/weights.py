"""A checkpoint's VALUES in canonical names, and canonical values back in a family's names.

The layout rules (inspector.vocab.layout, one table per family) are read in both directions, so
one table says how a family stores its tensors: `from_stored` splits a fused tensor (GPT-2's
c_attn) on `split_axis`, transposes Conv1D's (in, out) weights, undoes llama.cpp's rotary row
order and takes off the 1 it adds to Gemma's norm weights; `to_stored` does the same steps
backwards. Headers are checked against the spec (inspector.checkpoint.check) before a single
value is read, so a wrong checkpoint fails fast and names what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

from inspector.errors import CheckpointError, UsageError
from inspector.formats.base import Checkpoint
from inspector.spec.schema import Spec
from inspector.vocab.canonical import parse
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.roles import Role

MAX_PROBLEMS_SHOWN = 5


def targets(rule: Rule, layer: int | None, expert: int | None = None) -> list[str]:
    """The canonical names a stored tensor fills: every expert's, in order, when axis 0 holds
    the layer's experts (`rule.experts`; `expert` then counts them)."""
    names = [t.replace("{i}", str(layer)) for t in rule.targets]
    if expert is None:
        return names
    if rule.experts:
        return [n.replace("{e}", str(e)) for e in range(expert) for n in names]
    return [n.replace("{e}", str(expert)) for n in names]


def from_stored(value: torch.Tensor, rule: Rule, layer: int | None, spec: Spec,
                expert: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """One stored tensor -> its canonical tensors, each (out, in). `expert`: the expert a
    per-expert tensor holds."""
    if rule.experts:  # one slice of axis 0 per expert, each read as the rule says
        return [pair for e, part in enumerate(value.unbind(0))
                for pair in from_stored(part, replace(rule, experts=False), layer, spec, e)]
    names = targets(rule, layer, expert)
    parts = [value] if rule.split_axis is None else _split(value, rule, spec)
    out = []
    for name, part in zip(names, parts, strict=True):
        if rule.transposed:
            part = part.t()
        if rule.rotary_permuted:
            part = unpermute_rotary(part, _rotary_heads(name, spec))
        if rule.value_offset:
            part = part - rule.value_offset
        out.append((name, part))
    return out


def to_stored(values: list[torch.Tensor], rule: Rule, layer: int | None,
              spec: Spec) -> torch.Tensor:
    """Canonical tensors (in the rule's target order; for `rule.experts`, every expert's in
    turn) -> the one tensor the layout stores."""
    if rule.experts:
        n = len(rule.targets)
        single = replace(rule, experts=False)
        return torch.stack([to_stored(values[e:e + n], single, layer, spec)
                            for e in range(0, len(values), n)])
    parts = []
    for name, part in zip(targets(rule, layer), values, strict=True):
        if rule.value_offset:
            part = part + rule.value_offset
        if rule.rotary_permuted:
            part = permute_rotary(part, _rotary_heads(name, spec))
        if rule.transposed:
            part = part.t()
        parts.append(part)
    if rule.split_axis is None:
        return parts[0].contiguous()
    if rule.interleaved:  # "parts n -> (n parts)", the inverse of _split's
        return torch.stack(parts, dim=rule.split_axis + 1).flatten(
            rule.split_axis, rule.split_axis + 1).contiguous()
    if rule.head_interleaved:  # "(parts g d) ... -> (g parts d) ...", the inverse of _split's
        groups = [p.unflatten(rule.split_axis, (spec.n_kv_heads, -1)) for p in parts]
        return torch.cat(groups, dim=rule.split_axis + 1).flatten(
            rule.split_axis, rule.split_axis + 1).contiguous()
    return torch.cat(parts, dim=rule.split_axis).contiguous()


def _split(value: torch.Tensor, rule: Rule, spec: Spec) -> list[torch.Tensor]:
    """A fused tensor's parts: consecutive blocks of the sizes the rule names (equal parts
    when it names none), or, head-interleaved ("(g parts) ...", g key/value heads), each
    group's slices gathered, or, interleaved, every n-th element from each start."""
    from inspector.checkpoint.tensor_rows import split_sizes

    axis = rule.split_axis
    sizes = split_sizes(rule, value.shape[axis], spec)
    groups = spec.n_kv_heads if rule.head_interleaved else 1
    if sizes is None or any(size % groups for size in sizes):
        raise UsageError(rule.pattern, f"cannot cut {value.shape[axis]} into"
                                       f" {', '.join(rule.split_sizes or ())} for {spec.name}")
    if rule.interleaved:  # "(n parts) -> parts n": every len(sizes)-th element from each start
        return list(value.unflatten(axis, (-1, len(sizes))).unbind(axis + 1))
    if rule.head_interleaved:
        per_group = value.unflatten(axis, (groups, -1))
        return [part.flatten(axis, axis + 1) for part in
                per_group.split([size // groups for size in sizes], dim=axis + 1)]
    return list(value.split(sizes, dim=axis))


def permute_rotary(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """llama.cpp's reordering (convert_hf_to_gguf.py, LlamaModel.permute): within each head the
    rows go from "first half, second half" (rotate-half rotary) to interleaved pairs:
    "(h two half) ... -> (h half two) ..."."""
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:]).transpose(1, 2) \
        .reshape(w.shape)


def unpermute_rotary(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """The inverse: "(h half two) ... -> (h two half) ..."."""
    return w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *w.shape[1:]).transpose(1, 2) \
        .reshape(w.shape)


def _rotary_heads(name: str, spec: Spec) -> int:
    role = parse(name)[0]
    if role == Role.QUERY:
        return spec.n_heads
    if role == Role.KEY:
        return spec.n_kv_heads
    raise UsageError(name, "only query and key rows are reordered for rotary")


# ---- reading values -------------------------------------------------------------------------

def stored_values(checkpoint: Checkpoint) -> Iterator[tuple[str, torch.Tensor]]:
    """(stored name, value) for every tensor of every file, one file open at a time. GGUF values
    are dequantized to fp32 and turned to PyTorch's dim order."""
    for file in checkpoint.files:
        path = Path(file)
        try:
            if checkpoint.format == "gguf" or path.suffix == ".gguf":
                yield from _gguf_values(path)
            elif checkpoint.format.startswith("safetensors"):
                yield from _safetensors_values(path)
            else:
                yield from _pytorch_values(path)
        except (OSError, RuntimeError, ValueError, NotImplementedError) as e:
            raise CheckpointError(path, f"cannot read tensor values: {e}") from e


def _safetensors_values(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
            yield name, f.get_tensor(name)


def _pytorch_values(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    # The header reader has already loaded this file with weights_only=True (and refused anything
    # else); its state dict, unwrapped the same way, gives the values.
    from inspector.formats.pytorch import is_zip, unwrap_state_dict

    loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip(path))
    yield from unwrap_state_dict(loaded, path).items()


def _gguf_values(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize

    for t in GGUFReader(str(path)).tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # ggml lists dims inner first
        values = dequantize(t.data, t.tensor_type).reshape(shape)
        yield t.name, torch.from_numpy(np.array(values, dtype=np.float32))


# ---- loading into a model -------------------------------------------------------------------

def open_source(source: str | Path | Checkpoint) -> Checkpoint:
    if isinstance(source, Checkpoint):
        return source
    from inspector.formats import open_checkpoint

    return open_checkpoint(str(source))


def load_into(model, source: str | Path | Checkpoint, layout: Layout | None = None) -> Checkpoint:
    """Fill a model from `build_model` with a checkpoint's values (converted to the model's dtype).

    The checkpoint must hold exactly the spec's parameters (as `inspector check` decides, from the
    headers, before any value is read); a tied unembedding is filled through the embedding. A
    model on the meta device is given CPU storage first.
    """
    from inspector.building.transformer import materialize
    from inspector.checkpoint.check import check
    from inspector.checkpoint.tensor_rows import decouple
    from inspector.families import tie_from_files

    spec: Spec = model.spec
    checkpoint = open_source(source)
    decoupled = decouple(checkpoint, layout, tied_default=spec.tied_embeddings, spec=spec)
    layout = decoupled.layout
    if tie_from_files(spec) and spec.tied_embeddings != decoupled.tied:
        # check accepts either (the files decide), but the model has one tie or the other
        said = "ties" if spec.tied_embeddings else "does not tie"
        found = "tied" if decoupled.tied else "stored apart"
        _fail(checkpoint, spec, [(f"unembedding: the model {said} it, the files have it"
                                  f" {found} (load_model builds it as the files have it)")])
    verdict = check(spec, decoupled)
    if not verdict["ok"]:
        problems = verdict["problems"] or [
            f"{r['role']}: expected {r['expected']:,} parameters, found {r['actual']:,}"
            for r in verdict["roles"] if not r["ok"]]
        _fail(checkpoint, spec, problems)
    if any(p.is_meta for p in model.parameters()):
        materialize(model, "cpu")
    params = dict(model.named_parameters(remove_duplicate=False))
    filled: set[int] = set()  # ids of Parameters given values: a tied one is filled once for both
    with torch.no_grad():
        for stored, value in stored_values(checkpoint):
            found = layout.match(stored)
            if found is None or found[0].is_buffer:
                continue
            rule, layer = found
            layer = rule.canonical_layer(layer, spec.n_layers)
            for name, part in from_stored(value, rule, layer, spec, rule.expert_in(stored)):
                param = params[name]
                if tuple(part.shape) != tuple(param.shape):  # the header check makes this rare
                    _fail(checkpoint, spec, [(f"'{stored}' gives {name} the shape"
                                              f" {list(part.shape)}, the model has"
                                              f" {list(param.shape)}")])
                param.copy_(part)
                filled.add(id(param))
    missing = [f"{name}: no value in the checkpoint" for name, p in params.items()
               if id(p) not in filled]
    if missing:
        _fail(checkpoint, spec, missing)
    return checkpoint


def _fail(checkpoint: Checkpoint, spec: Spec, problems: list[str]) -> None:
    shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    if more > 0:
        shown += f"; ... and {more} more (`inspector check` lists them all)"
    raise CheckpointError(checkpoint.source, f"cannot load into a {spec.name} model: {shown}")


def load_model(source: str | Path, spec: Spec, dtype: torch.dtype = torch.float32):
    """Build `spec` and fill it from `source`, in eval mode (tied as the files are, where the
    family leaves the tie to them)."""
    from inspector.building.transformer import build_model
    from inspector.checkpoint.tensor_rows import decouple
    from inspector.families import tie_from_files, tied_as_stored

    checkpoint = open_source(source)
    if tie_from_files(spec):
        spec = tied_as_stored(spec, decouple(checkpoint, tied_default=True, spec=spec).tied)
    model = build_model(spec, device="meta", dtype=dtype)
    load_into(model, checkpoint)
    return model.eval()
