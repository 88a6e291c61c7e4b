"""PyTorch checkpoints (`.bin`, `.pt`, `.pth`), read only through `torch.load(weights_only=True)`.

A pickle can run any code it names; the weights-only unpickler refuses every global that is not a
plain tensor, container or number, and a refusal is reported (file and global), never retried with
`weights_only=False`. Zip checkpoints (torch >= 1.6) are memory-mapped, so headers cost no reads of
tensor bytes; the legacy pickle format cannot be mapped and is read whole.

Two names that view the same bytes with the same shape (a tied `lm_head.weight` saved beside
`transformer.wte.weight`) get the same `storage` key, which is how `decouple` finds the tie.
"""

from __future__ import annotations

import re
import reprlib
import warnings
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.formats.base import TensorInfo, first_bytes
from inspector.formats.dtypes import DTYPES as ALL_DTYPES

ZIP_MAGIC = b"PK\x03\x04"  # torch.save since 1.6: a zip of data.pkl + one record per storage
PICKLE_MAGIC = b"\x80"  # the legacy format: pickles (protocol 2+) one after another
# What torch.save itself writes first: the zip magic, or (legacy) pickle protocol 2 whose first
# object is the LONG1 magic number 0x1950a86a20f9469cfc6c. Exact, so that a file with an unknown
# suffix is taken for PyTorch only when it is one (a safetensors header length never passes).
SAVED_MAGICS = (ZIP_MAGIC, b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

# torch dtype name -> the safetensors names the rest of the tool speaks.
DTYPES = {d.torch: d.name for d in ALL_DTYPES}

# Training checkpoints wrap the state dict: {"state_dict": ...} (Lightning), {"model": ...}, ...
WRAPPERS = ("state_dict", "model", "module", "model_state_dict")

# torch words it "Unsupported global: GLOBAL x.y" or "unsupported GLOBAL x.y whose module x is
# blocked", depending on whether the module is blocked outright.
_REFUSED = re.compile(r"unsupported (?:global: )?GLOBAL ([\w.]+)", re.IGNORECASE)
# torch's preamble to every refusal advises weights_only=False: never repeated to the user.
_BOILERPLATE = ("weights only load failed", "check the documentation", "re-running",
                "(1) in pytorch 2.6", "(2) alternatively", "please file an issue")


def read_pytorch(path: str | Path) -> list[TensorInfo]:
    """Tensor headers of one PyTorch checkpoint file (a state dict, or one wrapped in a dict)."""
    path = Path(path)
    magic = first_bytes(path, 8)
    if magic[:4] != ZIP_MAGIC and magic[:1] != PICKLE_MAGIC:
        raise CheckpointError(path, f"not a PyTorch checkpoint: it starts with {magic!r}, neither"
                                    " a zip archive (PK) nor a pickle")
    if magic[:4] == ZIP_MAGIC:
        _check_archive(path)
    else:
        _check_legacy(path)
    import pickle

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": stderr is ours
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True,
                                mmap=magic[:4] == ZIP_MAGIC)
    except pickle.UnpicklingError as e:
        raise CheckpointError(path, _refusal(str(e))) from e
    except Exception as e:  # on corrupt bytes torch.load raises whatever its parser trips on
        # (RuntimeError, EOFError, IndexError, AssertionError, struct.error ...): all mean this
        raise CheckpointError(path, f"torch.load cannot read it ({_first_sentence(e)}):"
                                    " truncated or not a PyTorch checkpoint") from e
    state = unwrap_state_dict(loaded, path)
    return [_info(name, tensor, path) for name, tensor in state.items()]


# What torch.load may inflate before the first tensor is seen. torch.save stores every record
# uncompressed (the storages are memory-mapped, not read); a compressed record is inflated whole
# into memory, so its declared size is bounded before loading. The pickle (data.pkl) of a state
# dict takes about 150 bytes a tensor: 64 MB is 400,000 tensors.
MAX_INFLATED_BYTES = 64 * 1024 * 1024
MAX_PICKLE_BYTES = 64 * 1024 * 1024


def _check_archive(path: Path) -> None:
    """Refuse a zip whose pickle, or whose compressed records, would inflate past the bounds.
    The sizes are the central directory's; torch's reader refuses a record whose bytes disagree
    with them, so a record cannot inflate past what it declares."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        # (NotImplementedError: a zip version or compression the zipfile module cannot read)
        raise CheckpointError(path, f"torch.load cannot read it (not a readable zip archive:"
                                    f" {e}): truncated or not a PyTorch checkpoint") from e
    inflated = 0
    for member in members:
        if member.filename.endswith("data.pkl") and member.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(path, f"its pickle {member.filename!r} is {member.file_size:,}"
                                        f" bytes, over the {MAX_PICKLE_BYTES:,}-byte limit")
        if member.compress_type != zipfile.ZIP_STORED:
            inflated += member.file_size
    if inflated > MAX_INFLATED_BYTES:
        raise CheckpointError(path, f"its compressed records inflate to {inflated:,} bytes, over"
                                    f" the {MAX_INFLATED_BYTES:,}-byte limit")


# The legacy format (torch.save before 1.6, or _use_new_zipfile_serialization=False) cannot be
# memory-mapped: torch.load reads every storage into memory, so the file's size is the memory it
# takes. Bounded so that any input within the caps is answered within 1 GB.
MAX_LEGACY_BYTES = 512 * 1024 * 1024


def _check_legacy(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_LEGACY_BYTES:
        raise CheckpointError(path, f"a legacy (pre-zip) PyTorch file is read whole into memory;"
                                    f" this one is {size:,} bytes, over the"
                                    f" {MAX_LEGACY_BYTES:,}-byte limit: re-save it with"
                                    " torch.save (zip format) or as safetensors")


def _strided():
    import torch

    return torch.strided


def _first_sentence(e: Exception) -> str:
    """torch's messages run on with advice; the first sentence says what failed."""
    text = str(e).strip()
    return text.splitlines()[0].split(". ")[0] if text else type(e).__name__


def _refusal(message: str) -> str:
    found = _REFUSED.search(message)
    if found:
        return (f"refused by torch.load(weights_only=True): the pickle needs the global"
                f" {found.group(1)}, which is not a tensor or plain container; inspector never"
                " runs code from a checkpoint (re-save it as a plain state dict or safetensors)")
    lines = [line.strip() for line in message.splitlines() if line.strip()
             and not line.strip().lower().startswith(_BOILERPLATE)]
    detail = lines[0] if lines else "the pickle is not a plain state dict"
    return (f"refused by torch.load(weights_only=True): {detail} (only plain state dicts of"
            " tensors are read; inspector never runs code from a checkpoint)")


def is_zip(path: Path) -> bool:
    """Whether the file is torch's zip format (torch >= 1.6), which torch.load can memory-map;
    the legacy pickle format cannot be."""
    return first_bytes(path, 4) == ZIP_MAGIC


# Training wrappers nest a state dict a level or two deep; a hostile pickle may nest thousands.
MAX_WRAPPING = 8


def unwrap_state_dict(loaded: object, path: Path) -> dict:
    """The name -> tensor dict in what torch.load returned: the dict itself, or the first one
    found under a training wrapper's key (WRAPPERS), at most MAX_WRAPPING levels down. Anything
    else is a CheckpointError."""
    import torch

    for _ in range(MAX_WRAPPING + 1):
        if not isinstance(loaded, dict):
            break
        tensors = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        if tensors:
            bad = [k for k in tensors if not isinstance(k, str)]
            if bad:
                raise CheckpointError(path, f"tensor key {reprlib.repr(bad[0])} is not a string")
            return tensors
        inner = next((loaded[key] for key in WRAPPERS if isinstance(loaded.get(key), dict)),
                     None)
        if inner is None:
            break
        loaded = inner
    else:
        raise CheckpointError(path, f"the state dict is wrapped more than {MAX_WRAPPING} levels"
                                    f" deep (under {', '.join(WRAPPERS)})")
    what = "a dict without tensors" if isinstance(loaded, dict) else f"a {type(loaded).__name__}"
    raise CheckpointError(path, f"holds {what}, not a state dict of names to tensors (nor one"
                                f" under {', '.join(WRAPPERS)})")


def _info(name: str, tensor, path: Path) -> TensorInfo:
    if tensor.is_sparse or tensor.is_nested or tensor.layout != _strided():
        kind = "a nested" if tensor.is_nested else f"a {str(tensor.layout).removeprefix('torch.')}"
        raise CheckpointError(path, f"tensor {reprlib.repr(name)} is {kind} tensor; only dense"
                                    " (strided) tensors are read")
    dtype = str(tensor.dtype).removeprefix("torch.")
    nbytes = tensor.numel() * tensor.element_size()
    storage = None
    if nbytes:
        # The same bytes seen with the same shape: one parameter stored once, named twice.
        storage = (str(path), tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
                   tuple(tensor.shape), tensor.stride())
    return TensorInfo(name=name, dtype=DTYPES.get(dtype, dtype.upper()), shape=tuple(tensor.shape),
                      nbytes=nbytes, file=str(path), storage=storage)
