"""Hostile pickles: a .bin/.pt is only ever read with torch.load(weights_only=True). A pickle that
calls anything else is refused with a message naming the file and the global it wanted, and the
test proves that nothing ran: the command the pickle carries would create a marker file."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import pytest
from conftest import run_cli
from malformed_files import assert_refused

torch = pytest.importorskip("torch")

SYSTEM = f"{os.system.__module__}.system"  # posix.system on Linux: what the pickle names


class RunsACommand:
    """Unpickling this calls os.system(command): the classic malicious checkpoint."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _zip_checkpoint(path, marker):
    torch.save({"wte.weight": torch.zeros(4, 2), "x": RunsACommand(f"touch {marker}")}, path)


def _legacy_checkpoint(path, marker):
    """torch.save's pre-1.6 format: a stream of pickles, no zip."""
    torch.save({"wte.weight": torch.zeros(4, 2), "x": RunsACommand(f"touch {marker}")}, path,
               _use_new_zipfile_serialization=False)


def _plain_pickle(path, marker, protocol=2):
    """Not torch at all: pickle.dump of a dict, as a careless (or hostile) script writes it."""
    path.write_bytes(pickle.dumps({"wte.weight": RunsACommand(f"touch {marker}")},
                                  protocol=protocol))


def _plain_pickle_4(path, marker):
    """Protocol 4 frames its opcodes: the weights-only unpickler stops at the first frame."""
    _plain_pickle(path, marker, protocol=4)


def _hand_made_zip(path, marker):
    """The zip layout torch writes (archive/data.pkl, archive/version) around a hand-written
    pickle that calls builtins.exec: no class of ours involved."""
    code = f"open({str(marker)!r}, 'w').close()"
    payload = b"cbuiltins\nexec\n(V" + code.encode() + b"\ntR."
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/byteorder", "little")


NEEDS = "the pickle needs the global"
HOSTILE = {
    "torch-zip": (_zip_checkpoint, f"{NEEDS} {SYSTEM}"),
    "torch-legacy": (_legacy_checkpoint, f"{NEEDS} {SYSTEM}"),
    "plain-pickle": (_plain_pickle, f"{NEEDS} {SYSTEM}"),
    "plain-pickle-protocol-4": (_plain_pickle_4, "Unsupported operand 149"),
    "hand-made-zip": (_hand_made_zip, f"{NEEDS} exec"),  # torch names a builtin without module
}


@pytest.mark.parametrize("case,suffix", [(case, ".bin") for case in HOSTILE]
                         + [("torch-legacy", ".pt")])
def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path, case, suffix):
    make, why = HOSTILE[case]
    marker = tmp_path / "pwned"
    path = tmp_path / f"model{suffix}"
    make(path, marker)
    assert not marker.exists()
    line = assert_refused(run_cli("inspect", path), path.name,
                          "refused by torch.load(weights_only=True)", why)
    assert "weights_only=False" not in line  # never advise the unsafe load
    assert not marker.exists()


@pytest.mark.parametrize("case", HOSTILE)
def test_the_payloads_are_live(tmp_path, case):
    """The control: an unrestricted load of the same file does run the command. (Done here, on
    purpose, to show that the refusal above is what keeps the marker away.)"""
    make, _ = HOSTILE[case]
    marker = tmp_path / "pwned"
    path = tmp_path / "model.bin"
    make(path, marker)
    if case.startswith("plain-pickle"):  # not torch's format: torch.load cannot start on it
        with open(path, "rb") as f:
            pickle.load(f)
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("command", ["check", "export", "folder"])
def test_every_entry_point_refuses(tmp_path, command):
    """check, export and a folder holding pytorch_model.bin reach the same reader."""
    from conftest import tiny_spec_yaml

    marker = tmp_path / "pwned"
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "pytorch_model.bin"
    _zip_checkpoint(path, marker)
    out = tmp_path / "tables"
    args = {"check": ["check", path, "--spec", tiny_spec_yaml(tmp_path / "tiny.yaml")],
            "export": ["export", path, "--out", out],
            "folder": ["inspect", folder]}[command]
    assert_refused(run_cli(*args), "pytorch_model.bin", f"the pickle needs the global {SYSTEM}")
    assert not marker.exists() and not out.exists()


def test_a_pickle_that_is_not_a_checkpoint(tmp_path):
    """A harmless pickle of plain data, but not torch's format: refused, named."""
    path = tmp_path / "notes.pt"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=2))
    assert_refused(run_cli("inspect", path), "notes.pt", "torch.load cannot read it",
                   "not a PyTorch checkpoint")


def test_a_checkpoint_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    assert_refused(run_cli("inspect", path), "list.pt", "holds a list, not a state dict")


def test_a_truncated_torch_zip(tmp_path):
    """An interrupted download: the zip's central directory (at its end) is missing."""
    buffer = io.BytesIO()
    torch.save({"wte.weight": torch.zeros(64, 8)}, buffer)
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(buffer.getvalue()[:1000])
    assert_refused(run_cli("inspect", path), "pytorch_model.bin", "torch.load cannot read it",
                   "truncated or not a PyTorch checkpoint")


def test_bytes_that_are_neither_zip_nor_pickle(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 64)
    assert_refused(run_cli("inspect", path), "model.bin", "not a PyTorch checkpoint")


def test_a_plain_state_dict_is_read(tmp_path):
    """The control: a state dict of tensors (what torch.save of model.state_dict() writes)."""
    path = tmp_path / "model.bin"
    torch.save({"wte.weight": torch.zeros(4, 2)}, path)
    result = run_cli("inspect", path, "--format", "json")
    assert result.returncode == 0, result.stderr
