"""A checkpoint read by the transformers path: each stored tensor's role, layer, expert and kind
from the description of the model transformers builds from its config.json
(inspector.spec.reference), buffers as buffers, the tie as transformers ties; and `check` of a
checkpoint against such a description, tensor by tensor."""

from __future__ import annotations

from dataclasses import replace

from inspector.checkpoint.tensor_rows import INFERRED, Decoupled, _rows
from inspector.formats.base import Checkpoint
from inspector.spec.reference import ReferenceSpec, is_tied, tensor_rows
from inspector.vocab.layout import Layout
from inspector.vocab.roles import Role
from inspector.vocab.rows import Row
from inspector.vocab.tables import active_total, buffers, role_table, total


def reference_layout(description: dict) -> Layout:
    """A layout without rules, named for the class transformers builds."""
    return Layout(name=f"transformers {description['class']}", rules=())


def is_reference_layout(layout: Layout) -> bool:
    return layout.name.startswith("transformers ") and not layout.rules


def decouple_by_reference(checkpoint: Checkpoint, description: dict) -> Decoupled:
    """Rows of every stored tensor by the description; a name it does not hold is read by the
    generic name patterns. A tied unembedding the file leaves out is a row of the embedding's
    storage; one the file stores anyway is a copy, counted once."""
    described = {t["name"]: t for t in description["tensors"]}
    if checkpoint.format == "gguf":  # llama.cpp's names, each back to the one it renamed
        from inspector.families.gguf_names import described_by_gguf_name

        described.update(described_by_gguf_name(
            checkpoint.metadata.get("general.architecture"), described))
    stored_as = {t["name"]: name for name, t in described.items()}
    rows: list[Row] = []
    for tensor in checkpoint.tensors:
        found = described.get(tensor.name)
        if found is None:
            rows += _rows(tensor, INFERRED, None)
            continue
        rows += tensor_rows(found, tensor.name, tuple(tensor.shape), tensor.dtype, tensor.nbytes)
    tied = is_tied(description)
    stored = {t.name for t in checkpoint.tensors}
    tied_copy = False
    for repeat in description["tied"]:
        source = next((r for r in rows if r.tensor == stored_as.get(repeat["source"])), None)
        role, tied_to = _role(repeat.get("role")), _role(repeat.get("tied_to"))
        if stored_as.get(repeat["name"]) in stored:  # a tied tensor's copy: counted once
            rows = [replace(r, tied_to=tied_to or role)
                    if r.tensor == stored_as[repeat["name"]] else r for r in rows]
            tied_copy = tied_copy or role == Role.UNEMBEDDING
        elif source is not None:
            rows.append(replace(source, role=role, tied_to=tied_to or role,
                                canonical=repeat["name"], layer=repeat.get("layer")))
    return Decoupled(checkpoint, reference_layout(description), rows, tied, tied_copy)


def _role(value) -> Role | None:
    try:
        return Role(value) if value else None
    except ValueError:
        return None


def _shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def check_by_reference(spec: ReferenceSpec, decoupled: Decoupled) -> dict:
    """The verdict of `check` against what transformers builds: every described tensor stored
    under its name with its shape, nothing stored it does not describe, the tie as it ties."""
    from inspector.spec.reference import description_rows

    description = spec.description
    expected_rows = description_rows(description)
    actual_rows = [r for r in decoupled.rows if r.in_language_model]
    stored = {t.name: t for t in decoupled.checkpoint.tensors}
    problems: list[str] = []
    for want in description["tensors"]:
        got = stored.get(want["name"])
        what = want.get("role") or want.get("kind")
        if got is None:
            problems.append(f"{want['name']} ({what}): missing, expected {_shape(want['shape'])}")
        elif list(got.shape) != list(want["shape"]):
            problems.append(f"{want['name']} ({what}): expected {_shape(want['shape'])}, found"
                            f" {_shape(got.shape)}")
    described = {t["name"] for t in description["tensors"]} | {t["name"] for t in
                                                                 description["tied"]}
    for name, got in stored.items():
        if name not in described:
            problems.append(f"'{name}' {_shape(got.shape)}: not in the model transformers builds")
    if is_tied(description) != decoupled.tied:
        said = "ties" if is_tied(description) else "does not tie"
        found = "tied" if decoupled.tied else "stored apart"
        problems.append(f"unembedding: transformers {said} it to the embedding, the checkpoint"
                        f" has it {found}")
    want_roles = {r["role"]: r for r in role_table(expected_rows)}
    got_roles = {r["role"]: r for r in role_table(actual_rows)}
    roles = [{"role": role, "expected": want_roles.get(role, {}).get("parameters", 0),
              "actual": got_roles.get(role, {}).get("parameters", 0),
              "tied_to": (want_roles.get(role) or got_roles.get(role))["tied_to"],
              "ok": want_roles.get(role) == got_roles.get(role)}
             for role in list(want_roles) + [r for r in got_roles if r not in want_roles]]
    expected_total, actual_total = total(expected_rows), total(actual_rows)
    k = spec.experts_per_token
    return {
        "ok": not problems and all(r["ok"] for r in roles) and expected_total == actual_total,
        "spec": spec.name,
        "source": decoupled.checkpoint.source,
        "total": {"expected": expected_total, "actual": actual_total},
        "active_parameters": {"expected": active_total(expected_rows, k),
                              "actual": active_total(actual_rows, k)},
        "roles": roles,
        "buffers": buffers(actual_rows),
        "problems": problems,
    }
