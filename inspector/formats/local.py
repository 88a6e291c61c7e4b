"""A checkpoint on this machine opened by its file or folder: the reader chosen by the name,
else by the first bytes; a folder as `save_pretrained` lays it out."""

from __future__ import annotations

from pathlib import Path

from inspector.errors import CheckpointError
from inspector.files.bounded_json import read_json
from inspector.files.guard import note_read
from inspector.files.regular import BadFile, require_regular
from inspector.formats.base import Checkpoint, TensorInfo, first_bytes
from inspector.formats.index import read_index
from inspector.formats.safetensors import read_header

PYTORCH_SUFFIXES = (".bin", ".pt", ".pth")

# Folder contents in order of preference: the first present is read.
FOLDER_WEIGHTS = (
    "model.safetensors.index.json",
    "model.safetensors",
    "pytorch_model.bin.index.json",
    "pytorch_model.bin",
)


def open_file(path: Path, source: str, config: dict | None = None) -> Checkpoint:
    try:  # a FIFO or a device in a folder would block the read, or never end it
        require_regular(path)
    except BadFile as e:
        raise CheckpointError(path, e.reason) from None
    name = path.name
    if name.endswith(".safetensors.index.json"):
        tensors, files = read_index(path, _safetensors_tensors)
        return Checkpoint(source, "safetensors-sharded", tensors, files, config)
    if name.endswith(tuple(f"{suffix}.index.json" for suffix in PYTORCH_SUFFIXES)):
        from inspector.formats.pytorch import read_pytorch

        tensors, files = read_index(path, read_pytorch)
        return Checkpoint(source, "pytorch-sharded", tensors, files, config)
    if name.endswith(".safetensors"):
        tensors, metadata = read_header(path)
        return Checkpoint(source, "safetensors", tensors, [str(path)], config, metadata)
    if path.suffix in PYTORCH_SUFFIXES:
        return _open_pytorch(path, source, config)
    if path.suffix == ".gguf":
        return _open_gguf(path, source)
    if name.endswith(".json"):
        raise CheckpointError(path, "a JSON file that is not a *.safetensors.index.json or"
                                    " *.bin.index.json; to count a config.json use"
                                    " `inspector count`")
    # An unknown suffix: judge by the first bytes rather than refuse.
    from inspector.formats import gguf, pytorch  # neither imports its library at module level

    head = first_bytes(path, 16)
    if head.startswith(gguf.MAGIC):
        return _open_gguf(path, source)
    if head.startswith(pytorch.SAVED_MAGICS):
        return _open_pytorch(path, source, config)
    tensors, metadata = read_header(path)
    return Checkpoint(source, "safetensors", tensors, [str(path)], config, metadata)


def _open_pytorch(path: Path, source: str, config: dict | None) -> Checkpoint:
    from inspector.formats.pytorch import read_pytorch  # imports torch: only for a pickle

    return Checkpoint(source, "pytorch", read_pytorch(path), [str(path)], config)


def _open_gguf(path: Path, source: str) -> Checkpoint:
    """GGUF carries its own configuration (metadata), and its own tensor names: a config.json
    beside it would name the hub layout instead, so it is not attached."""
    from inspector.formats.gguf import read_gguf

    tensors, metadata = read_gguf(path)
    return Checkpoint(source, "gguf", tensors, [str(path)], None, metadata)


def _safetensors_tensors(path: Path) -> list[TensorInfo]:
    return read_header(path)[0]


def open_folder(folder: Path, source: str) -> Checkpoint:
    note_read(folder)  # a folder read as a checkpoint is never written into
    config = read_config(folder)
    for name in FOLDER_WEIGHTS:
        if (folder / name).is_file():
            return open_file(folder / name, source, config)
    others = sorted(folder.glob("*.safetensors"))
    if len(others) == 1:
        return open_file(others[0], source, config)
    ggufs = sorted(folder.glob("*.gguf"))
    if not others and len(ggufs) == 1:
        return open_file(ggufs[0], source, config)
    what = "config.json but no weights" if config is not None else "no weights"
    listed = ", ".join(FOLDER_WEIGHTS)
    extra = f" ({len(others)} *.safetensors files and no index to join them)" if others else ""
    if not others and ggufs:
        extra = f" ({len(ggufs)} *.gguf files: name one, e.g. {ggufs[0]})"
    raise CheckpointError(folder, f"folder has {what}{extra}; looked for {listed}, one"
                                  " *.safetensors or one *.gguf")


def read_config(folder: Path) -> dict | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    config = read_json(path, CheckpointError)
    if not isinstance(config, dict):
        raise CheckpointError(path, "config.json does not hold a JSON object")
    return config
