"""What inspector has read from the hub, kept on disk so that it is read once.

Two kinds of entries, under INSPECTOR_CACHE (default: $XDG_CACHE_HOME/inspector, else
~/.cache/inspector):

- `info/<repo>/<revision>.json`: the model info that answered for a revision (its commit, the
  files with their sizes and etags, the hub's safetensors totals). Stored under the commit and
  under the name asked (a branch), so HF_HUB_OFFLINE=1 can resolve that name without the hub.
- `heads/<etag>`: the first bytes of a file (a safetensors or GGUF header, or a whole config.json
  or index), after a record of what they are: MAGIC, the file's etag and full size, and the
  sha256 of all three. An etag is the hash of the file's content, so an entry never goes stale: a
  new revision with other bytes has another etag.

An entry is trusted no more than a download: it is read only when it is a regular file of a
bounded size (a link to /dev/zero, a FIFO or a 3 GB sparse file is not read), an info entry goes
through the bounded JSON reader and the model info's own checks, and a head entry must hold the
etag it is filed under, the size the model info gives the file, and bytes that match their
digest. An entry that fails is removed and read again from the hub, with one warning naming the
cache (not the hub's file) as the cause: a damaged entry costs one read, not every later run.

Entries are written to a temporary name and renamed into place: a reader never sees half of one,
and a cache that cannot be written only costs a second read next time.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.files.bounded_json import MAX_JSON_BYTES, parse_json
from inspector.files.regular import BadFile, read_regular
from inspector.formats.hub_info import BadRecord, checked
from inspector.terminal import escape

SAFE = re.compile(r"[^A-Za-z0-9._-]")
MAGIC = b"inspector-head-1\n"
DIGEST = 32
# The largest head kept: an index (256 MiB, inspector.formats.index.MAX_INDEX_BYTES), a
# safetensors header (100 MB), a GGUF header or a small file (64 MiB).
MAX_HEAD_BYTES = 256 << 20
MAX_ENTRY_BYTES = MAX_HEAD_BYTES + 4096

_warned = False  # one warning per command, for the first damaged entry


def root() -> Path:
    configured = os.environ.get("INSPECTOR_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inspector"


def _info_path(repo_id: str, revision: str) -> Path:
    return root() / "info" / SAFE.sub("_", repo_id.replace("/", "--")) / f"{SAFE.sub('_', revision)}.json"


def load_info(repo_id: str, revision: str) -> dict | None:
    """The record kept for a revision, or None (a damaged one is dropped, with a warning)."""
    path = _info_path(repo_id, revision)
    raw = _entry(path, MAX_JSON_BYTES, repo_id)
    if raw is None:
        return None
    try:
        return checked(parse_json(raw, path, CheckpointError, "not JSON", "the entry"))
    except CheckpointError as e:
        return _drop(path, repo_id, e.cause)
    except BadRecord as e:
        return _drop(path, repo_id, f"its model info {e}")


def save_info(repo_id: str, revision: str, info: dict) -> None:
    data = json.dumps(info).encode()
    for name in {revision, info["sha"]}:
        _write(_info_path(repo_id, name), data)


def _head_path(etag: str) -> Path:
    return root() / "heads" / SAFE.sub("_", etag)


def load_head(etag: str | None, size: int | None, where: str) -> tuple[int, bytes] | None:
    """(the file's size, its first bytes as stored) when the entry filed under `etag` is whole and
    records `etag` and `size` (the file's size by the model info; None: not known), else None."""
    if not etag:
        return None
    path = _head_path(etag)
    raw = _entry(path, MAX_ENTRY_BYTES, where)
    if raw is None:
        return None
    try:
        recorded_etag, recorded_size, head = _unpacked(raw)
    except ValueError as e:
        return _drop(path, where, str(e))
    if recorded_etag != etag:
        return _drop(path, where, "it records another file's etag")
    if size is not None and recorded_size != size:
        return _drop(path, where, f"it records a file of {recorded_size:,} bytes, the hub's"
                                  f" {size:,}")
    return recorded_size, head


def save_head(etag: str | None, size: int, head: bytes) -> None:
    if etag and len(head) <= MAX_HEAD_BYTES:
        _write(_head_path(etag), _packed(etag, size, head))


def _packed(etag: str, size: int, head: bytes) -> bytes:
    record = struct.pack("<QH", size, len(etag.encode())) + etag.encode()
    return MAGIC + record + hashlib.sha256(record + head).digest() + head


def _unpacked(raw: bytes) -> tuple[str, int, bytes]:
    """(etag, size, head) of an entry, or ValueError saying what is wrong with it."""
    start = len(MAGIC)
    if not raw.startswith(MAGIC) or len(raw) < start + 10:
        raise ValueError("it is not an entry of this version")
    size, etag_length = struct.unpack("<QH", raw[start:start + 10])
    record = raw[start:start + 10 + etag_length]
    digest = raw[start + len(record):start + len(record) + DIGEST]
    head = raw[start + len(record) + DIGEST:]
    if len(digest) < DIGEST or hashlib.sha256(record + head).digest() != digest:
        raise ValueError("its bytes do not match their digest")
    try:
        return record[10:].decode(), size, head
    except UnicodeDecodeError:
        raise ValueError("its etag is not text") from None


def _entry(path: Path, limit: int, where: str) -> bytes | None:
    """An entry's bytes; None when there is none, or when it is not a regular file of at most
    `limit` bytes (then it is dropped)."""
    try:
        return read_regular(path, limit)
    except BadFile as e:
        if not os.path.lexists(path) or isinstance(e.__cause__, OSError) and \
                e.__cause__.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        return _drop(path, where, e.reason)


def _drop(path: Path, where: str, why: str) -> None:
    """Remove a damaged entry and say so, once a command."""
    global _warned
    try:
        os.unlink(path)
    except OSError:
        pass  # a read-only cache: read from the hub every time, still correct
    if not _warned:
        from huggingface_hub import is_offline_mode

        _warned = True
        entry = escape(str(path.relative_to(root()) if path.is_relative_to(root()) else path))
        then = "to be read again from the hub" if is_offline_mode() else "read again from the hub"
        print(f"inspector: warning: inspector's cache ({escape(str(root()))}) held a damaged"
              f" entry for {escape(where)} ({entry}: {escape(why)}): dropped, {then}",
              file=sys.stderr)


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError:
        pass  # a read-only cache: the next call reads from the hub again


def write_entry(path: Path, data: bytes) -> None:
    """Write a cache entry whole or not at all (a read-only cache is only slower next time)."""
    _write(path, data)
