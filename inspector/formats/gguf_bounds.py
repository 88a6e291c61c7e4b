"""A GGUF header walked with struct: every count and length checked against the bytes that
remain, the metadata kept, the tensor table read; nothing allocated for what nobody asks.

The `gguf` package's GGUFReader trusts the counts it reads (a corrupt array length of 2**62
one-byte items makes it loop, and allocate a view per item, forever) and builds a numpy view per
array item: SmolLM2's 49,152 tokenizer strings and 48,900 merges took it about 5 s and 196 MB.
This walk skips a long array after checking its bounds (its length and type are kept, as
{"array": TYPE, "length": n}), decodes the rest, and refuses a corrupt file before anything is
allocated. It reads the gguf package's own tables (value types, block sizes of each ggml type)
from gguf/constants.py alone, which imports nothing: importing the package would load numpy and
its reader, which is most of the time the walk saves.

The walk reads from `data`, which may be only the first bytes of a file of `size` bytes (a remote
file read by ranges): a read past `data` but inside `size` raises NeedMore, and the caller fetches
more and walks again.
"""

from __future__ import annotations

import importlib.util
import mmap
import struct
import sys
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

from inspector.errors import CheckpointError

SUPPORTED_VERSIONS = (2, 3)  # what gguf's GGUFReader reads (v1 had 32-bit counts)
MAX_DIMS = 4  # GGML_MAX_DIMS: llama.cpp refuses a tensor with more
# Real files hold far fewer: tokens, merges, scores and types of a 262,144 vocabulary are about a
# million. A bound on all the items of a file keeps a hostile one from costing minutes.
MAX_ARRAY_ITEMS = 1 << 21  # in all the metadata arrays of a file together
MAX_TENSORS = 1 << 16  # ~300 in SmolLM2, ~1,100 in a 405B Llama; read one by one as well
MAX_NESTING = 8  # arrays of arrays: GGUF allows them, no writer goes deep
LONGEST_KEPT_ARRAY = 64  # arrays up to this length are kept whole in the metadata
DEFAULT_ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT, unless general.alignment says otherwise

# GGUFValueType -> struct format of one item; STRING (8) and ARRAY (9) are walked.
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
           12: "d"}
STRING, ARRAY = 8, 9


class NeedMore(Exception):
    """The walk needs the file's bytes up to `end`, beyond the ones it was given."""

    def __init__(self, end: int):
        super().__init__(end)
        self.end = end


def constants():
    """gguf/constants.py, loaded on its own (see the module docstring)."""
    name = "inspector._gguf_constants"
    if name not in sys.modules:
        package = importlib.util.find_spec("gguf")
        if package is None or not package.submodule_search_locations:
            raise CheckpointError("gguf", "the gguf package is not installed (pip install gguf)")
        path = Path(package.submodule_search_locations[0]) / "constants.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class TensorEntry:
    name: str
    dims: tuple[int, ...]  # as GGUF lists them: fastest-varying first
    type: int  # GGMLQuantizationType
    offset: int  # from the start of the data region


@dataclass
class Header:
    metadata: dict = field(default_factory=dict)
    tensors: list[TensorEntry] = field(default_factory=list)
    data_start: int = 0  # where the data region begins (after the header, aligned)


class _Walk:
    def __init__(self, path: object, data: mmap.mmap | bytes, size: int):
        self.path, self.data, self.size, self.pos = path, data, size, 0
        self.order = "<"
        self.items = 0  # array items so far, against MAX_ARRAY_ITEMS

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(self.path, f"truncated or corrupt GGUF header: {what} (file is"
                                          f" {self.size:,} bytes)")

    def need(self, n: int, what: str) -> None:
        if n > self.size - self.pos:
            raise self.fail(f"{what} ({n:,} bytes at byte {self.pos:,}) runs past the end")
        if self.pos + n > len(self.data):
            raise NeedMore(self.pos + n)

    def take(self, fmt: str, what: str):
        size = struct.calcsize(fmt)
        if self.pos + size > self.size:
            raise self.fail(f"{what} at byte {self.pos:,} runs past the end")
        self.need(size, what)
        (value,) = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += size
        return value

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n

    def string(self, what: str, keep: bool = True) -> str | None:
        n = self.take("Q", f"length of {what}")
        start = self.pos
        self.skip(n, what)
        if not keep:
            return None
        try:
            return bytes(self.data[start:self.pos]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CheckpointError(self.path, f"GGUF metadata cannot be read ({what} is not"
                                             f" UTF-8: {e}): corrupt") from e

    def value(self, kind: int, key: str, keep: bool, depth: int = 0) -> object:
        if kind in SCALARS:
            value = self.take(SCALARS[kind], f"value of '{key}'")
            return value if keep else None
        if kind == STRING:
            return self.string(f"value of '{key}'", keep)
        if kind != ARRAY:
            raise self.fail(f"'{key}' has value type {kind}, which GGUF does not define")
        item = self.take("I", f"item type of '{key}'")
        count = self.take("Q", f"length of '{key}'")
        self.items += count
        if self.items > MAX_ARRAY_ITEMS:
            raise self.fail(f"array '{key}' claims {count:,} items, more than the"
                            f" {MAX_ARRAY_ITEMS:,} array items in all that are read")
        keep = keep and count <= LONGEST_KEPT_ARRAY
        if item in SCALARS:
            fmt = SCALARS[item]
            self.need(count * struct.calcsize(fmt), f"array '{key}' of {count:,} items")
            values = (list(struct.unpack_from(f"{self.order}{count}{fmt}", self.data, self.pos))
                      if keep else None)
            self.pos += count * struct.calcsize(fmt)
        elif item == STRING and not keep and self._skip_strings(count):
            values = None
        elif item in (STRING, ARRAY) and depth < MAX_NESTING:
            least = 8 if item == STRING else 12  # a length, or an item type and a length
            if count * least > self.size - self.pos:
                raise self.fail(f"array '{key}' of {count:,} items cannot fit in the"
                                f" {self.size - self.pos:,} bytes left")
            values = [self.value(item, key, keep, depth + 1) for _ in range(count)]
        else:
            raise self.fail(f"array '{key}' has item type {item} (unknown, or nested deeper"
                            f" than {MAX_NESTING})")
        if keep:
            return values
        names = {t.value: t.name for t in constants().GGUFValueType}
        return {"array": names.get(item, "ARRAY"), "length": count}


    def _skip_strings(self, count: int) -> bool:
        """Skip `count` strings in one tight loop (a tokenizer's 49,152 cost ~10 ms here, ~0.3 s
        through `value`); False, having moved nothing, when one would run past the end of the
        file: the item-by-item walk then says where. Past the bytes at hand but inside the file
        (a remote head), NeedMore at once: the slow walk would only reach the same end."""
        length = struct.Struct(self.order + "Q").unpack_from
        data, pos, have = self.data, self.pos, min(len(self.data), self.size)
        for _ in range(count):
            if pos + 8 > have:
                return self._more(pos + 8)
            pos += 8 + length(data, pos)[0]
        if pos > have:
            return self._more(pos)
        self.pos = pos
        return True

    def _more(self, end: int) -> bool:
        if end <= self.size:
            raise NeedMore(end)
        return False


def walk(path: object, data: mmap.mmap | bytes, size: int | None = None) -> Header:
    """The header of a GGUF file whose first bytes are `data` (all of it when `size` is None).
    The caller has already checked the magic."""
    w = _Walk(path, data, len(data) if size is None else size)
    w.pos = 4  # past the magic
    version = w.take("I", "version")
    if version & 0xFFFF == 0:  # written on a big-endian machine (GGUFReader reads those too)
        w.order, version = ">", struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in SUPPORTED_VERSIONS:
        raise w.fail(f"version {version} (this reader reads versions 2 and 3)")
    n_tensors = w.take("Q", "tensor count")
    n_kv = w.take("Q", "metadata count")
    left = w.size - w.pos
    # The least each entry can take: a key (8-byte length) + a type (4) + a one-byte value; a
    # tensor: a name length (8) + n_dims (4) + type (4) + offset (8).
    if n_tensors > MAX_TENSORS:
        raise w.fail(f"{n_tensors:,} tensors, more than the {MAX_TENSORS:,} that are read")
    if n_kv * 13 > left or n_tensors * 24 > left:
        raise w.fail(f"{n_kv:,} metadata entries and {n_tensors:,} tensors cannot fit in the"
                     f" {left:,} bytes after the counts")
    header = Header()
    for i in range(n_kv):
        key = w.string(f"key of metadata entry {i}")
        header.metadata[key] = w.value(w.take("I", f"type of '{key}'"), key, keep=True)
    for i in range(n_tensors):
        name = w.string(f"name of tensor {i}")
        n_dims = w.take("I", f"dims count of tensor '{name}'")
        if n_dims > MAX_DIMS:
            raise w.fail(f"tensor '{name}' has {n_dims:,} dims (GGML allows at most {MAX_DIMS})")
        dims = tuple(w.take("Q", f"dims of tensor '{name}'") for _ in range(n_dims))
        kind = w.take("I", f"type of tensor '{name}'")
        offset = w.take("Q", f"data offset of tensor '{name}'")
        if offset >= w.size:  # GGUFReader adds it to the data start in uint64: 2**64 - 200
            # would wrap around to a small offset and point the tensor into the header
            raise w.fail(f"tensor '{name}' has data offset {offset:,}, past the end of the file")
        header.tensors.append(TensorEntry(name, dims, kind, offset))
    alignment = header.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0:
        raise w.fail(f"general.alignment is {alignment!r}, not a positive integer")
    header.data_start = -(-w.pos // alignment) * alignment
    return header


def read_header(path: str | Path) -> Header:
    """The header of a local GGUF file, walked over a memory map of it."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return walk(path, data)
    except (OSError, ValueError) as e:  # ValueError: mmap of an empty file
        raise CheckpointError(path, f"cannot read: {getattr(e, 'strerror', None) or e}") from e


def tensor_size(path: object, entry: TensorEntry) -> tuple[int, int]:
    """(elements, bytes) of a tensor, by the block size of its ggml type."""
    sizes = constants().GGML_QUANT_SIZES
    kinds = {t.value: t for t in constants().GGMLQuantizationType}
    kind = kinds.get(entry.type)
    if kind is None or kind not in sizes:
        raise CheckpointError(path, f"tensor '{entry.name}' has ggml type {entry.type}, which the"
                                    " gguf package does not know")
    block, block_bytes = sizes[kind]
    n = prod(entry.dims)
    if n % block:
        raise CheckpointError(path, f"tensor '{entry.name}': {n:,} elements are not whole"
                                    f" {kind.name} blocks of {block}")
    return n, n // block * block_bytes


def type_name(entry: TensorEntry) -> str:
    return constants().GGMLQuantizationType(entry.type).name
