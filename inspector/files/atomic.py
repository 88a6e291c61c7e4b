"""Files written whole or not at all, never over what the command reads, one run at a time.

Each file is staged in a temporary file in the target folder, and only when every one is complete
are they renamed into place (os.replace is atomic on one filesystem); a rename that fails part way
puts back the files already replaced. An interrupt leaves the old files or the new ones, never a
part, and never a mix of two runs: writers to one folder take turns (an exclusive flock on the
folder), and a run killed outright (SIGKILL, power loss) leaves temporary files that the next run
into the same folder removes, since under the lock no other run can own them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from inspector.errors import InspectorError
from inspector.files.guard import check_file, check_folder

STAGED, KEPT = ".partial", ".previous"  # suffixes of a new file being written, an old one kept


def make_folder(out_dir: Path) -> None:
    """`out_dir` and its parents exist, or an InspectorError says why not. A folder the command
    reads (or one inside it) is refused before anything is created."""
    check_folder(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InspectorError(out_dir, "is a file, not a folder: --out names the folder to write"
                                      " into")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InspectorError(out_dir, f"cannot create the output folder: {e.strerror or e}") from e


def write_atomically(out_dir: Path, writers: dict[str, Callable[[Path], object]],
                     what: str, remove: tuple[str, ...] = ()) -> list[Path]:
    """Each writer fills the temporary path it is given; then every file is renamed to its name
    in `out_dir`, and the files named in `remove` (an earlier run's part of the same set that
    this run does not write) are deleted. An OSError becomes "cannot write the <what>"; whatever
    is raised (an interrupt too), no temporary file is left behind. Returns the final paths, in
    the writers' order."""
    for name in (*writers, *remove):
        check_file(out_dir / name)
    staged: list[tuple[Path, Path]] = []
    try:
        with _one_writer(out_dir):
            _remove_leftovers(out_dir, (*writers, *remove))
            for name, write in writers.items():
                fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=STAGED)
                os.close(fd)
                staged.append((Path(tmp), out_dir / name))
                write(Path(tmp))
                os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file should not be
            _replace_all(staged)
            for name in remove:
                (out_dir / name).unlink(missing_ok=True)
    except OSError as e:
        raise InspectorError(out_dir, f"cannot write the {what}: {e.strerror or e}") from e
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [final for _, final in staged]


def _replace_all(staged: list[tuple[Path, Path]]) -> None:
    """Rename every staged file into place; if one rename fails, the ones done are undone (each
    old file was kept under a hard link), so the folder holds one run's set."""
    kept: list[tuple[Path, Path | None]] = []  # (final, its old bytes' link or None: it was new)
    try:
        for tmp, final in staged:
            kept.append((final, _keep(final)))
            os.replace(tmp, final)
    except BaseException:
        for final, old in kept[:-1]:
            try:
                os.replace(old, final) if old else final.unlink(missing_ok=True)
            except OSError:
                pass  # best effort: the error being raised is the one to report
        raise
    finally:
        for _, old in kept:
            if old is not None:
                old.unlink(missing_ok=True)


def _keep(final: Path) -> Path | None:
    """A hard link to `final`'s present bytes, to put back if the set cannot be completed;
    None when there is none (or the filesystem has no hard links: then no undo)."""
    if not final.is_file():
        return None
    for attempt in range(100):
        link = final.with_name(f".{final.name}.{os.getpid()}-{attempt}{KEPT}")
        try:
            os.link(final, link)
            return link
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _remove_leftovers(out_dir: Path, names: tuple[str, ...]) -> None:
    """Temporary files of these names from a run that was killed before it could remove them."""
    for name in names:
        for suffix in (STAGED, KEPT):
            for leftover in out_dir.glob(f".{_glob_escape(name)}.*{suffix}"):
                leftover.unlink(missing_ok=True)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


@contextmanager
def _one_writer(out_dir: Path) -> Iterator[None]:
    """An exclusive lock on the folder for the whole write: a second run waits its turn."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the renames are still atomic one by one
        yield
        return
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _umask() -> int:
    """The process umask (only readable by setting it; set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
