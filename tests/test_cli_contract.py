"""The CLI contract that users' scripts rely on: commands, exit codes, JSON keys, streams."""

import csv
import json

import pytest
from conftest import run_cli, tiny_spec_yaml

ROLE_KEYS = {"role", "weights", "biases", "parameters", "tied_to"}


def test_specs_lists_the_shipped_specs():
    result = run_cli("specs", "--format", "json")
    assert result.returncode == 0
    rows = {r["spec"]: r for r in json.loads(result.stdout)}
    assert rows["gpt2-124m"]["parameters"] == 124_439_808
    assert rows["gpt2-1558m"]["family"] == "gpt2"


def test_count_json():
    result = run_cli("count", "gpt2-124m", "--format", "json")
    assert result.returncode == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    assert set(doc) == {"spec", "total", "active_parameters",
                        "active_parameters_without_embeddings", "roles"}
    assert doc["total"] == 124_439_808
    # A dense model: a token passes through every parameter; without the tables (50,257 x 768
    # tokens, 1,024 x 768 positions) 124,439,808 - 38,597,376 - 786,432 = 85,056,000.
    assert (doc["active_parameters"], doc["active_parameters_without_embeddings"]) == \
        (124_439_808, 85_056_000)
    assert all(set(r) == ROLE_KEYS for r in doc["roles"])


@pytest.mark.parametrize("by, key", [("layer", "layers"), ("tensor", "tensors")])
def test_count_by(by, key):
    doc = json.loads(run_cli("count", "gpt2-124m", "--by", by, "--format", "json").stdout)
    rows = doc[key]
    assert sum(r["parameters"] if by == "layer" else r["numel"] for r in rows) == 124_439_808


def test_count_table_reads_well():
    out = run_cli("count", "gpt2-124m").stdout
    assert "124,439,808" in out and "38,597,376" in out
    assert "tied to embedding" in out


def test_count_csv_and_markdown():
    rows = list(csv.DictReader(run_cli("count", "gpt2-124m", "--format", "csv").stdout
                               .splitlines()))
    assert rows[0] == {"role": "embedding", "weights": "38597376", "biases": "0",
                       "parameters": "38597376", "tied_to": ""}
    md = run_cli("count", "gpt2-124m", "--format", "markdown").stdout
    assert "| embedding | 38,597,376 | 0 | 38,597,376 | - |" in md


def test_count_a_spec_file(tmp_path):
    """The tiny spec: 29,184 parameters (see test_gpt2_checkpoints.test_real_values_tiny_model)."""
    doc = json.loads(run_cli("count", tiny_spec_yaml(tmp_path / "t.yaml"), "--format",
                             "json").stdout)
    assert doc["total"] == 29_184


def test_check_json_and_exit_codes(tiny_gpt2_dir, tmp_path):
    ok = run_cli("check", tiny_gpt2_dir, "--spec", tiny_spec_yaml(tmp_path / "t.yaml"),
                 "--format", "json")
    assert ok.returncode == 0
    verdict = json.loads(ok.stdout)
    assert set(verdict) == {"ok", "spec", "source", "total", "active_parameters", "roles",
                            "buffers", "architecture", "problems"}
    assert verdict["architecture"] == []  # what differs in the architecture: nothing
    assert verdict["active_parameters"]["expected"] == verdict["total"]["expected"]  # dense
    assert all({"role", "expected", "actual", "ok"} <= set(r) for r in verdict["roles"])
    bad = run_cli("check", tiny_gpt2_dir, "--spec", "gpt2-124m", "--format", "json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["ok"] is False


def test_export_writes_four_tables(tiny_gpt2_dir, tmp_path):
    out = tmp_path / "tables"
    result = run_cli("export", tiny_gpt2_dir, "--out", out)
    assert result.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["heads.csv", "layers.csv", "roles.csv",
                                                      "tensors.csv"]
    roles = list(csv.DictReader((out / "roles.csv").open()))
    assert sum(int(r["parameters"]) for r in roles if not r["tied_to"]) == 29_184
    heads = list(csv.DictReader((out / "heads.csv").open()))
    # 2 layers x 4 heads x (query, key, value, output)
    assert len(heads) == 2 * 4 * 4
    # a query head of the tiny GPT-2: 8 rows (d_head 32/4) of 32 = 256 weights, 8 biases
    assert heads[0] == {"layer": "0", "head": "0", "role": "query", "weights": "256",
                        "biases": "8", "parameters": "264"}
    for fmt in ("json", "parquet"):
        assert run_cli("export", tiny_gpt2_dir, "--out", tmp_path / fmt, "--format",
                       fmt).returncode == 0
    assert json.loads((tmp_path / "json" / "roles.json").read_text()) == [
        {**r, "weights": int(r["weights"]), "biases": int(r["biases"]),
         "parameters": int(r["parameters"]), "tied_to": r["tied_to"] or None} for r in roles]


@pytest.mark.parametrize("args", [
    ("count",),                                  # missing SPEC
    ("count", "gpt2-124m", "--by", "head"),      # not a choice for count
    ("check", "x"),                              # missing --spec
    ("inspect", "x", "--format", "xml"),
    ("nonsense",),
])
def test_usage_errors_exit_2(args):
    assert run_cli(*args).returncode == 2


@pytest.mark.parametrize("args", [
    ("count", "no-such-spec"),
    ("inspect", "/no/such/file.safetensors"),
    ("check", "/no/such/dir", "--spec", "gpt2-124m"),
])
def test_bad_input_is_one_line_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("inspector: error: ")


def test_exported_files_follow_the_umask(tiny_gpt2_dir, tmp_path):
    """Temporary files are created 0600; what is renamed into place must be 0666 & ~umask."""
    import os
    import stat

    out = tmp_path / "tables"
    run_cli("export", tiny_gpt2_dir, "--out", out)
    mask = os.umask(0)
    os.umask(mask)
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o666 & ~mask}


def test_csv_keeps_every_digit_of_a_float():
    from inspector.output.rendering import csv_text, table

    rows = [{"x": -0.50732421875, "cos": 0.99999998}]
    assert csv_text(rows) == "x,cos\n-0.50732421875,0.99999998"
    assert "-0.507324" in table(rows)


def test_the_command_table_names_every_command_of_its_module():
    """`inspector` imports a command's module when the command runs: its table of command ->
    module holds every command each module defines, under the module that defines it."""
    import importlib

    from inspector.cli.main import COMMAND_MODULES, cli

    defined = {}
    for module in set(COMMAND_MODULES.values()):
        commands = importlib.import_module(f"inspector.cli.{module}").COMMANDS
        defined.update((command.name, module) for command in commands)
    assert defined == COMMAND_MODULES
    assert sorted(cli.commands) == sorted(COMMAND_MODULES)
    assert all(cli.commands[name].name == name for name in COMMAND_MODULES)
