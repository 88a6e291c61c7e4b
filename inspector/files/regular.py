"""Files opened only when they are regular files of a bounded size.

A name may lead anywhere: a link to /dev/zero (endless bytes), a FIFO (an open that blocks until
a writer comes, and a read that never ends), a socket, a 3 GB sparse file. A cache entry or a
file in a folder is stat'ed through the descriptor that reads it, and read only when it is a
regular file within the caller's limit: opened with O_NONBLOCK, so that opening a FIFO returns at
once instead of waiting for a writer (the flag changes nothing for a regular file).
"""

from __future__ import annotations

import os
import stat


class BadFile(Exception):
    """A file that is not read: `reason` says why, on one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"))


def kind(mode: int) -> str:
    """What a file that is not regular is, in words."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def not_regular(mode: int) -> str:
    return f"not a regular file: it is {kind(mode)}"


def require_regular(path: str | os.PathLike) -> os.stat_result:
    """The file's stat (links followed), or BadFile when it is no regular file; nothing opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise BadFile(f"cannot read: {e.strerror or e}") from e
    if not stat.S_ISREG(st.st_mode):
        raise BadFile(not_regular(st.st_mode))
    return st


def require_small(path: str | os.PathLike, limit: int) -> None:
    """Nothing when `path` is absent, a folder, or a regular file of at most `limit` bytes (one
    that a library will read whole); else BadFile. Nothing is opened."""
    if not os.path.lexists(path) or os.path.isdir(path):
        return
    size = require_regular(path).st_size
    if size > limit:
        raise BadFile(f"{size:,} bytes, over the {limit:,} read")


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """All the bytes of a regular file of at most `limit` bytes, else BadFile; the size is
    checked before a byte is read, and the read stops at `limit` + 1 for a file that grows."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise BadFile(f"cannot read: {e.strerror or e}") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BadFile(not_regular(st.st_mode))
        if st.st_size > limit:
            raise BadFile(f"{st.st_size:,} bytes, over the {limit:,} read")
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise BadFile(f"cannot read: {e.strerror or e}") from e
    if len(data) > limit:
        raise BadFile(f"over the {limit:,} bytes read")
    return data
