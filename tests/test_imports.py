"""The header-only path stays light: `specs`, `count`, `inspect`, `check` and `export` (csv, json)
of safetensors inputs never import torch, pandas, transformers or matplotlib, nor numpy (whose
import alone costs more than the rest of such a command), nor numba; `stats` of float32 values
needs numpy and nothing heavier: not numba either, whose kernels only read the windows numpy
leaves (NaN, Inf, integers, FP8) and runs of more than 2 GB.

Each command runs in a fresh interpreter through a small runner that calls the CLI's main() and
then writes the names in sys.modules to a file, whatever the exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from inspector.building.hole_files import write_hole_checkpoint
from inspector.spec.loading import load_spec

HEAVY = ("torch", "pandas", "transformers", "matplotlib", "scipy")
HEADER_ONLY_FORBIDS = (*HEAVY, "numpy", "numba", "tqdm")

RUNNER = """
import json, sys
out, sys.argv = sys.argv[1], ["inspector", *sys.argv[2:]]
code = 0
try:
    from inspector.cli.main import main
    main()
except SystemExit as e:
    code = e.code
finally:
    with open(out, "w") as f:
        json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def imported(tmp_path, *args: str) -> tuple[int, set[str]]:
    """Exit status and the top-level packages imported by `inspector ARGS`."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(out), *map(str, args)],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    found = json.loads(out.read_text())
    return found["code"], {name.split(".")[0] for name in found["modules"]}


@pytest.fixture(scope="module")
def holes(tmp_path_factory):
    """GPT-2 124M as one hole file and as three shards with an index (no config.json)."""
    root = tmp_path_factory.mktemp("holes")
    spec = load_spec("gpt2-124m")
    single = write_hole_checkpoint(root / "single", spec, "F32") / "model.safetensors"
    sharded = write_hole_checkpoint(root / "sharded", spec, "F32", shards=3)
    return {"single": single, "sharded": sharded}


def header_commands(source, spec: str, out) -> list[tuple[str, ...]]:
    return [
        ("inspect", source),
        ("inspect", source, "--by", "tensor", "--format", "json"),
        ("inspect", source, "--by", "head", "--spec", spec, "--format", "csv"),
        ("inspect", source, "--by", "layer", "--format", "markdown"),
        ("check", source, "--spec", spec),
        ("check", source, "--spec", spec, "--format", "json"),
        ("export", source, "--out", out, "--spec", spec),
        ("export", source, "--out", out, "--format", "json", "--spec", spec),
    ]


@pytest.mark.parametrize("args", [("specs",), ("count", "gpt2-124m"),
                                  ("count", "gpt3-175b", "--by", "tensor", "--format", "json"),
                                  ("count", "gpt2-124m", "--by", "layer", "--format", "csv")])
def test_spec_commands_import_nothing_heavy(tmp_path, args):
    code, modules = imported(tmp_path, *args)
    assert code == 0
    assert not modules & set(HEADER_ONLY_FORBIDS), modules & set(HEADER_ONLY_FORBIDS)


@pytest.mark.parametrize("form", ["single", "sharded"])
def test_hole_checkpoints_import_nothing_heavy(tmp_path, holes, form):
    for args in header_commands(holes[form], "gpt2-124m", tmp_path / "tables"):
        code, modules = imported(tmp_path, *args)
        assert code == 0, args
        assert not modules & set(HEADER_ONLY_FORBIDS), (args, modules & set(HEADER_ONLY_FORBIDS))


def test_a_transformers_folder_imports_nothing_heavy(tmp_path, tiny_gpt2_dir):
    """A real folder (config.json read as a spec, weights written by save_pretrained)."""
    for args in header_commands(tiny_gpt2_dir, str(tiny_gpt2_dir / "config.json"),
                                tmp_path / "tables"):
        code, modules = imported(tmp_path, *args)
        assert code == 0, args
        assert not modules & set(HEADER_ONLY_FORBIDS), (args, modules & set(HEADER_ONLY_FORBIDS))


def test_stats_imports_numpy_and_nothing_heavier(tmp_path, holes, tiny_gpt2_dir):
    for source in (tiny_gpt2_dir, holes["sharded"]):
        code, modules = imported(tmp_path, "stats", source, "--by", "tensor", "--format", "json")
        assert code == 0
        assert "numpy" in modules and "numba" not in modules
        assert not modules & set(HEAVY), modules & set(HEAVY)


def test_parquet_export_may_import_pandas_but_not_torch(tmp_path, holes):
    """What the user asked for needs pandas; nothing else heavy comes with it."""
    code, modules = imported(tmp_path, "export", holes["single"], "--out", tmp_path / "t",
                             "--format", "parquet", "--spec", "gpt2-124m")
    assert code == 0
    assert "pandas" in modules
    assert not modules & {"torch", "transformers", "matplotlib"}


@pytest.mark.parametrize("form", ["spec", "single"])
def test_diagram_imports_nothing_heavy(tmp_path, holes, form):
    """A diagram is drawn from the header path's rows: strings, no arrays."""
    source = "gpt3-175b" if form == "spec" else holes[form]
    for out in ("d.html", "d.svg"):
        code, modules = imported(tmp_path, "diagram", source, "--out", tmp_path / out)
        assert code == 0
        assert not modules & set(HEADER_ONLY_FORBIDS), modules & set(HEADER_ONLY_FORBIDS)
