"""The family registry: config.json defaults as transformers has them, and no family named
outside its module."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from inspector import families
from inspector.spec.config_json import spec_from_config

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


def test_the_index_is_written_from_the_modules_as_they_are():
    """index.json (which module answers each name) is what the modules say now. If this fails
    after a change to a family module, write it anew:
    python -c 'from inspector.families import write_index; write_index()'"""
    assert json.loads(families.INDEX.read_text()) == families.index_data()


def test_each_lookup_by_the_index_answers_as_the_full_registry():
    """The index names a module; what that module gives is the object the registry derived
    from every module gives (the first of its name, in the registry's order)."""
    assert families._index() is not None
    everyone = families.families()
    assert families.spec_family_names() == tuple(everyone)
    assert families.model_types() == sorted(families._by_model_type())
    for name, family in everyone.items():
        assert families.get(name) is family
    assert families.get("no-such-family") is None
    for model_type, family in families._by_model_type().items():
        assert families.by_model_type(model_type) is family
    for name, layout in families.hub_layouts().items():
        assert families.hub_layout(name) is layout
        assert families.family_of_layout(layout) == (layout.family
                                                     or families._layout_family().get(name))
    for model_type, composite in families.composites().items():
        assert families.composite_of({"model_type": model_type}) is composite
    for family in everyone.values():
        if family.gguf_arch:
            assert families.gguf_family(family.gguf_arch) is next(
                f for f in everyone.values() if f.gguf_arch == family.gguf_arch)


def test_a_specs_facts_from_the_index_are_its_familys(monkeypatch):
    """spec_facts (what `count` asks of a spec's family: whether its config.json gives d_head,
    an encoder's last norm) answers from the index as the family module does, and alike with
    no index."""
    for name, family in families.families().items():
        assert families.spec_facts(name) == family.spec_facts
    assert families.spec_facts("no-such-family") is None
    assert families.spec_facts("t5")["encoder_only_norm"] == "encoder_norm"
    assert families.spec_facts("qwen3")["config_gives_d_head"]
    assert not families.spec_facts("gpt2")["config_gives_d_head"]
    monkeypatch.setattr(families, "_sources_checksum", lambda: "edited")
    families._index.cache_clear()
    try:
        assert families.spec_facts("t5") == families.families()["t5"].spec_facts
        assert families.spec_facts("no-such-family") is None
    finally:
        monkeypatch.undo()
        families._index.cache_clear()


def test_a_stale_index_is_not_used(monkeypatch):
    """After an edit to a family module the checksum differs: every module is imported, as
    with no index at all."""
    monkeypatch.setattr(families, "_sources_checksum", lambda: "edited")
    families._index.cache_clear()
    try:
        assert families._index() is None
        assert families.get("gpt3") is families.families()["gpt3"]
    finally:
        monkeypatch.undo()
        families._index.cache_clear()


def test_export_imports_only_the_family_it_reads(tmp_path):
    """A --spec's family and its layout are found through the index: `export` of a GPT-3
    checkpoint imports the module of gpt2 and gpt3, none of the 26 others."""
    from inspector.building.hole_files import write_hole_checkpoint
    from inspector.spec.loading import load_spec

    folder = write_hole_checkpoint(tmp_path / "gpt3", load_spec("gpt3-175b"), "F16", 2)
    code = ("import sys; from inspector.cli.main import main\n"
            "try: main()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('inspector.families.')),"
            " file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, "export", str(folder), "--out",
                             str(tmp_path / "out"), "--spec", "gpt3-175b"],
                            check=False, capture_output=True, text=True, cwd=PACKAGE.parent,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        "['inspector.families.base', 'inspector.families.gpt2']"
