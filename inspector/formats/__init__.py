"""Open any checkpoint by what the user names: a file, a folder (inspector.formats.local), or a
hub id (inspector.formats.hub)."""

from __future__ import annotations

from pathlib import Path

from inspector.errors import CheckpointError
from inspector.formats.base import Checkpoint
from inspector.formats.local import open_file, open_folder


def open_checkpoint(source: str) -> Checkpoint:
    path = Path(source)
    if path.is_dir():
        return open_folder(path, source)
    if path.is_file():
        return open_file(path, source)
    from inspector.formats import hub

    if hub.parse(source) and not path.parent.is_dir():  # `out/model` with ./out: a path
        return hub.open_hub(source)
    raise CheckpointError(source, "no such file or folder (nor a hub id of the form owner/name)")
