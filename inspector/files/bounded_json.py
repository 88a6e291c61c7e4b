"""JSON read within bounds, every way it can fail turned into one InspectorError that names the
file: too large, unreadable, not UTF-8, not JSON, a NaN literal, or nested past Python's recursion
limit.

Bounds come before parsing: a file's size is read from the file system (a sparse 1.5 GB
config.json is refused without reading a byte of it), and the values the text can hold are counted
by their separators (`{`, `[` and `,`, a C-speed byte count) so that a few megabytes of `{},{},...`
cannot turn into millions of Python objects. Each value costs json at most a few hundred bytes, so
MAX_JSON_VALUES bounds the memory a parse can take.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from inspector.errors import InspectorError
from inspector.files.guard import note_read
from inspector.files.regular import not_regular

# A config.json is a few kilobytes (a compressed-tensors one with long ignore lists a few MB).
# A safetensors index has a bound of its own (inspector.formats.index.MAX_INDEX_BYTES).
MAX_JSON_BYTES = 64 * 1024 * 1024
# JSON values (objects, arrays and their items) one text may hold. A safetensors header spends about
# 7 on each tensor of one dim (`{`, two `[`, three commas, one between tensors) and 10 on one of
# four, so 4,000,000 leaves room for MAX_TENSORS of them; the 100 MB cap would hold 1.37 million
# tensors: 9.6 million values.
MAX_JSON_VALUES = 4_000_000


def read_json(path: Path, error: type[InspectorError], what: str = "JSON file",
              max_bytes: int = MAX_JSON_BYTES, max_values: int = MAX_JSON_VALUES,
              kind: str = "a JSON file") -> object:
    """The value in `path`; on failure `error(path, "not a readable <what>: <why>")`, so a spec
    reader raises SpecError and a checkpoint reader CheckpointError. The bounds are those of
    `kind` (an index has its own)."""
    note_read(path)
    try:
        # O_NONBLOCK: a FIFO opens at once (and is refused below) instead of waiting for a writer.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise error(path, f"not a readable {what}: {not_regular(st.st_mode)}")
            size = st.st_size
            if size > max_bytes:
                raise error(path, f"not a readable {what}: {size:,} bytes, over the"
                                  f" {max_bytes:,}-byte limit for {kind}")
            raw = f.read(max_bytes + 1)  # a file growing as we read stays bounded too
    except OSError as e:
        raise error(path, f"not a readable {what}: {e.strerror or e}") from e
    if len(raw) > max_bytes:
        raise error(path, f"not a readable {what}: over the {max_bytes:,}-byte limit for {kind}")
    return parse_json(raw, path, error, f"not a readable {what}", f"the {what}", max_values)


def parse_json(raw: bytes, path: object, error: type[InspectorError], prefix: str,
               what: str, max_values: int = MAX_JSON_VALUES) -> object:
    """`raw` (UTF-8 JSON) parsed, or `error(path, "<prefix>: <why>")`, or, past the bound,
    `error(path, "<what> holds about N JSON values ...")`. NaN and Infinity are
    refused: they are not JSON (RFC 8259), and Rust's serde_json, which the safetensors library
    and transformers' tokenizers parse with, refuses them."""
    values = raw.count(b"{") + raw.count(b"[") + raw.count(b",")
    if values > max_values:
        raise error(path, f"{what} holds about {values:,} JSON values, more than the"
                          f" {max_values:,} read")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as e:
        raise error(path, f"{prefix}: {e}") from e
    except RecursionError as e:
        deep = "nested too deeply" if "JSON" in prefix else "JSON nested too deeply"  # JSON once
        raise error(path, f"{prefix}: {deep}") from e


def _not_json(literal: str) -> object:
    raise ValueError(f"{literal} is not a JSON value")
