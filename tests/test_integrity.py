"""Nothing lost, nothing half-written.

1. Checkpoints are only read: every command runs under an audit hook that refuses any open for
   writing, rename, removal, truncation, chmod or utime of a path inside the checkpoint's folder,
   and every file there keeps its bytes (sha256), size, mtime and ctime, with no file added.
2. Exports and builds are written to temporary files and renamed into place: an unwritable
   target, a failing disk or an interrupt leaves the old files whole and no partial file behind.
3. A command never writes into what it reads (a checkpoint folder, its files, its config.json):
   the write guard refuses before the audit hook sees any write.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, tiny_spec_yaml, write_hole_safetensors
from malformed_files import assert_refused, tiny_gpt2_tensors, write_tiny_gguf, write_tiny_gpt2

# The CLI's own main(), under an audit hook that refuses every write to the protected folder.
AUDITED = r'''
import os, sys
protect = os.path.realpath(sys.argv[1])
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {"os.rename", "os.remove", "os.rmdir", "os.truncate", "os.chmod", "os.chown",
           "os.utime", "os.link", "os.symlink", "os.mkdir", "shutil.rmtree"}

def inside(path):
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real == protect or real.startswith(protect + os.sep)

def hook(event, args):
    if event == "open" and args and not isinstance(args[0], int) and inside(args[0]):
        mode, flags = args[1], args[2]
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & WRITE:
            raise PermissionError(f"audit: {args[0]} opened for writing ({mode!r}, {flags})")
    elif event in CHANGES and any(not isinstance(a, int) and a is not None and inside(a)
                                  for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))):
        raise PermissionError(f"audit: {event} {args[:2]}")

sys.addaudithook(hook)
sys.argv = ["inspector"] + sys.argv[2:]
from inspector.cli.main import main
main()
'''


def run_audited(protect: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("INSPECTOR_DEBUG", None)
    result = subprocess.run([sys.executable, "-c", AUDITED, str(protect), *map(str, args)],
                            capture_output=True, text=True, env=env, timeout=600, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def fingerprint(folder: Path) -> dict[str, tuple]:
    """Every file under `folder`: bytes, size, mtime and ctime (a chmod or utime changes ctime)."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        out[str(path.relative_to(folder))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                              st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


def _safetensors(folder: Path) -> Path:
    write_tiny_gpt2(folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, "n_embd": 32, "n_layer": 2,
         "n_head": 4}))
    return folder


def _sharded(folder: Path) -> Path:
    tensors = tiny_gpt2_tensors()
    names = list(tensors)
    weight_map = {}
    for i, part in enumerate((names[:10], names[10:])):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        write_hole_safetensors(folder / shard, {n: tensors[n] for n in part})
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return folder


def _gguf(folder: Path) -> Path:
    pytest.importorskip("gguf")
    write_tiny_gguf(folder / "tiny.gguf")
    return folder / "tiny.gguf"


def _pytorch(folder: Path) -> Path:
    torch = pytest.importorskip("torch")
    state = {name: torch.zeros(shape) for name, (_, shape) in tiny_gpt2_tensors().items()}
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def _commands(source: Path, spec: Path, out: Path, rich: bool) -> list[list]:
    """Every command that opens a checkpoint; the commands that read tensor values (stats, diff,
    plot norms) where this tree has them."""
    from inspector.cli.main import cli

    commands = [["inspect", source], ["export", source, "--out", out / "csv", "--spec", spec]]
    if not rich:
        return commands
    commands += [["inspect", source, "--by", "tensor", "--format", "json"],
                 ["inspect", source, "--by", "head", "--spec", spec],
                 ["check", source, "--spec", spec],
                 ["export", source, "--out", out / "json", "--format", "json"],
                 ["export", source, "--out", out / "parquet", "--format", "parquet"],
                 ["count", spec]]
    optional = {"report": ["report", source, "--spec", spec], "stats": ["stats", source],
                "diff": ["diff", source, source],
                "plot": ["plot", "norms", source, "--out", out / "norms.png"]}
    return commands + [args for name, args in optional.items() if name in cli.commands]


@pytest.mark.parametrize("form,rich", [("safetensors", True), ("sharded", False),
                                       ("gguf", False), ("pytorch", False)])
def test_commands_never_write_to_a_checkpoint(tmp_path, form, rich):
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    source = {"safetensors": _safetensors, "sharded": _sharded, "gguf": _gguf,
              "pytorch": _pytorch}[form](folder)
    spec = tiny_spec_yaml(tmp_path / "tiny.yaml")
    before, spec_before = fingerprint(folder), fingerprint(tmp_path)["tiny.yaml"]
    for args in _commands(source, spec, tmp_path / "out", rich):
        result = run_audited(folder, *args)
        assert "audit:" not in result.stderr, (args, result.stderr)
        assert result.returncode in (0, 1), (args, result.stderr)
        assert fingerprint(folder) == before, args
    assert fingerprint(tmp_path)["tiny.yaml"] == spec_before


def test_the_audit_hook_is_live(tmp_path):
    """The control: exporting a copy of the checkpoint into the protected folder is a write
    there (the command does not read that folder, so only the hook stops it)."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    _safetensors(folder)
    copy = write_tiny_gpt2(tmp_path / "copy.safetensors")
    result = run_audited(folder, "export", copy, "--out", folder / "tables")
    assert result.returncode == 2 and "audit:" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["export-into-it", "export-into-its-folder", "build-over-config",
                                     "plot-into-it"])
def test_writes_into_what_a_command_reads_are_refused_before_any_write(tmp_path, command):
    """Each command names the checkpoint (or its config.json) as input and a place inside it as
    output: refused in one line by the write guard before any write is tried (the hook saw none),
    and every file keeps its bytes, size and times."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    _safetensors(folder)
    args = {"export-into-it": ["export", folder, "--out", folder / "tables"],
            "export-into-its-folder": ["export", folder, "--out", folder],
            "build-over-config": ["build", folder / "config.json", "--out", folder],
            "plot-into-it": ["plot", "norms", folder, "--out", folder / "norms.png"]}[command]
    before = fingerprint(folder)
    result = run_audited(folder, *args)
    assert "audit:" not in result.stderr, result.stderr
    assert_refused(result, str(folder), "which this command reads")
    assert fingerprint(folder) == before


@pytest.mark.parametrize("failure", ["disk-full", "interrupt"])
def test_build_failing_while_writing_leaves_the_old_checkpoint(tmp_path, monkeypatch, capsys,
                                                               failure):
    """build writes config.json, then the disk fills up (or Ctrl-C) half way through
    model.safetensors: the checkpoint built before is whole, and nothing else is in the folder."""
    import safetensors.torch

    spec = tiny_spec_yaml(tmp_path / "tiny.yaml")
    out = tmp_path / "built"
    code, _, _ = run_main(monkeypatch, capsys, "build", spec, "--out", out, "--seed", "1")
    assert code == 0
    before = fingerprint(out)
    real_save = safetensors.torch.save_file

    def failing_save(tensors, path, metadata=None):
        Path(path).write_bytes(b"\x00" * 100)  # a torn write
        if failure == "disk-full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    code, _, stderr = run_main(monkeypatch, capsys, "build", spec, "--out", out, "--seed", "2")
    monkeypatch.setattr(safetensors.torch, "save_file", real_save)
    if failure == "disk-full":
        assert code == 2
        assert stderr.splitlines() == [
            f"inspector: error: {out}: cannot write the checkpoint: No space left on device"]
    else:
        assert code == 130 and stderr == "inspector: interrupted\n"
    assert fingerprint(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


def test_build_replaces_an_old_checkpoint_whole(tmp_path, monkeypatch, capsys):
    """The control: a second build with another seed replaces both files and leaves no other."""
    spec = tiny_spec_yaml(tmp_path / "tiny.yaml")
    out = tmp_path / "built"
    assert run_main(monkeypatch, capsys, "build", spec, "--out", out, "--seed", "1")[0] == 0
    before = fingerprint(out)
    assert run_main(monkeypatch, capsys, "build", spec, "--out", out, "--seed", "2")[0] == 0
    after = fingerprint(out)
    assert after["model.safetensors"][0] != before["model.safetensors"][0]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


# --- exports: whole or not at all ---------------------------------------------------------------

OLD = {f"{name}.csv": f"old {name}\n" for name in ("roles", "layers", "heads", "tensors")}


def _old_export(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in OLD.items():
        (out / name).write_text(text)


def run_main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """The CLI's main() in this process (so that a writer can be made to fail)."""
    from inspector.cli.main import main

    monkeypatch.setattr(sys, "argv", ["inspector", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


def test_export_replaces_the_old_tables_whole(tmp_path, monkeypatch, capsys):
    """The control: a good run replaces every old table and leaves nothing else behind."""
    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    _old_export(out)
    code, _, _ = run_main(monkeypatch, capsys, "export", source, "--out", out,
                               "--spec", tiny_spec_yaml(tmp_path / "tiny.yaml"))
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OLD)
    assert all((out / name).read_text() != text for name, text in OLD.items())
    assert (out / "roles.csv").read_text().startswith("role,")


@pytest.mark.parametrize("failure", ["disk-full", "interrupt"])
def test_export_failing_after_the_first_table_leaves_the_old_files(tmp_path, monkeypatch,
                                                                   capsys, failure):
    """The writer completes `roles`, writes half of `layers`, then the disk fills up (or the
    user presses Ctrl-C): every old table is intact and no partial file is left."""
    from inspector.output import export

    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    _old_export(out)
    real_write, calls = export._write, []

    def failing_write(rows, path, fmt):
        calls.append(path)
        if len(calls) == 1:
            return real_write(rows, path, fmt)
        path.write_text("role,weig")  # a torn write
        if failure == "disk-full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "_write", failing_write)
    code, _, stderr = run_main(monkeypatch, capsys, "export", source, "--out", out,
                                    "--spec", tiny_spec_yaml(tmp_path / "tiny.yaml"))
    assert len(calls) == 2
    if failure == "disk-full":
        assert code == 2
        assert stderr.splitlines() == [
            f"inspector: error: {out}: cannot write the export: No space left on device"]
    else:
        assert code == 130 and stderr.strip() == "inspector: interrupted"
    assert {p.name: p.read_text() for p in out.iterdir()} == OLD


def test_export_failing_while_renaming_leaves_the_old_set(tmp_path, monkeypatch, capsys):
    """A rename that fails part way (the second of four): the first is put back, so the folder
    holds the old run's tables, whole, and no temporary file remains."""
    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    _old_export(out)
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)  # as inspector.files.atomic calls it
    code, _, stderr = run_main(monkeypatch, capsys, "export", source, "--out", out,
                               "--spec", tiny_spec_yaml(tmp_path / "tiny.yaml"))
    assert code == 2 and len(stderr.splitlines()) == 1 and "Input/output error" in stderr
    assert {p.name: p.read_text() for p in out.iterdir()} == OLD  # the first rename undone


def _make_unwritable(folder: Path):
    """chmod 555; as root (which ignores modes) the immutable attribute instead. Returns the
    undo, or skips when neither stops a write here."""
    folder.chmod(0o555)
    try:
        (folder / ".probe").touch()
    except OSError:
        return lambda: folder.chmod(0o755)
    (folder / ".probe").unlink()
    folder.chmod(0o755)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("running as root and chattr +i is not available here")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_export_into_an_unwritable_folder(tmp_path):
    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    out = tmp_path / "tables"
    _old_export(out)
    undo = _make_unwritable(out)
    try:
        from conftest import run_cli

        result = run_cli("export", source, "--out", out, "--spec",
                         tiny_spec_yaml(tmp_path / "tiny.yaml"))
        assert_refused(result, str(out), "cannot write the export")
        assert {p.name: p.read_text() for p in out.iterdir()} == OLD
    finally:
        undo()


def test_export_below_a_file(tmp_path):
    """--out names a folder inside a regular file: it cannot be created."""
    from conftest import run_cli

    source = write_tiny_gpt2(tmp_path / "model.safetensors")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    result = run_cli("export", source, "--out", blocker / "tables", "--spec",
                     tiny_spec_yaml(tmp_path / "tiny.yaml"))
    assert_refused(result, "notes.txt", "cannot create the output folder")
    assert blocker.read_text() == "a file, not a folder"
