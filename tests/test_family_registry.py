"""The family registry: config.json defaults as transformers has them, and no family named
outside its module."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest

from inspector import families
from inspector.hf_config import spec_from_config

PACKAGE = Path(__file__).resolve().parent.parent / "inspector"
# What a spec read from a config.json records about where it came from, not what it describes.
PROVENANCE = ("name", "source", "path")


def transformers_knows(model_type: str) -> bool:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return model_type in CONFIG_MAPPING


@pytest.mark.parametrize("model_type", families.model_types())
def test_absent_keys_take_transformers_defaults(model_type):
    """A config.json naming only its model_type reads as the spec of transformers' own default
    config of that type: the family table's defaults are transformers'."""
    from transformers import AutoConfig

    if not transformers_knows(model_type):
        pytest.skip(f"this transformers has no {model_type}")
    ours = asdict(spec_from_config({"model_type": model_type}))
    theirs = asdict(spec_from_config(AutoConfig.for_model(model_type).to_dict()))
    for key in PROVENANCE:
        ours.pop(key), theirs.pop(key)
    assert ours == theirs


def test_no_module_outside_the_families_names_a_family():
    """Family and model_type names appear as string literals only in inspector/families/."""
    names = set(families.families()) | set(families.model_types())
    alternatives = "|".join(map(re.escape, sorted(names)))
    literal = re.compile(rf"""["']({alternatives})["']""")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "families" in path.relative_to(PACKAGE).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if literal.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []


def test_every_layout_belongs_to_a_family():
    for name, layout in families.all_layouts().items():
        if name != "canonical":
            assert families.family_of_layout(layout) in families.families(), name
