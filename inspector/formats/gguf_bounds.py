"""A bounds walk over a GGUF header before the `gguf` package reads it.

GGUFReader trusts the counts it reads: a corrupt array length of 2**62 one-byte items makes it loop
(and allocate a view per item) forever, because it slices its memory map without checking that
the slice is as long as asked. This walk reads the same header with struct, checks every count
and length against the bytes that remain, and refuses the file before anything is allocated.
It decodes nothing and keeps nothing: GGUFReader still does the reading.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from inspector.errors import CheckpointError

SUPPORTED_VERSIONS = (2, 3)  # what gguf's GGUFReader reads (v1 had 32-bit counts)
MAX_DIMS = 4  # GGML_MAX_DIMS: llama.cpp refuses a tensor with more
# GGUFReader builds numpy views item by item (~10 us and ~700 bytes each), so items cost time and
# memory even when the file is small: a 2 MB array of 2**21 bytes took 22 s and 1.5 GB. Real files
# hold far fewer: tokens, merges, scores and types of a 262,144 vocabulary are about a million.
MAX_ARRAY_ITEMS = 1 << 21  # in all the metadata arrays of a file together
MAX_TENSORS = 1 << 16  # ~300 in SmolLM2, ~1,100 in a 405B Llama; read one by one as well
MAX_NESTING = 8  # arrays of arrays: GGUF allows them, no writer goes deep

# GGUFValueType -> bytes of one item; STRING (8) and ARRAY (9) are walked.
SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9


class _Walk:
    def __init__(self, path: Path, data: mmap.mmap | bytes):
        self.path, self.data, self.pos = path, data, 0
        self.order = "<"
        self.items = 0  # array items so far, against MAX_ARRAY_ITEMS

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(self.path, f"truncated or corrupt GGUF header: {what} (file is"
                                          f" {len(self.data):,} bytes)")

    def take(self, fmt: str, what: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise self.fail(f"{what} at byte {self.pos:,} runs past the end")
        (value,) = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += size
        return value

    def skip(self, n: int, what: str) -> None:
        if n > len(self.data) - self.pos:
            raise self.fail(f"{what} ({n:,} bytes at byte {self.pos:,}) runs past the end")
        self.pos += n

    def string(self, what: str) -> str:
        """Skip a string; return its first bytes, readable, for messages."""
        start = self.pos + 8
        self.skip(self.take("Q", f"length of {what}"), what)
        return bytes(self.data[start:min(self.pos, start + 80)]).decode("utf-8", "replace")

    def value(self, kind: int, key: str, depth: int = 0) -> None:
        if kind in SCALAR_BYTES:
            self.skip(SCALAR_BYTES[kind], f"value of '{key}'")
        elif kind == STRING:
            self.string(f"value of '{key}'")
        elif kind == ARRAY:
            item = self.take("I", f"item type of '{key}'")
            count = self.take("Q", f"length of '{key}'")
            self.items += count
            if self.items > MAX_ARRAY_ITEMS:
                raise self.fail(f"array '{key}' claims {count:,} items, more than the"
                                f" {MAX_ARRAY_ITEMS:,} array items in all that are read")
            if item in SCALAR_BYTES:
                self.skip(count * SCALAR_BYTES[item], f"array '{key}' of {count:,} items")
            elif item in (STRING, ARRAY) and depth < MAX_NESTING:
                least = 8 if item == STRING else 12  # a length, or an item type and a length
                if count * least > len(self.data) - self.pos:
                    raise self.fail(f"array '{key}' of {count:,} items cannot fit in the"
                                    f" {len(self.data) - self.pos:,} bytes left")
                for _ in range(count):
                    self.value(item, key, depth + 1)
            else:
                raise self.fail(f"array '{key}' has item type {item} (unknown, or nested deeper"
                                f" than {MAX_NESTING})")
        else:
            raise self.fail(f"'{key}' has value type {kind}, which GGUF does not define")


def check_bounds(path: str | Path) -> None:
    """Refuse, with a CheckpointError naming the file, any GGUF header whose counts or lengths
    overrun the file. The caller has already checked the magic."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _walk(_Walk(Path(path), data))
    except (OSError, ValueError) as e:  # ValueError: mmap of an empty file
        raise CheckpointError(path, f"cannot read: {getattr(e, 'strerror', None) or e}") from e


def _walk(w: _Walk) -> None:
    w.pos = 4  # past the magic
    version = w.take("I", "version")
    if version & 0xFFFF == 0:  # written on a big-endian machine (GGUFReader reads those too)
        w.order, version = ">", struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in SUPPORTED_VERSIONS:
        raise w.fail(f"version {version} (this reader reads versions 2 and 3)")
    n_tensors = w.take("Q", "tensor count")
    n_kv = w.take("Q", "metadata count")
    left = len(w.data) - w.pos
    # The least each entry can take: a key (8-byte length) + a type (4) + a one-byte value; a
    # tensor: a name length (8) + n_dims (4) + type (4) + offset (8).
    if n_tensors > MAX_TENSORS:
        raise w.fail(f"{n_tensors:,} tensors, more than the {MAX_TENSORS:,} that are read")
    if n_kv * 13 > left or n_tensors * 24 > left:
        raise w.fail(f"{n_kv:,} metadata entries and {n_tensors:,} tensors cannot fit in the"
                     f" {left:,} bytes after the counts")
    for i in range(n_kv):
        key = w.string(f"key of metadata entry {i}")
        w.value(w.take("I", f"type of '{key}'"), key)
    for i in range(n_tensors):
        name = w.string(f"name of tensor {i}")
        n_dims = w.take("I", f"dims count of tensor '{name}'")
        if n_dims > MAX_DIMS:
            raise w.fail(f"tensor '{name}' has {n_dims:,} dims (GGML allows at most {MAX_DIMS})")
        w.skip(8 * n_dims + 4, f"dims and type of tensor '{name}'")
        offset = w.take("Q", f"data offset of tensor '{name}'")
        if offset >= len(w.data):  # GGUFReader adds it to the data start in uint64: 2**64 - 200
            # would wrap around to a small offset and point the tensor into the header
            raise w.fail(f"tensor '{name}' has data offset {offset:,}, past the end of the file")
