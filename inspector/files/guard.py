"""Never write over what was read: every file and folder a command reads is noted by its
(device, inode), and every write first checks that its target is none of them.

Files are recognised by their bytes, not their names, so any name may be a checkpoint:
`inspector export DIR/roles.csv --out DIR` reads a safetensors file that happens to be called
roles.csv, and writing the roles table would replace it. Comparing (st_dev, st_ino) instead of
paths sees through symlinks, hard links, `..` and bind mounts alike. A folder read as a
checkpoint (or a hub snapshot) is not written into either, at any depth.
"""

from __future__ import annotations

import os
from pathlib import Path

from inspector.errors import UsageError

_files: dict[tuple[int, int], str] = {}  # (st_dev, st_ino) -> the path it was read as
_folders: dict[tuple[int, int], str] = {}


def forget_reads() -> None:
    """A new command starts: nothing read yet."""
    _files.clear()
    _folders.clear()


def note_read(path: str | os.PathLike) -> None:
    """`path` is read by this command (a file, or a folder read as a checkpoint)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return  # the reader reports it: nothing to protect
    (_folders if os.path.isdir(path) else _files)[(st.st_dev, st.st_ino)] = str(path)


def check_folder(out_dir: Path) -> None:
    """Refuse an output folder that is, or lies inside, a folder this command reads, or that
    is a file it reads. Parts of `out_dir` not yet created are judged by what they would be
    created in."""
    existing = out_dir
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    try:
        real = Path(os.path.realpath(existing))
    except (OSError, ValueError):
        return
    for folder in (real, *real.parents):
        key = _key(folder)
        if key in _folders:
            where = "is the folder" if folder == real and existing == out_dir else "is inside"
            raise UsageError(out_dir, f"{where} {_folders[key]}, which this command reads;"
                                      " write the output somewhere else")
        if key in _files:
            raise UsageError(out_dir, f"is {_files[key]}, which this command reads; write the"
                                      " output somewhere else")


def check_file(target: Path) -> None:
    """Refuse to replace a file this command reads (or to write into a folder it reads)."""
    check_folder(target.parent)
    key = _key(target)
    if key in _files:
        raise UsageError(target, f"is {_files[key]}, which this command reads; replacing it"
                                 " would destroy the input: write the output somewhere else")
    if key in _folders:
        raise UsageError(target, f"is the folder {_folders[key]}, which this command reads")


def _key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino
