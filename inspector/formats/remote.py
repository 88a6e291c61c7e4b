"""A hub repo read header-only: model info, config.json, the index and each safetensors header by
HTTP Range, never the weights.

Everything goes through huggingface_hub's own machinery: `HfApi.model_info` resolves the revision
(one request: the commit, every file with its size and etag, the hub's own parameter totals),
`hf_hub_url` builds the file URLs under HF_ENDPOINT, `build_hf_headers` carries HF_TOKEN,
`get_session` is its shared HTTP client and `hf_raise_for_status` names the hub's errors. Its
retries are not used: each request waits at most HF_HUB_DOWNLOAD_TIMEOUT seconds (10 by default)
and any failure ends the call with one line saying what to do.

A shard is read with one speculative Range request sized from the names the index gives it
(ENTRY_BYTES of JSON beyond each name); when the header is longer, a second request reads exactly
the rest. Shards are read concurrently. What is read is kept by etag in inspector.formats.header_cache.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from inspector.formats import header_cache
from inspector.errors import CheckpointError
from inspector.formats.base import Checkpoint, TensorInfo
from inspector.formats.index import check_shard, shard_names
from inspector.formats.safetensors import MAX_HEADER_BYTES, header_length, parse_header

# The JSON of one header entry beyond its quoted name, `:{"dtype":"BF16","shape":[16384,16384],
# "data_offsets":[4294967296,4831838208]},` is 80 bytes; a little over, so one request usually
# covers the header, at the cost of reading a few bytes past it.
ENTRY_BYTES = 96
SPARE_BYTES = 64  # __metadata__ ({"format":"pt"}) and the padding to 8 bytes
SINGLE_FILE_WINDOW = 100_001  # no index names the tensors: huggingface_hub's own first read
GGUF_WINDOW = 1 << 20  # a GGUF's first read; a tokenizer of 49,152 entries takes ~2 MB
SMALL_FILE_LIMIT = 64 << 20  # config.json and the index; anything larger is not one of them
MAX_WORKERS = 64  # requests in flight at once; the hub serves each in its own time
COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Revision:
    """A repo at one commit, as its model info describes it."""

    repo_id: str
    asked: str | None  # the revision the user named (None: main)
    commit: str
    files: dict[str, dict]  # name -> {"size": n, "etag": ...}
    safetensors: dict | None  # the hub's {"parameters": {dtype: n}, "total": n}

    @property
    def label(self) -> str:
        return f"{self.repo_id}@{self.asked}" if self.asked else self.repo_id

    def where(self, name: str) -> str:
        return f"{self.label}/{name}"


def open_remote(repo_id: str, revision: str | None, weights: tuple[str, ...]) -> Checkpoint:
    """The repo's checkpoint from its headers; `weights` are the file names to look for, in
    order (model.safetensors.index.json, model.safetensors)."""
    rev = resolve(repo_id, revision)
    client = Client(rev)
    # config.json and the index at once: one round trip, not two.
    client.prefetch([n for n in ("config.json", *weights) if n.endswith(".json")])
    config = client.json("config.json") if "config.json" in rev.files else None
    name, promised = weight_files(rev, client, weights)
    origin = {"repo_id": repo_id, "revision": revision, "commit": rev.commit,
              "safetensors": rev.safetensors}
    if name.endswith(".gguf"):  # GGUF carries its own configuration (see formats._open_gguf)
        tensors, metadata = client.gguf(name)
        return Checkpoint(rev.label, "gguf", tensors, [rev.where(name)], None, metadata,
                          origin=origin)
    if promised is None:
        tensors, metadata = client.headers({name: None})[name]
        return Checkpoint(rev.label, "safetensors", tensors, [rev.where(name)], config, metadata,
                          origin=origin)
    found = client.headers({shard: sorted(names) for shard, names in promised.items()})
    tensors: list[TensorInfo] = []
    for shard in sorted(promised):
        check_shard(name, rev.where(shard), found[shard][0], promised[shard])
        tensors.extend(found[shard][0])
    return Checkpoint(rev.label, "safetensors-sharded", tensors,
                      [rev.where(s) for s in sorted(promised)], config, origin=origin)


def weight_files(rev: Revision, client: Client, weights: tuple[str, ...]
                 ) -> tuple[str, dict[str, set[str]] | None]:
    """The weights file the repo has (the first of `weights`) and, for an index, the tensor names
    it gives each shard (None for a single file)."""
    name = next((n for n in weights if n in rev.files), None)
    ggufs = sorted(n for n in rev.files if n.endswith(".gguf"))
    if name is None and len(ggufs) == 1 and len(weights) > 1:
        name = ggufs[0]  # no safetensors, one GGUF: the repo's model
    if name is None and len(ggufs) > 1 and len(weights) > 1:
        raise CheckpointError(rev.label, f"the repo has no safetensors and {len(ggufs)} GGUF"
                                         f" files: name one, e.g. {rev.repo_id}/{ggufs[0]}")
    if name is None:
        others = sorted(n for n in rev.files if n.endswith((".bin", ".pt", ".pth")))
        extra = (f" (it holds {others[0]}: a pickle has no header to read by range; download it"
                 " and inspect the folder)") if others else ""
        raise CheckpointError(rev.label, f"the repo has none of {', '.join(weights)} at revision"
                                         f" {rev.asked or 'main'}{extra}")
    if not name.endswith(".index.json"):
        return name, None
    promised = shard_names(rev.where(name), client.json(name))
    for shard in promised:
        if shard not in rev.files:
            raise CheckpointError(rev.where(name), f"shard '{shard}' named in its weight_map is"
                                                   " not in the repo")
    return name, promised


def resolve(repo_id: str, revision: str | None) -> Revision:
    """The revision's model info: from inspector's cache when the name is a commit already seen
    (or when offline), else one request, which also resolves a branch to its commit."""
    from huggingface_hub import is_offline_mode

    asked = revision or "main"
    cached = header_cache.load_info(repo_id, asked)
    if cached is not None and (COMMIT.match(asked) or is_offline_mode()):
        return _revision(repo_id, revision, cached)
    if is_offline_mode():
        from huggingface_hub import constants

        from inspector.formats.local import FOLDER_WEIGHTS

        raise CheckpointError(repo_id, f"no weights for revision {asked} in the Hugging Face"
                                       f" cache ({constants.HF_HUB_CACHE}; looked for"
                                       f" {', '.join(FOLDER_WEIGHTS)}) nor headers in"
                                       " inspector's cache, and offline mode is on"
                                       " (HF_HUB_OFFLINE=1): unset it to read the headers from"
                                       " the hub")
    from huggingface_hub import HfApi

    with hub_errors(repo_id, revision, None):
        info = HfApi().model_info(repo_id, revision=revision, files_metadata=True,
                                  timeout=timeout())
    files = {}
    for s in info.siblings or []:
        etag = (s.lfs.sha256 if s.lfs else None) or s.blob_id
        files[s.rfilename] = {"size": s.size, "etag": etag}
    data = {"sha": info.sha, "files": files,
            "safetensors": dict(info.safetensors) if info.safetensors else None}
    if not isinstance(info.sha, str):
        raise CheckpointError(repo_id, "the hub's model info names no commit (sha)")
    header_cache.save_info(repo_id, asked, data)
    return _revision(repo_id, revision, data)


def _revision(repo_id: str, revision: str | None, data: dict) -> Revision:
    return Revision(repo_id, revision, data["sha"], data["files"], data.get("safetensors"))


def timeout() -> float:
    from huggingface_hub import constants

    return float(constants.HF_HUB_DOWNLOAD_TIMEOUT)


class Client:
    """Reads of one revision's files: whole small files and file heads, cached by etag."""

    def __init__(self, rev: Revision):
        self.rev = rev
        self.fetched: dict[str, bytes] = {}  # whole files read in this call

    def prefetch(self, names: list[str]) -> None:
        """Read these small files (those the repo has) concurrently."""
        names = [n for n in names if n in self.rev.files]
        if len(names) > 1:
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                list(pool.map(self.whole, names))

    def json(self, name: str) -> object:
        data = self.whole(name)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CheckpointError(self.rev.where(name), f"not JSON ({e})") from e

    def whole(self, name: str) -> bytes:
        if name not in self.fetched:
            self.fetched[name] = self._whole(name)
        return self.fetched[name]

    def _whole(self, name: str) -> bytes:
        etag = self.rev.files.get(name, {}).get("etag")
        cached = header_cache.load_blob(etag)
        if cached is not None and len(cached[1]) == cached[0]:
            return cached[1]
        size = self.rev.files[name].get("size") or SMALL_FILE_LIMIT
        if size > SMALL_FILE_LIMIT:
            raise CheckpointError(self.rev.where(name), f"{size:,} bytes: too large for a"
                                                        f" {name} (over {SMALL_FILE_LIMIT:,})")
        data, total = self.read(name, 0, size)
        if len(data) < total:
            raise CheckpointError(self.rev.where(name), f"the hub sent {len(data):,} of its"
                                                        f" {total:,} bytes")
        header_cache.save_blob(etag, total, data)
        return data

    def headers(self, wanted: dict[str, list[str] | None]) -> dict[str, tuple[list[TensorInfo], dict]]:
        """Safetensors headers of the files in `wanted` (name -> tensor names the index gives
        it, None when there is no index), read concurrently."""
        if len(wanted) == 1:
            name, names = next(iter(wanted.items()))
            return {name: self.header(name, names)}
        pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(wanted)))
        try:
            futures = {name: pool.submit(self.header, name, names) for name, names in wanted.items()}
            return {name: future.result() for name, future in futures.items()}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # after a failure, stop at once

    def header(self, name: str, names: list[str] | None) -> tuple[list[TensorInfo], dict]:
        where = self.rev.where(name)
        etag = self.rev.files.get(name, {}).get("etag")
        cached = header_cache.load_blob(etag)
        if cached is not None:
            size, head = cached
            return parse_header(where, head[8:], size)
        window = first_window(names)
        head, size = self.read(name, 0, window)
        n = header_length(where, head, size)
        if len(head) < 8 + n:
            rest, _ = self.read(name, len(head), 8 + n)
            head += rest
        head = head[:8 + n]
        if len(head) < 8 + n:
            raise CheckpointError(where, f"the hub sent {len(head):,} bytes of a {8 + n:,}-byte"
                                         " header")
        found = parse_header(where, head[8:], size)
        header_cache.save_blob(etag, size, head)
        return found

    def gguf(self, name: str) -> tuple[list[TensorInfo], dict]:
        """A GGUF's tensors and metadata from its header, read by ranges as far as the walk
        needs: GGUF_WINDOW first, then at least twice as much each time."""
        from inspector.formats.gguf import MAGIC, tensors_of
        from inspector.formats.gguf_bounds import NeedMore, walk

        where = self.rev.where(name)
        etag = self.rev.files.get(name, {}).get("etag")
        cached = header_cache.load_blob(etag)
        if cached is not None:
            size, head = cached
            header = walk(where, head, size)
            return tensors_of(where, header, size), header.metadata
        head, size = self.read(name, 0, GGUF_WINDOW)
        if head[:4] != MAGIC:
            raise CheckpointError(where, f"not a GGUF file: it starts with {head[:4]!r}, not"
                                         f" {MAGIC!r}")
        while True:
            try:
                header = walk(where, head, size)
                break
            except NeedMore as more:
                rest, _ = self.read(name, len(head), max(more.end, 2 * len(head)))
                if not rest:
                    raise CheckpointError(where, "the hub sent no more bytes of the header")
                head += rest
        head = head[:header.data_start]
        header_cache.save_blob(etag, size, head)
        return tensors_of(where, header, size), header.metadata

    def read(self, name: str, start: int, end: int) -> tuple[bytes, int]:
        """Bytes [start, end) of a file (fewer at its end) and the file's full size."""
        return read_range(self.rev, name, start, end)


def first_window(names: list[str] | None) -> int:
    """How many bytes the first request for a shard asks: its header as the index's names
    suggest it, capped at the largest header a safetensors file may have."""
    if names is None:
        return SINGLE_FILE_WINDOW
    guess = 8 + SPARE_BYTES + sum(len(json.dumps(n)) + ENTRY_BYTES for n in names)
    return min(guess, 8 + MAX_HEADER_BYTES)


def read_range(rev: Revision, name: str, start: int, end: int) -> tuple[bytes, int]:
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url = hf_hub_url(rev.repo_id, name, revision=rev.commit, endpoint=constants.ENDPOINT)
    headers = {**build_hf_headers(), "Range": f"bytes={start}-{end - 1}",
               "Accept-Encoding": "identity"}
    with hub_errors(rev.repo_id, rev.asked, name), \
            get_session().stream("GET", url, headers=headers, timeout=timeout()) as response:
        if response.status_code == 416:  # the file ends before `start`
            size = _total(response.headers.get("Content-Range"))
            raise CheckpointError(rev.where(name), f"the file is {size:,} bytes, shorter than"
                                                   " its header says: truncated")
        if response.status_code >= 400:
            response.read()  # the error's body, for hf_raise_for_status to quote
        hf_raise_for_status(response)
        ranged = response.status_code == 206
        size = (_total(response.headers.get("Content-Range")) if ranged
                else int(response.headers.get("Content-Length", 0)))
        skip = 0 if ranged else start  # a server that ignores Range sends from byte 0
        want = min(end, size) - start
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= skip + want:
                break  # enough: the rest of a Range-less answer is left unread
    return bytes(data[skip:skip + want]), size


def _total(content_range: str | None) -> int:
    """The full size from `bytes 0-99/1234` or `bytes */1234`."""
    try:
        return int((content_range or "").rsplit("/", 1)[1])
    except (IndexError, ValueError):
        raise CheckpointError("hub", f"a Range answer without a usable Content-Range"
                                     f" ({content_range!r})") from None


class hub_errors:
    """Turns what huggingface_hub and its HTTP client raise into one line that names the repo
    and says what to do."""

    def __init__(self, repo_id: str, revision: str | None, name: str | None):
        self.repo_id, self.revision, self.name = repo_id, revision, name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb) -> bool:
        if error is None or isinstance(error, CheckpointError):
            return False
        cause = describe(error, self.repo_id, self.revision, self.name)
        if cause is None:
            return False
        label = f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id
        raise CheckpointError(label, cause) from error


def describe(error: BaseException, repo_id: str, revision: str | None, name: str | None) -> str | None:
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = constants.ENDPOINT
    what = f"'{name}'" if name else "the model info"
    if isinstance(error, GatedRepoError):
        return (f"a gated repo: accept its terms at {endpoint}/{repo_id} and set HF_TOKEN to a"
                " token of that account")
    if isinstance(error, RepositoryNotFoundError):
        return (f"no such repo on {endpoint}, or it is private: check the name, or set HF_TOKEN"
                " to a token that can read it")
    if isinstance(error, RevisionNotFoundError):
        return (f"the repo has no revision '{revision or 'main'}': name a branch, tag or commit"
                " that exists")
    if isinstance(error, EntryNotFoundError):
        return f"the repo has no file {what} at revision {revision or 'main'}"
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else "an error"
        if status in (401, 403):
            return (f"the hub refused access ({status}) to {what}: set HF_TOKEN to a token that"
                    " can read the repo")
        return f"the hub ({endpoint}) answered {status} for {what}: try again later"
    if isinstance(error, httpx2.TimeoutException):
        return (f"the hub ({endpoint}) did not answer within {timeout():g} s for {what}"
                " (HF_HUB_DOWNLOAD_TIMEOUT): try again, or set HF_HUB_OFFLINE=1 to use only"
                " the cache")
    if isinstance(error, httpx2.ConnectError):
        return (f"cannot connect to the hub ({endpoint}): {error or 'refused'}; check the"
                " network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the cache")
    if isinstance(error, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        return f"the hub ({endpoint}) cut its answer for {what} short: try again"
    if isinstance(error, httpx2.HTTPError):
        return f"the hub ({endpoint}) could not be read for {what} ({error}): try again"
    return None
