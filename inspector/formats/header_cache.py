"""What inspector has read from the hub, kept on disk so that it is read once.

Two kinds of entries, under INSPECTOR_CACHE (default: $XDG_CACHE_HOME/inspector, else
~/.cache/inspector):

- `info/<repo>/<revision>.json`: the model info that answered for a revision (its commit, the
  files with their sizes and etags, the hub's safetensors totals). Stored under the commit and
  under the name asked (a branch), so HF_HUB_OFFLINE=1 can resolve that name without the hub.
- `blobs/<etag>`: the first bytes of a file (a safetensors or GGUF header, or a whole config.json
  or index), preceded by the file's full size as 8 bytes little-endian. An etag is the hash of the
  file's content, so an entry never goes stale: a new revision with other bytes has another etag.

Entries are written to a temporary name and renamed into place: a reader never sees half of one,
and a cache that cannot be written only costs a second read next time.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
from pathlib import Path

SAFE = re.compile(r"[^A-Za-z0-9._-]")


def root() -> Path:
    configured = os.environ.get("INSPECTOR_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inspector"


def _info_path(repo_id: str, revision: str) -> Path:
    return root() / "info" / SAFE.sub("_", repo_id.replace("/", "--")) / f"{SAFE.sub('_', revision)}.json"


def load_info(repo_id: str, revision: str) -> dict | None:
    try:
        info = json.loads(_info_path(repo_id, revision).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("sha"), str) else None


def save_info(repo_id: str, revision: str, info: dict) -> None:
    data = json.dumps(info).encode()
    for name in {revision, info["sha"]}:
        _write(_info_path(repo_id, name), data)


def _blob_path(etag: str) -> Path:
    return root() / "blobs" / SAFE.sub("_", etag)


def load_blob(etag: str | None) -> tuple[int, bytes] | None:
    """(the file's size, its first bytes as stored), or None when not cached."""
    if not etag:
        return None
    try:
        data = _blob_path(etag).read_bytes()
    except OSError:
        return None
    if len(data) < 8:
        return None
    return struct.unpack("<Q", data[:8])[0], data[8:]


def save_blob(etag: str | None, size: int, head: bytes) -> None:
    if etag:
        _write(_blob_path(etag), struct.pack("<Q", size) + head)


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
