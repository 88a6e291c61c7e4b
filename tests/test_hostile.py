"""The hostile corpus (tests/hostile_files.py) through the CLI, each case measured in its own child
process: exit 2, one stderr line naming the file and the cause, peak memory and time within the
README's bounds, and nothing written outside the output folder. Then what is not a refusal: a
header at the tensor cap answered within the same bounds, warnings summarised and escaped, Ctrl-C,
an unwritable HOME, and export folders that hold one run's tables."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from hostile_files import (
    HOSTILE,
    MAX_CPU_S,
    MAX_PEAK_BYTES,
    MAX_WALL_S,
    header_of_empty_tensors,
    run_within_bounds,
)
from malformed_files import assert_refused, write_tiny_gpt2

from inspector.formats.safetensors import MAX_TENSORS

SMALL = 1 << 20  # files up to this size are hashed; larger (sparse) ones compared by stat


def snapshot(root: Path, leave_out: Path) -> dict[str, tuple]:
    """Every file and folder under `root` but `leave_out`: kind, size, mtime, ctime, inode, and
    the bytes' hash for a small file (a 1.5 GB sparse one is not read)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path == leave_out or leave_out in path.parents:
            continue
        st = path.lstat()
        digest = (hashlib.sha256(path.read_bytes()).hexdigest()
                  if path.is_file() and not path.is_symlink() and st.st_size <= SMALL else None)
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns,
                                            st.st_ctime_ns, st.st_ino, digest)
    return out


def within_bounds(result) -> None:
    assert result.peak_bytes < MAX_PEAK_BYTES, f"{result.peak_bytes:,} bytes at peak"
    assert result.cpu_s < MAX_CPU_S, f"{result.cpu_s:.1f} s of CPU"
    assert result.wall_s < MAX_WALL_S, f"{result.wall_s:.1f} s"


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_input_is_refused_within_bounds(tmp_path, case):
    pytest.importorskip("torch")
    inp, out = tmp_path / "inp", tmp_path / "out"
    inp.mkdir()
    args, name, causes = HOSTILE[case](inp)
    args = [str(a).replace("{out}", str(out)) for a in args]
    before = snapshot(tmp_path, out)
    result = run_within_bounds(*args, env={"HF_HUB_OFFLINE": "1",
                                           "HF_HOME": str(tmp_path / "hf")})
    print(f"{case}: {result.peak_bytes / 2**20:.0f} MiB, {result.cpu_s:.2f} s CPU,"
          f" {result.wall_s:.2f} s: {result.stderr.strip()}")
    assert "Traceback" not in result.stderr, result.stderr
    assert_refused(result, name, *causes)
    within_bounds(result)
    assert snapshot(tmp_path, out) == before  # nothing written, replaced or touched
    assert not out.exists() or not any(out.iterdir())


# --- within the caps: answered, within the same bounds -----------------------------------------

@pytest.fixture(scope="module")
def header_at_the_cap(tmp_path_factory) -> Path:
    return header_of_empty_tensors(tmp_path_factory.mktemp("cap") / "model.safetensors",
                                   MAX_TENSORS)


@pytest.mark.parametrize("command", ["inspect", "export"])
def test_a_header_at_the_tensor_cap_is_answered_within_bounds(tmp_path, header_at_the_cap,
                                                              command):
    """MAX_TENSORS (150,000) empty tensors, none mapped to a role: `inspect` prints its tables,
    `export` writes roles, layers and tensors (no head count, so no heads table), within 1 GB and
    10 s of CPU; 150,000 unmapped names are one warning line."""
    args = {"inspect": ["inspect", header_at_the_cap],
            "export": ["export", header_at_the_cap, "--out", tmp_path / "tables"]}[command]
    result = run_within_bounds(*args)
    print(f"{command} at the cap: {result.peak_bytes / 2**20:.0f} MiB, {result.cpu_s:.2f} s CPU,"
          f" {result.wall_s:.2f} s")
    assert result.returncode == 0, result.stderr
    within_bounds(result)
    warnings = result.stderr.splitlines()
    if command == "inspect":
        assert warnings == [(f"inspector: warning: {header_at_the_cap}: 150,000 tensors"
                             " (0 values) match no generic name pattern: 't000000', 't000001',"
                             " 't000002' and 149,997 more; counted as 'unmapped'")]
    else:
        assert len(warnings) == 1 and "heads table not written" in warnings[0]
        lines = (tmp_path / "tables" / "tensors.csv").read_text().splitlines()
        assert len(lines) == 1 + 150_000  # the header row and one row a tensor


# --- terminal safety --------------------------------------------------------------------------

def test_control_characters_in_names_are_shown_not_obeyed(tmp_path):
    """A tensor named with a newline, a clear-screen escape and a right-to-left override: the
    warning is one line, and the table shows the name escaped."""
    from malformed_files import raw_safetensors

    name = "x\n\x1b[2Jchecks passed\u202e"
    path = raw_safetensors(tmp_path / "model.safetensors",
                           {name: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                           bytes(4))
    result = run_cli("inspect", path, "--by", "tensor")
    assert result.returncode == 0, result.stderr
    shown = "x\\n\\x1b[2Jchecks passed\\u202e"
    assert result.stderr.splitlines() == [
        (f"inspector: warning: {path}: 1 tensors (1 values) match no generic name pattern:"
         f" '{shown}'; counted as 'unmapped'")]
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert shown in result.stdout


def test_interrupt_is_one_line_and_exit_130(tmp_path, header_at_the_cap):
    """Ctrl-C while a command works: `inspector: interrupted`, nothing before it, exit 130. The
    header's parse is held until the signal comes (reading 150,000 tensors now takes less than
    any sleep here could be sure of), so the signal always lands inside main()'s work."""
    # (Ctrl-C's handler set in the child: a suite started in the background, `pytest &`,
    # passes SIGINT down ignored, as a shell does for background jobs)
    code = ("import signal, sys, time\nimport inspector.formats.safetensors as reader\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "parse = reader.parse_header\n"
            "def held(*args):\n    print('reading', flush=True)\n    time.sleep(60)\n"
            "    return parse(*args)\n"
            "reader.parse_header = held\nfrom inspector.cli.main import main\n"
            f"sys.argv = ['inspector', 'inspect', {str(header_at_the_cap)!r}]\nmain()\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, text=True)
    assert child.stdout.readline() == "reading\n"  # inside main(), reading the header
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    assert stderr == "inspector: interrupted\n"


def test_plot_with_an_unwritable_home_prints_nothing_of_matplotlib(tmp_path):
    """HOME below a file: matplotlib cannot make its config folder there, and says nothing."""
    pytest.importorskip("matplotlib")
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env.update(HOME=str(blocker / "home"), PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "inspector", "plot", "shares", "gpt2-124m",
                             "--out", tmp_path / "shares.png"], capture_output=True, text=True,
                            env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "shares.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- an export folder holds one run's tables --------------------------------------------------

def test_leftovers_of_a_killed_export_are_removed_by_the_next(tmp_path):
    """A run killed outright (SIGKILL) leaves its temporary files; the next export to the same
    folder removes those of the tables it writes, and leaves other files alone."""
    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    out.mkdir()
    leftovers = [".roles.csv.k3j2.partial", ".tensors.csv.x9.partial", ".layers.csv.1-0.previous"]
    for name in leftovers:
        (out / name).write_text("half a table")
    (out / "notes.txt").write_text("mine")
    result = run_cli("export", source, "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "notes.txt", "roles.csv",
                                                     "tensors.csv"]


def test_a_killed_export_is_cleaned_up_by_the_next(tmp_path, header_at_the_cap):
    """The real thing: SIGKILL while the tensors table is being written, then a second export."""
    out = tmp_path / "tables"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-m", "inspector", "export", header_at_the_cap,
                              "--out", out], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".*.partial")):
        time.sleep(0.01)
    child.kill()
    child.wait()
    if not list(out.glob(".*.partial")):
        pytest.skip("the export finished before it could be killed mid-write")
    write_tiny_gpt2(tmp_path / "model.safetensors")
    result = run_cli("export", tmp_path / "model.safetensors", "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "roles.csv", "tensors.csv"]


def test_a_table_an_export_cannot_write_is_not_left_from_an_earlier_run(tmp_path):
    """With a head count the tiny GPT-2 has a heads table; exported again without one, the old
    heads.csv is removed with the rest replaced: the folder holds one run's set."""
    from conftest import tiny_spec_yaml

    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    first = run_cli("export", source, "--out", out, "--spec", tiny_spec_yaml(tmp_path / "s.yaml"))
    assert first.returncode == 0 and (out / "heads.csv").is_file(), first.stderr
    second = run_cli("export", source, "--out", out)
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "roles.csv", "tensors.csv"]


def test_two_exports_into_one_folder_take_turns(tmp_path):
    """While another writer holds the folder's lock, an export waits and writes nothing; it
    completes once the lock is released."""
    import fcntl

    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-m", "inspector", "export", source, "--out", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        time.sleep(8)
        assert child.poll() is None, child.communicate()
        assert list(out.iterdir()) == []
    finally:
        os.close(fd)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "roles.csv", "tensors.csv"]
