"""Hub ids (`openai-community/gpt2`, `owner/name@revision`) opened header-only.

A complete snapshot in huggingface_hub's cache answers at once, with no round trip (only headers
are read, and a revision's files do not change). "Complete" means the weights file and, for an
index, every shard it names: a download cut short (config.json and the index cached, shards
missing) is not a snapshot. Otherwise the headers are read from the hub by HTTP Range
(inspector.formats.remote), or, offline (HF_HUB_OFFLINE=1), from inspector's header cache.

`stats` and `diff` need the values: `download` fetches the weights into huggingface_hub's cache,
with its progress bar, and only when the user asked for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from inspector.errors import CheckpointError, UsageError
from inspector.files.regular import BadFile, require_small
from inspector.formats.hub_env import hub_constants
from inspector.formats.index import read_index_json
from inspector.formats.local import FOLDER_WEIGHTS

# owner/name, optionally a GGUF file in it, optionally @revision (a branch, tag or commit).
HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+?)(?:/(?P<file>[\w./-]+\.gguf))?"
                    r"(?:@(?P<revision>[\w./-]+))?$")


class HubId(NamedTuple):
    repo_id: str
    revision: str | None
    filename: str | None  # a GGUF file named in the repo
# The weight files read by range: a pickle (pytorch_model.bin) has no header to read so.
REMOTE_WEIGHTS = FOLDER_WEIGHTS[:2]


def parse(source: str) -> HubId | None:
    """The parts of a hub id, or None when `source` is not one."""
    m = HUB_ID.match(source)
    return HubId(m.group("repo"), m.group("revision"), m.group("file")) if m else None


def with_revision(source: str, revision: str | None) -> str:
    """SOURCE with --revision folded in as `@revision` (a hub id only)."""
    if revision is None:
        return source
    parsed = parse(source)
    if parsed is None:
        raise UsageError(source, "--revision applies to a hub id (owner/name) only")
    if parsed.revision not in (None, revision):
        raise UsageError(source, f"names revision {parsed.revision} and --revision {revision}:"
                                 " give one")
    return f"{source}@{revision}"


def open_hub(source: str):
    """The Checkpoint of a hub id: from a complete cached snapshot, else its headers."""
    from inspector.formats.hub_http import command
    from inspector.formats.local import open_file, open_folder
    from inspector.formats.remote import open_remote

    hub_constants()  # huggingface_hub's settings, checked before it is imported
    hub_id = parse(source)
    check_repo_id(hub_id.repo_id)
    folder = cached_snapshot(hub_id)
    if folder is not None:
        return open_folder(folder, source) if folder.is_dir() else open_file(folder, source)
    weights = (hub_id.filename,) if hub_id.filename else REMOTE_WEIGHTS
    with command():  # one budget of requests, bytes and time for all the reads
        return open_remote(hub_id.repo_id, hub_id.revision, weights)


def check_repo_id(repo_id: str) -> None:
    """huggingface_hub's own rule for a repo id (no `..` or `--`, at most 96 characters, ...),
    applied before any lookup, so that its HFValidationError becomes one line naming the id."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(repo_id, f"not a file, a folder or a valid hub id: {reason}") from e


def cached_snapshot(hub_id: HubId) -> Path | None:
    """The snapshot folder when huggingface_hub's cache holds all of the repo's weights (the file,
    for a hub id that names one)."""
    hub_constants()  # huggingface_hub's settings, checked before it is imported
    from huggingface_hub import try_to_load_from_cache

    repo_id, revision, filename = hub_id
    check_ref(repo_id, revision)
    if filename is not None:
        found = try_to_load_from_cache(repo_id, filename, revision=revision)
        return Path(found) if isinstance(found, str) else None
    for name in FOLDER_WEIGHTS:
        found = try_to_load_from_cache(repo_id, name, revision=revision)
        if not isinstance(found, str):
            continue
        folder = Path(found).parent
        if not name.endswith(".index.json"):
            return folder
        index = read_index_json(Path(found))  # a cache entry, bounded
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict):
            return None  # a broken index: let the remote reader say what is wrong
        shards = {s for s in weight_map.values() if isinstance(s, str)}
        return folder if all((folder / s).is_file() for s in shards) else None
    return None


MAX_REF_BYTES = 1024  # a ref names a commit: 40 characters


def check_ref(repo_id: str, revision: str | None) -> None:
    """huggingface_hub reads a ref (refs/main) whole: a link to /dev/zero or a 3 GB file there
    would be read without end. A ref that is not a small regular file is refused here."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "refs"
    check_cached_file(folder / (revision or "main"), MAX_REF_BYTES)


def check_cached_file(path: Path, limit: int) -> None:
    """CheckpointError naming a file of the Hugging Face cache that is not a regular file of at
    most `limit` bytes (absent is fine: nothing is read)."""
    try:
        require_small(path, limit)
    except BadFile as e:
        raise CheckpointError(path, f"{e.reason}: a damaged entry of the Hugging Face cache;"
                                    " remove it") from None


def download_size(source: str) -> tuple[int, list[str]]:
    """Bytes of the weight files `download` would fetch, and their names (from the model info
    and the index: no header is read)."""
    from inspector.formats.hub_http import command
    from inspector.formats.remote import Client, resolve, weight_files

    repo_id, revision, filename = parse(source)
    with command():
        rev = resolve(repo_id, revision)
        name, promised = weight_files(rev, Client(rev), (filename,) if filename else REMOTE_WEIGHTS)
    names = sorted(promised) if promised is not None else [name]
    return sum(rev.files[n].get("size") or 0 for n in names), names


def download(source: str) -> str:
    """Fetch the weights (and config.json, the index) into huggingface_hub's cache, with its
    progress bar; return the snapshot folder."""
    from huggingface_hub import snapshot_download

    from inspector.formats.hub_http import hub_errors

    repo_id, revision, _ = parse(source)
    _, names = download_size(source)
    patterns = [*names, "config.json", FOLDER_WEIGHTS[0]]
    with hub_errors(f"{repo_id}@{revision}" if revision else repo_id, None):
        folder = snapshot_download(repo_id, revision=revision, allow_patterns=patterns)
    return folder


def fetch_values(source: str, allowed: bool, command: str, announce=None) -> bool:
    """Make a hub id's weights local for a command that reads values (stats, diff): nothing to
    do for a path or a fully cached snapshot (False); else refuse with the size unless
    `allowed` (--download), then download into the Hugging Face cache (True: the source now opens from
    there). `announce(text)` is told the size first."""
    parsed = parse(source)
    if parsed is None or Path(source).exists() or cached_snapshot(parsed) is not None:
        return False
    if not allowed:
        ask_download(source, command)
    size, names = download_size(source)
    if announce is not None:
        announce(f"inspector: downloading {size:,} bytes in {len(names)} files of {source}")
    download(source)
    return True


def ask_download(source: str, command: str) -> None:
    """Refuse, with the size, a command that would download a hub id's weights unasked."""
    size, names = download_size(source)
    raise CheckpointError(source, f"{command} reads the values: that is {size:,} bytes"
                                  f" ({size / 1e9:.1f} GB) in {len(names)} files to download"
                                  f" into the Hugging Face cache; add --download to fetch them")




def hub_config(repo_id: str, revision: str | None) -> dict:
    """The repo's config.json as a dict."""
    hub_constants()  # huggingface_hub's settings, checked before it is imported
    check_ref(repo_id, revision)
    from huggingface_hub import try_to_load_from_cache

    from inspector.formats.hub_http import command
    from inspector.formats.local import read_config
    from inspector.formats.remote import Client, resolve

    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):
        return read_config(Path(cached).parent)
    with command():
        rev = resolve(repo_id, revision)
        if "config.json" not in rev.files:
            raise CheckpointError(rev.label, "the repo has no config.json to read a spec from")
        config = Client(rev).json("config.json")
    if not isinstance(config, dict):
        raise CheckpointError(rev.where("config.json"), "does not hold a JSON object")
    return config
