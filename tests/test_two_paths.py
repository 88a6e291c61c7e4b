"""One answer from two paths: every family case (tests/family_cases/) read by the transformers
path (inspector.spec.reference_build, the model transformers builds on the meta device) gives
the counts, roles (a fused tensor's parts in order), buffers and tie the case's table gives,
which the family module gives too (tests/test_families.py).

Where the two paths still differ, the case is listed in DIFFERENT with the first difference,
asserted exactly so that a fix moves a case out of the table.
"""

from __future__ import annotations

import warnings

from family_cases import FamilyCase, all_cases

N_LAYERS = 2  # every case config has two blocks

# Cases whose transformers-path answer is not yet the family's: the first difference.
DIFFERENT: dict[str, str] = {}


def _expand(pattern: str) -> list[str]:
    return [pattern.replace("{i}", str(i)) for i in range(N_LAYERS)] if "{i}" in pattern \
        else [pattern]


def _config(case: FamilyCase) -> tuple[dict, int]:
    """The case's config.json (naming the class it builds) and its num_parameters()."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model_class = getattr(transformers, case.auto_class)
        model = (model_class.from_config(config) if case.auto_class.startswith("Auto")
                 else model_class(config))
    found = config.to_dict()
    found.update(model_type=case.model_type, architectures=[type(model).__name__])
    return found, model.num_parameters()


def _difference(case: FamilyCase) -> str | None:
    """The first way the transformers path's answer differs from the case's, else None."""
    from inspector.spec.reference import described_total, is_tied, tensor_rows
    from inspector.spec.reference_build import build_description

    config, n = _config(case)
    description = build_description(config)
    if described_total(description) != n:
        return f"total {described_total(description)} != num_parameters() {n}"
    expected = {name: roles for pattern, roles in case.roles.items() for name in _expand(pattern)}
    buffers = {name for pattern in case.buffers for name in _expand(pattern)}
    found_buffers = {t["name"] for t in description["tensors"] if t["kind"] == "buffer"}
    if found_buffers != buffers:
        return f"buffers {sorted(found_buffers ^ buffers)[:3]}"
    found = {t["name"]: tuple(str(r.role.value if r.role else None) for r in
                              tensor_rows(t, t["name"], tuple(t["shape"]), "", 0))
             for t in description["tensors"] if t["kind"] != "buffer"}
    wrong = sorted(name for name in set(found) | set(expected)
                   if found.get(name) != expected.get(name))
    if wrong:
        return f"roles of {wrong[0]}: {found.get(wrong[0])} where the case says" \
               f" {expected.get(wrong[0])}"
    if is_tied(description) != case.tied:
        return f"tied {is_tied(description)} where the case says {case.tied}"
    return None


def test_family_cases_by_the_transformers_path():
    """Every case answers as its family module does, but those DIFFERENT lists."""
    differences = {}
    for case in all_cases():
        try:
            found = _difference(case)
        except Exception as e:  # noqa: BLE001  (a config the transformers path cannot read)
            found = f"{type(e).__name__}: {e}"[:160]
        if found is not None:
            differences[case.name] = found
    assert set(differences) == set(DIFFERENT), differences
