"""The hostile corpus: inputs made to break a promise (write over the user's files, take memory or
time out of proportion, end in an error that names no file, slip past the safetensors library's
checks, or send control characters to the terminal). The suite writes every file itself.

Each case writes its files into a folder `inp` and returns the command to run (with `{out}` for
the path it may write under), the name the one stderr line must hold, and fragments of its cause.
`run_measured` runs the command in a child process and measures that child alone: peak resident
memory (ru_maxrss from wait4) and CPU and wall time.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO
from malformed_files import raw_safetensors, write_tiny_gpt2

GB = 1 << 30
# The bounds the README states for any input within the caps.
MAX_PEAK_BYTES = 1 * GB
MAX_CPU_S = 10.0
# Wall time: CPU time bounds the work; this machine's two cores are shared, so a loaded run
# waits for a core. A hang (or a 1.5 GB read) still fails it.
MAX_WALL_S = 60.0


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int  # the child's own peak resident set (ru_maxrss, KiB on Linux)
    cpu_s: float  # user + system time of the child
    wall_s: float


# Linux starts an exec'd process's peak (ru_maxrss) at the peak of the memory it was forked
# from: a child of the test process (which may have held 700 MB making a file) would inherit it.
# A small Python in between is forked from the test, and the CLI from it; it reports the CLI's own
# rusage from wait4.
_MEASURE = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss,
               usage.ru_utime + usage.ru_stime], f)
"""


def run_measured(*args, env: dict | None = None, cwd: Path | None = None) -> Measured:
    """`python -m inspector ARGS` in a fresh process, measured alone (see _MEASURE)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("INSPECTOR_DEBUG", None)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "usage.json"
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-c", _MEASURE, report, sys.executable, "-m",
                               "inspector", *map(str, args)], capture_output=True, env=full_env,
                              cwd=cwd, timeout=600, check=False)
        wall = time.monotonic() - start
        code, peak_kib, cpu = json.loads(report.read_text())
    return Measured(code, done.stdout.decode(errors="replace"),
                    done.stderr.decode(errors="replace"), peak_kib * 1024, cpu, wall)


def run_within_bounds(*args, env: dict | None = None, cwd: Path | None = None) -> Measured:
    """`run_measured`, run a second time when the first run's CPU time is over MAX_CPU_S, and the
    run with less CPU time returned. This machine is a VM on a shared host: when the host is
    busy, the CPU seconds a process is charged grow with no more work done (seen: `export` of a
    header at the tensor cap measured 2.3-3.0 s quietly and 10.4 s in one CI run). The work is
    the same both times; a command that is slow by itself is over the bound twice."""
    first = run_measured(*args, env=env, cwd=cwd)
    if first.cpu_s < MAX_CPU_S:
        return first
    return min(first, run_measured(*args, env=env, cwd=cwd), key=lambda m: m.cpu_s)


# --- makers -------------------------------------------------------------------------------------

def _sparse(path: Path, size: int, start: bytes = b"") -> Path:
    """A file of `size` bytes that costs no disk: `start`, then a hole (zero bytes)."""
    with open(path, "wb") as f:
        f.write(start)
        f.truncate(size)
    return path


def _checkpoint_named_roles_csv(inp: Path):
    """A safetensors checkpoint called roles.csv: exporting beside it would replace it."""
    write_tiny_gpt2(inp / "roles.csv")
    return ["export", inp / "roles.csv", "--out", inp], "roles.csv", ["which this command reads"]


def _out_is_a_symlink_to_the_checkpoint_folder(inp: Path):
    write_tiny_gpt2(inp / "roles.csv")
    link = inp.parent / "link"
    link.symlink_to(inp)
    return (["export", inp / "roles.csv", "--out", link], "roles.csv",
            ["which this command reads"])


def _out_holds_a_hard_link_to_the_checkpoint(inp: Path):
    write_tiny_gpt2(inp / "model.safetensors")
    (inp / "tables").mkdir()
    os.link(inp / "model.safetensors", inp / "tables" / "layers.csv")
    return (["export", inp / "model.safetensors", "--out", inp / "tables"], "layers.csv",
            ["is " + str(inp / "model.safetensors"), "which this command reads"])


def _out_inside_the_checkpoint_folder(inp: Path):
    write_tiny_gpt2(inp / "model.safetensors")
    return (["export", inp, "--out", inp / "tables"], "tables",
            [f"is inside {inp}, which this command reads"])


def _build_over_its_own_config(inp: Path):
    """build reads config.json as its spec; writing the checkpoint beside it would replace it."""
    (inp / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, "n_embd": 32, "n_layer": 2,
         "n_head": 4}))
    return ["build", inp / "config.json", "--out", inp], "config.json", ["which this command reads"]


def _plot_into_the_checkpoint_folder(inp: Path):
    write_tiny_gpt2(inp / "model.safetensors")
    return (["plot", "norms", inp, "--out", inp / "norms.png"], str(inp),
            ["which this command reads"])


def _sparse_config_json(inp: Path):
    """1.5 GB of config.json (a hole after `{`): refused by its size, not read."""
    write_tiny_gpt2(inp / "model.safetensors")
    _sparse(inp / "config.json", 1_500_000_000, b"{")
    return ["inspect", inp], "config.json", ["1,500,000,000 bytes, over the 67,108,864-byte limit"]


def _sparse_index_json(inp: Path):
    _sparse(inp / "model.safetensors.index.json", 1_500_000_000, b'{"weight_map": {')
    return (["inspect", inp], "model.safetensors.index.json",
            ["1,500,000,000 bytes, over the 268,435,456-byte limit for an index file"])


def _sparse_spec_yaml(inp: Path):
    _sparse(inp / "spec.yaml", 1_500_000_000, b"name: ")
    return ["count", inp / "spec.yaml"], "spec.yaml", ["over the 1,048,576-byte limit"]


def _billion_laughs(inp: Path):
    """Nine aliases of nine aliases, ten levels, in 800 bytes. Expanded, a0 is 1 + 9 = 10 nodes
    and a_k = 1 + 9 a_(k-1) = (9^(k+2) - 1) / 8, so a9 = 3,922,632,451; the document is its root,
    11 keys and the values a0..a9 (sum 4,412,961,505) and a9 again: 8,335,593,968 nodes."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (inp / "spec.yaml").write_text("\n".join(lines + ["name: *a9"]) + "\n")
    return (["count", inp / "spec.yaml"], "spec.yaml",
            ["YAML aliases expand to 8,335,593,968 nodes, more than the 100,000 read"])


def _recursive_alias(inp: Path):
    """An anchor whose list holds an alias to itself: PyYAML composes it (a cycle), so counting
    its expansion would never end; the fuzzing found it by mutating the billion laughs."""
    (inp / "spec.yaml").write_text("a0: &a0 [lol, lol]\na1: &a1 [*a0, *a1]\nname: *a1\n")
    return (["count", inp / "spec.yaml"], "spec.yaml",
            ["a YAML alias refers to a node that holds it: a recursive document is not a spec"])


def _pickle_bomb(inp: Path):
    """A .pt whose data.pkl (deflated, 700 KB on disk) inflates to 700 MB."""
    import torch

    buffer = io.BytesIO()
    torch.save({"wte.weight": torch.zeros(2)}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(inp / "model.pt", "w") as archive:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename.endswith("data.pkl"):
                data = data[:-1] + b"N" * (700_000_000 - len(data)) + data[-1:]
                archive.writestr(member.filename, data, compress_type=zipfile.ZIP_DEFLATED)
            else:
                archive.writestr(member, data)
    return (["inspect", inp / "model.pt"], "model.pt",
            ["its pickle 'archive/data.pkl' is 700,000,000 bytes, over the 67,108,864-byte limit"])


def _header_items(n: int, width: int = 0) -> bytes:
    """A safetensors header of `n` empty F32 tensors `t0`, `t1`, ... (names padded to `width`)."""
    entry = '"t{:0{width}}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'
    return ("{" + ",".join(entry.format(i, width=width) for i in range(n)) + "}").encode()


def _header_of_1_37_million_tensors(inp: Path):
    """The 100 MB cap filled with 1.37 million empty tensors (before: 2.4 GB, 50 s to export).
    Each entry `"t0000000":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}` holds a `{`, two
    `[` and three commas, and a comma parts it from the next: 7 x 1,370,000 - 1, plus the outer
    `{`, is 9,590,000 values counted."""
    raw_safetensors(inp / "model.safetensors", _header_items(1_370_000, 7))
    return (["export", inp / "model.safetensors", "--out", "{out}"], "model.safetensors",
            ["the header holds about 9,590,000 JSON values, more than the 4,000,000"])


def _header_over_the_tensor_cap(inp: Path):
    raw_safetensors(inp / "model.safetensors", _header_items(150_001))
    return (["inspect", inp / "model.safetensors"], "model.safetensors",
            ["header holds 150,001 tensors, more than the 150,000 read"])


def _metadata_of_millions_of_values(inp: Path):
    """No tensors, 4.5 million empty objects in __metadata__: refused before they are built.
    Counted: 2 `{` and a `[` opening it, 4,500,000 `{` and 4,499,999 commas: 9,000,002."""
    raw_safetensors(inp / "model.safetensors",
                    b'{"__metadata__":{"x":[' + b",".join([b"{}"] * 4_500_000) + b"]}}")
    return (["inspect", inp / "model.safetensors"], "model.safetensors",
            ["the header holds about 9,000,002 JSON values"])


def _pickle(inp: Path, value, name: str = "model.bin") -> Path:
    import torch

    torch.save(value, inp / name)
    return inp / name


def _legacy_pickle_over_the_bound(inp: Path):
    """A legacy-format (pre-zip) .bin of 600 MB: a real legacy save of one small tensor followed
    by a hole. torch.load would read the whole file into memory; refused by its size first."""
    import torch

    buffer = io.BytesIO()
    torch.save({"wte.weight": torch.zeros(2)}, buffer, _use_new_zipfile_serialization=False)
    _sparse(inp / "pytorch_model.bin", 600_000_000, buffer.getvalue())
    return (["inspect", inp / "pytorch_model.bin"], "pytorch_model.bin",
            [("a legacy (pre-zip) PyTorch file is read whole into memory; this one is 600,000,000"
             " bytes, over the 536,870,912-byte limit")])


def _sparse_tensor_pickle(inp: Path):
    import torch

    sparse = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, 2.0]),
                                     (2, 2), check_invariants=True)
    _pickle(inp, {"wte.weight": sparse})
    return (["inspect", inp / "model.bin"], "model.bin",
            ["tensor 'wte.weight' is a sparse_coo tensor; only dense (strided) tensors are read"])


def _nested_tensor_pickle(inp: Path):
    import warnings

    import torch

    with warnings.catch_warnings():  # "nested tensors are in prototype stage"
        warnings.simplefilter("ignore")
        nested = torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)])
    _pickle(inp, {"wte.weight": nested})
    return (["inspect", inp / "model.bin"], "model.bin",
            ["tensor 'wte.weight' is a nested tensor; only dense (strided) tensors are read"])


def _state_dict_3000_deep(inp: Path):
    import torch

    value = {"wte.weight": torch.zeros(2)}
    for _ in range(3000):
        value = {"state_dict": value}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # torch.save's pickler recurses once a level
    try:
        _pickle(inp, value, "model.pt")
    finally:
        sys.setrecursionlimit(limit)
    return (["inspect", inp / "model.pt"], "model.pt",
            ["the state dict is wrapped more than 8 levels deep"])


def _shape(dims: list[int]) -> dict:
    return {"wte.weight": {"dtype": "F32", "shape": dims, "data_offsets": [0, 0]}}


def _shape_of_a_string_and_a_billion(inp: Path):
    """["a", 10**9]: a product of the dims would repeat the string a billion times (4 GB for
    F32); refused as a shape before any product is taken."""
    raw_safetensors(inp / "model.safetensors", {"w": {"dtype": "F32", "shape": ["a", 10**9],
                                                      "data_offsets": [0, 16]}})
    return (["inspect", inp / "model.safetensors"], "model.safetensors",
            ["shape ['a', 1000000000] is not a list of non-negative integers below 2^63"])


def _shape_2_70_to_parquet(inp: Path):
    raw_safetensors(inp / "model.safetensors", _shape([0, 2**70]))
    return (["export", inp / "model.safetensors", "--out", "{out}", "--format", "parquet"],
            "model.safetensors", [("shape [0, 1180591620717411303424] is not a list of"
                                   " non-negative integers below 2^63")])


def _shape_2_63_to_parquet(inp: Path):
    raw_safetensors(inp / "model.safetensors", _shape([0, 2**63]))
    return (["export", inp / "model.safetensors", "--out", "{out}", "--format", "parquet"],
            "model.safetensors", ["shape [0, 9223372036854775808] is not a list"])


def _hub_id(repo_id: str, cause: str):
    def make(inp: Path):
        return ["inspect", repo_id], repo_id, ["not a file, a folder or a valid hub id", cause]
    return make


def _metadata_value(value: bytes, shown: str):
    def make(inp: Path):
        raw_safetensors(inp / "model.safetensors",
                        b'{"__metadata__": {"format": ' + value + b'}, "a": {"dtype": "F32",'
                        b' "shape": [1], "data_offsets": [0, 4]}}', bytes(4))
        return ["inspect", inp / "model.safetensors"], "model.safetensors", [shown]
    return make


def _out_is_an_existing_file(inp: Path):
    write_tiny_gpt2(inp / "model.safetensors")
    (inp.parent / "notes.txt").write_text("a file, not a folder")
    return (["export", inp / "model.safetensors", "--out", inp.parent / "notes.txt"],
            "notes.txt", ["is a file, not a folder"])


def _plot_out_is_a_folder(inp: Path):
    write_tiny_gpt2(inp / "model.safetensors")
    (inp.parent / "pictures.png").mkdir()
    return (["plot", "norms", inp / "model.safetensors", "--out", inp.parent / "pictures.png"],
            "pictures.png", ["is a folder; --out names the .png file to write"])


def _tensor_name_with_control_characters(inp: Path):
    """A name with a newline and a clear-screen escape, refused: the line shows both escaped."""
    raw_safetensors(inp / "model.safetensors",
                    {"x\n\x1b[2Jchecks passed": {"dtype": "F99", "shape": [1],
                                                 "data_offsets": [0, 4]}}, bytes(4))
    return (["inspect", inp / "model.safetensors"], "model.safetensors",
            ["tensor 'x\\n\\x1b[2Jchecks passed': unknown dtype 'F99'"])


# name: maker(inp) -> (args, name in the line, cause fragments). By the kinds:
HOSTILE = {
    # 1. a write into what the command reads
    "export-over-a-checkpoint-named-roles.csv": _checkpoint_named_roles_csv,
    "export-out-a-symlink-to-the-checkpoint-folder": _out_is_a_symlink_to_the_checkpoint_folder,
    "export-out-holds-a-hard-link-to-the-checkpoint": _out_holds_a_hard_link_to_the_checkpoint,
    "export-out-inside-the-checkpoint-folder": _out_inside_the_checkpoint_folder,
    "build-over-its-own-config.json": _build_over_its_own_config,
    "plot-into-the-checkpoint-folder": _plot_into_the_checkpoint_folder,
    # 2. memory and time out of proportion
    "config.json-1.5GB-sparse": _sparse_config_json,
    "index.json-1.5GB-sparse": _sparse_index_json,
    "spec.yaml-1.5GB-sparse": _sparse_spec_yaml,
    "spec.yaml-billion-laughs": _billion_laughs,
    "spec.yaml-recursive-alias": _recursive_alias,
    "pt-data.pkl-inflates-to-700MB": _pickle_bomb,
    "bin-legacy-pickle-600MB": _legacy_pickle_over_the_bound,
    "header-1.37M-tensors-exported": _header_of_1_37_million_tensors,
    "header-over-the-tensor-cap": _header_over_the_tensor_cap,
    "header-metadata-4.5M-objects": _metadata_of_millions_of_values,
    # 3. errors that named no file
    "pickle-sparse-tensor": _sparse_tensor_pickle,
    "pickle-nested-tensor": _nested_tensor_pickle,
    "pickle-state-dict-3000-deep": _state_dict_3000_deep,
    "shape-0-2^70-to-parquet": _shape_2_70_to_parquet,
    "shape-a-string-times-a-billion": _shape_of_a_string_and_a_billion,
    "shape-0-2^63-to-parquet": _shape_2_63_to_parquet,
    "hub-id-dot-dot": _hub_id("a/b..c", "Cannot have -- or .. in repo_id"),
    "hub-id-dash-dash": _hub_id("a/--b", "The name cannot start or end with '-' or '.'"),
    "hub-id-200-characters": _hub_id("a/" + "x" * 198, "the maximum length is 96"),
    # 4. what the safetensors library refuses
    "metadata-value-an-integer": _metadata_value(b"1", ("__metadata__ value of 'format' is 1,"
                                                        " not a string")),
    "metadata-value-NaN": _metadata_value(b"NaN", "header is not JSON: NaN is not a JSON value"),
    # 5. terminal and log safety
    "tensor-name-with-newline-and-escape": _tensor_name_with_control_characters,
    "export-out-an-existing-file": _out_is_an_existing_file,
    "plot-out-an-existing-folder": _plot_out_is_a_folder,
}

# Cases whose files are small enough to seed the fuzzing (tests/test_fuzz.py) with.
FUZZ_SEEDS = ("metadata-value-an-integer", "metadata-value-NaN",
              "tensor-name-with-newline-and-escape", "shape-0-2^70-to-parquet",
              "spec.yaml-billion-laughs", "pickle-sparse-tensor", "pickle-nested-tensor",
              "pickle-state-dict-3000-deep")


def header_of_empty_tensors(path: Path, n: int) -> Path:
    """A header of `n` empty F32 tensors `t000000`, `t000001`, ...: none maps to a role."""
    return raw_safetensors(path, _header_items(n, 6))
