"""A spec against a checkpoint: role by role, tensor by tensor, with every difference named."""

from __future__ import annotations

from inspector.checkpoint.architecture import CHECK_SIDES, against_spec
from inspector.checkpoint.tensor_rows import Decoupled
from inspector.spec.describe import spec_row_groups
from inspector.spec.schema import Spec
from inspector.vocab.roles import Role
from inspector.vocab.rows import Grouped, Repeated, Row, expand
from inspector.vocab.tables import (
    active_total,
    buffers,
    component_table,
    role_table,
    total,
    unmapped,
)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def check(spec: Spec, decoupled: Decoupled) -> dict:
    from inspector.families import tied_as_stored

    if getattr(spec, "description", None) is not None:  # what transformers builds
        from inspector.checkpoint.reference_rows import check_by_reference

        return check_by_reference(spec, decoupled)

    spec = tied_as_stored(spec, decoupled.tied)  # where the family leaves the tie to the files
    # A spec describes a language model: a multimodal checkpoint's other components (vision
    # tower, projector, a multi-token-prediction layer) are listed, not checked.
    # (a layer's routed experts held once on both sides, inspector.vocab.rows.Repeated: every
    # sum below takes them with their multiplicity)
    expected_rows = spec_row_groups(spec)
    actual_rows = language_model(decoupled.held)
    problems = tensor_problems(expected_rows, actual_rows)
    bad_roles = {role for role, _ in problems}
    problems = [line for _, line in problems]
    for name in unmapped(actual_rows):
        problems.append(f"'{name}': no layout rule recognises this tensor")
    # The cause first: what differs in the architecture, then the tensors it changes.
    architecture = against_spec(spec, decoupled)
    problems[:0] = [d.line(*CHECK_SIDES) for d in architecture]
    if any(d.key == "tied_embeddings" for d in architecture):
        bad_roles.add(Role.UNEMBEDDING.value)

    want_roles = {r["role"]: r for r in role_table(expected_rows)}
    got_roles = {r["role"]: r for r in role_table(actual_rows)}
    roles = []
    for role in list(want_roles) + [r for r in got_roles if r not in want_roles]:
        want, got = want_roles.get(role), got_roles.get(role)
        same = (want is not None and got is not None and role not in bad_roles
                and all(want[k] == got[k] for k in ("weights", "biases", "tied_to")))
        roles.append({"role": role,
                      "expected": want["parameters"] if want else 0,
                      "actual": got["parameters"] if got else 0,
                      "tied_to": (want or got)["tied_to"],
                      "ok": same})
    unchecked = Grouped(r for r in decoupled.held if not _in_language_model(r))
    expected_total, actual_total = total(expected_rows), total(actual_rows)
    ok = not problems and all(r["ok"] for r in roles) and expected_total == actual_total
    return {
        "ok": ok,
        "spec": spec.name,
        "source": decoupled.checkpoint.source,
        "total": {"expected": expected_total, "actual": actual_total},
        "active_parameters": {"expected": active_total(expected_rows, spec.experts_per_token),
                              "actual": active_total(actual_rows, spec.experts_per_token)},
        "roles": roles,
        "buffers": buffers(actual_rows),
        "architecture": [d.as_dict(*CHECK_SIDES) for d in architecture],
        "problems": problems,
        **({"unchecked": component_table(unchecked)} if unchecked else {}),
    }


def _in_language_model(held: Row | Repeated) -> bool:
    return (held.rows[0] if isinstance(held, Repeated) else held).in_language_model


def language_model(held: list) -> Grouped:
    """The rows (a Repeated whole: its rows are one tensor's, of one component) of the language
    model: what a spec describes."""
    return Grouped(r for r in held if _in_language_model(r))


def tensor_problems(expected_rows: Grouped, actual_rows: Grouped) -> list[tuple[str, str]]:
    """(role, line) for each canonical tensor missing, of another shape, or not in the spec.
    Where both sides hold the same experts alike (the same names and shapes of a first expert,
    the same numbers) there is nothing to say of them, and the rest is compared name by name;
    else every row of both is."""
    if _held_alike(expected_rows, actual_rows):
        expected_rows = [r for r in expected_rows if not isinstance(r, Repeated)]
        actual_rows = [r for r in actual_rows if not isinstance(r, Repeated)]
    else:
        expected_rows, actual_rows = expand(expected_rows), expand(actual_rows)
    problems: list[tuple[str, str]] = []
    expected = {r.canonical: r for r in expected_rows}
    actual = {r.canonical: r for r in actual_rows if r.canonical}
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            line = f"{name} ({want.role.value}): missing, expected {_shape(want.shape)}"
        elif got.shape != want.shape:
            line = (f"{name} ({want.role.value}): expected {_shape(want.shape)}, found"
                    f" {_shape(got.shape)} in '{got.tensor}'")
        else:
            continue
        problems.append((want.role.value, line))
    for name, got in actual.items():
        if name not in expected:
            line = f"{name} ({got.role.value}): '{got.tensor}' {_shape(got.shape)} is not in the spec"
            problems.append((got.role.value, line))
    return problems


def _held_alike(expected_rows: Grouped, actual_rows: Grouped) -> bool:
    """Whether the experts held once on each side expand to the same canonical names and shapes
    (a spec holds a layer's experts in one Repeated, a checkpoint one per stored template)."""
    def experts(rows) -> dict[str, tuple]:
        return {r.canonical: (r.shape, held.first, held.count) for held in rows
                if isinstance(held, Repeated) for r in held.rows if r.canonical}

    return experts(expected_rows) == experts(actual_rows)
