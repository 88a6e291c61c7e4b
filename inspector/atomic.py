"""Files written whole or not at all: each is staged in a temporary file in the target folder,
and only when every one is complete are they renamed into place (os.replace is atomic on one
filesystem), so an interrupted run leaves the old files or the new ones, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from inspector.errors import InspectorError


def make_folder(out_dir: Path) -> None:
    """`out_dir` and its parents exist, or an InspectorError says why not."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InspectorError(out_dir, f"cannot create the output folder: {e.strerror or e}") from e


def write_atomically(out_dir: Path, writers: dict[str, Callable[[Path], object]],
                     what: str) -> list[Path]:
    """Each writer fills the temporary path it is given; then every file is renamed to its name
    in `out_dir`. An OSError becomes "cannot write the <what>"; whatever is raised (an interrupt
    too), no temporary file is left behind. Returns the final paths, in the writers' order."""
    staged: list[tuple[str, Path]] = []
    try:
        for name, write in writers.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".partial")
            os.close(fd)
            staged.append((tmp, out_dir / name))
            write(Path(tmp))
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file should not be
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as e:
        raise InspectorError(out_dir, f"cannot write the {what}: {e.strerror or e}") from e
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [final for _, final in staged]


def _umask() -> int:
    """The process umask (only readable by setting it; set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
