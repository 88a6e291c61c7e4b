"""A hub repo read header-only: model info, config.json, the index and each safetensors header by
HTTP Range, never the weights.

The model info resolves the revision (one request: the commit, every file with its size and etag,
the hub's own parameter totals; inspector.formats.hub_info reads and checks it), `hf_hub_url`
builds the file URLs under HF_ENDPOINT, and every request goes through
inspector.formats.hub_http, within its deadlines and its budget of requests and bytes. No retries:
any failure ends the call with one line saying what to do. What the hub sends is checked as a
local file is: JSON by the bounded reader, the sizes it gives against each other (model info,
Content-Range), a GGUF header read no further than MAX_GGUF_HEAD_BYTES, at most MAX_SHARDS shards.

A shard is read with one speculative Range request sized from the names the index gives it
(ENTRY_BYTES of JSON beyond each name); when the header is longer, a second request reads exactly
the rest. Shards are read concurrently. What is read is kept by etag in inspector.formats.header_cache.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from inspector.errors import CheckpointError
from inspector.files.bounded_json import MAX_JSON_BYTES, MAX_JSON_VALUES, parse_json
from inspector.formats import header_cache
from inspector.formats.base import Checkpoint, TensorInfo
from inspector.formats.hub_env import hub_constants
from inspector.formats.hub_http import get, hub_headers, raise_for_status, shown
from inspector.formats.hub_info import fetch_info
from inspector.formats.index import (
    MAX_INDEX_BYTES,
    MAX_INDEX_ENTRIES,
    check_shard,
    shard_names,
)
from inspector.formats.safetensors import MAX_HEADER_BYTES, header_length, parse_header

# The JSON of one header entry beyond its quoted name, `:{"dtype":"BF16","shape":[16384,16384],
# "data_offsets":[4294967296,4831838208]},` is 80 bytes; a little over, so one request usually
# covers the header, at the cost of reading a few bytes past it.
ENTRY_BYTES = 96
SPARE_BYTES = 64  # __metadata__ ({"format":"pt"}) and the padding to 8 bytes
SINGLE_FILE_WINDOW = 100_001  # no index names the tensors: huggingface_hub's own first read
GGUF_WINDOW = 1 << 20  # a GGUF's first read; a tokenizer of 49,152 entries takes ~2 MB
SMALL_FILE_LIMIT = MAX_JSON_BYTES  # config.json; anything larger is not one
# A GGUF's header: Gemma 3's 262,144-token tokenizer takes ~6 MB, Llama 3's vocabulary and
# 280,000 merges ~12 MB.
MAX_GGUF_HEAD_BYTES = 32 << 20
MAX_SHARDS = 2_000  # an index naming more is not read (DeepSeek V3 has 163, Llama 3.1 405B 191)
MAX_WORKERS = 64  # requests in flight at once; the hub serves each in its own time
COMMIT = re.compile(r"^[0-9a-f]{40}$")
CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-\d+|\*)/(\d+)$")


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
    if len(promised) > MAX_SHARDS:
        raise CheckpointError(rev.where(name), f"names {len(promised):,} shards, more than the"
                                               f" {MAX_SHARDS:,} read from the hub")
    for shard in promised:
        if shard not in rev.files:
            raise CheckpointError(rev.where(name), f"shard '{shard}' named in its weight_map is"
                                                   " not in the repo")
    return name, promised


def resolve(repo_id: str, revision: str | None) -> Revision:
    """The revision's model info: from inspector's cache when the name is a commit already seen
    (or when offline), else one request, which also resolves a branch to its commit."""
    hub_constants()  # huggingface_hub's settings, checked before it is imported
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
    data = fetch_info(repo_id, revision)
    header_cache.save_info(repo_id, asked, data)
    return _revision(repo_id, revision, data)


def _revision(repo_id: str, revision: str | None, data: dict) -> Revision:
    return Revision(repo_id, revision, data["sha"], data["files"], data.get("safetensors"))


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
        """A small file's JSON, read as a local one is: bounded values and depth."""
        bound = 2 * MAX_INDEX_ENTRIES if name.endswith(".index.json") else MAX_JSON_VALUES
        return parse_json(self.whole(name), self.rev.where(name), CheckpointError, "not JSON",
                          name, bound)

    def whole(self, name: str) -> bytes:
        if name not in self.fetched:
            self.fetched[name] = self._whole(name)
        return self.fetched[name]

    def _whole(self, name: str) -> bytes:
        where, etag, promised = self.about(name)
        limit = MAX_INDEX_BYTES if name.endswith(".index.json") else SMALL_FILE_LIMIT
        if promised is not None and promised > limit:
            raise CheckpointError(where, f"{promised:,} bytes: too large for a {name} (over"
                                         f" {limit:,})")
        cached = header_cache.load_head(etag, promised, where)
        if cached is not None and len(cached[1]) == cached[0]:
            return cached[1]
        data, total = self.read(name, 0, promised if promised is not None else limit)
        if total > limit:
            raise CheckpointError(where, f"{total:,} bytes: too large for a {name} (over"
                                         f" {limit:,})")
        if len(data) < total:
            raise CheckpointError(where, f"the hub sent {len(data):,} of its {total:,} bytes")
        header_cache.save_head(etag, total, data)
        return data

    def about(self, name: str) -> tuple[str, str | None, int | None]:
        """The file's name with the repo's, its etag and its size, as the model info gives them."""
        entry = self.rev.files.get(name, {})
        return self.rev.where(name), entry.get("etag"), entry.get("size")

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
        where, etag, promised = self.about(name)
        cached = header_cache.load_head(etag, promised, where)
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
        header_cache.save_head(etag, size, head)
        return found

    def gguf(self, name: str) -> tuple[list[TensorInfo], dict]:
        """A GGUF's tensors and metadata from its header, read by ranges as far as the walk
        needs: GGUF_WINDOW first, then at least twice as much each time, up to
        MAX_GGUF_HEAD_BYTES."""
        from inspector.formats.gguf import MAGIC, tensors_of
        from inspector.formats.gguf_bounds import NeedMore, walk

        where, etag, promised = self.about(name)
        cached = header_cache.load_head(etag, promised, where)
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
                if more.end > MAX_GGUF_HEAD_BYTES:
                    raise CheckpointError(where, f"its header runs past byte {more.end:,}: more"
                                                 f" than the {MAX_GGUF_HEAD_BYTES:,} bytes of a"
                                                 " GGUF header read from the hub") from None
                end = min(max(more.end, 2 * len(head)), MAX_GGUF_HEAD_BYTES)
                rest, _ = self.read(name, len(head), end)
                if not rest:
                    raise CheckpointError(where, "the hub sent no more bytes of the header")
                head += rest
        head = head[:header.data_start]
        header_cache.save_head(etag, size, head)
        return tensors_of(where, header, size), header.metadata

    def read(self, name: str, start: int, end: int) -> tuple[bytes, int]:
        """Bytes [start, end) of a file (fewer at its end) and the file's full size."""
        from huggingface_hub import is_offline_mode

        if is_offline_mode():
            raise CheckpointError(self.rev.where(name), "not in inspector's header cache, and"
                                  " offline mode is on (HF_HUB_OFFLINE=1): unset it to read the"
                                  " header from the hub")
        return read_range(self.rev, name, start, end)


def first_window(names: list[str] | None) -> int:
    """How many bytes the first request for a shard asks: its header as the index's names
    suggest it, capped at the largest header a safetensors file may have."""
    if names is None:
        return SINGLE_FILE_WINDOW
    guess = 8 + SPARE_BYTES + sum(len(json.dumps(n)) + ENTRY_BYTES for n in names)
    return min(guess, 8 + MAX_HEADER_BYTES)




def read_range(rev: Revision, name: str, start: int, end: int) -> tuple[bytes, int]:
    """Bytes [start, end) of a file and its full size, as one Range request answers them. A
    server that ignores Range sends from byte 0: the answer is read up to `end` and no further."""
    from huggingface_hub import hf_hub_url

    where = rev.where(name)
    url = hf_hub_url(rev.repo_id, name, revision=rev.commit, endpoint=hub_constants().ENDPOINT)
    headers = {**hub_headers(), "Range": f"bytes={start}-{end - 1}"}
    answer = get(rev.label, name, url, headers, end)
    promised = rev.files.get(name, {}).get("size")
    if answer.status == 416:  # the file ends before `start`
        first, size = content_range(where, answer.headers)
        if size > start or (promised is not None and promised != size):
            raise CheckpointError(where, f"the hub answered 416 (nothing at byte {start:,}) for"
                                         f" a file it gives {size:,} bytes"
                                         f"{_promise(promised)}: a lying answer")
        raise CheckpointError(where, f"the file is {size:,} bytes, shorter than its header says:"
                                     " truncated")
    raise_for_status(rev.label, name, url, answer)
    if answer.status == 206:
        first, size = content_range(where, answer.headers)
        if first != start:
            raise CheckpointError(where, f"the hub answered from byte {first}, not {start:,}")
        skip = 0
    else:
        size, skip = content_length(where, answer.headers, promised), start
    if promised is not None and size != promised:
        raise CheckpointError(where, f"the hub gives the file {size:,} bytes in one answer and"
                                     f" {promised:,} in its model info")
    want = max(min(end, size) - start, 0)
    return bytes(answer.body[skip:skip + want]), size


def _promise(promised: int | None) -> str:
    return f" ({promised:,} in its model info)" if promised is not None else ""


def content_range(where: str, headers: dict) -> tuple[int | None, int]:
    """(first byte, full size) from `bytes 0-99/1234`, or (None, size) from `bytes */1234`."""
    value = headers.get("content-range") or ""
    m = CONTENT_RANGE.match(value.strip())
    if m is None:
        raise CheckpointError(where, f"the hub answered with an unusable Content-Range"
                                     f" ({shown(value)})")
    return (int(m.group(1)) if m.group(1) else None), int(m.group(2))


def content_length(where: str, headers: dict, promised: int | None) -> int:
    """A whole-file answer's size: its Content-Length, else the model info's."""
    value = headers.get("content-length")
    if value is None and promised is not None:
        return promised
    if value is None or not value.strip().isdigit():
        raise CheckpointError(where, f"the hub answered with an unusable Content-Length"
                                     f" ({shown(value or '')})")
    return int(value)
