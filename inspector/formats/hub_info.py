"""A repo's model info, read within bounds and checked value by value.

huggingface_hub's `HfApi.model_info` reads the body whole (a server may send gigabytes) and trusts
its types (a size `"12GB"`, a sibling without `rfilename`, `siblings` a string, HTML where JSON is
due all end in a TypeError far from the cause). Here the body is read by inspector.formats.hub_http
(at most MAX_JSON_BYTES, within the deadlines), parsed by the bounded JSON reader, and turned into
the record inspector keeps: {"sha": commit, "files": {name: {"size", "etag"}}, "safetensors":
{"parameters": {dtype: n}, "total": n} or None}. The same check applies to a record read back
from inspector's cache (inspector.formats.header_cache), which may be damaged too.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from inspector.errors import CheckpointError
from inspector.files.bounded_json import MAX_JSON_BYTES, parse_json
from inspector.formats.hub_env import hub_constants
from inspector.formats.hub_http import (
    announced,
    get,
    hub_headers,
    raise_for_status,
    shown,
    shown_value,
)

COMMIT = re.compile(r"^[0-9a-f]{40}$")


class BadRecord(Exception):
    """A model info (from the hub or the cache) that inspector cannot use: `reason` says why."""


def fetch_info(repo_id: str, revision: str | None) -> dict:
    """The revision's record, from one request to the hub."""

    label = f"{repo_id}@{revision}" if revision else repo_id
    endpoint = hub_constants().ENDPOINT
    url = (f"{endpoint}/api/models/{repo_id}" if revision is None else
           f"{endpoint}/api/models/{repo_id}/revision/{quote(revision, safe='')}") + "?blobs=true"
    answer = get(label, None, url, hub_headers(), MAX_JSON_BYTES + 1, whole=True)
    raise_for_status(label, None, url, answer)
    body = bytes(answer.body)
    if max(len(body), announced(answer)) > MAX_JSON_BYTES:
        raise CheckpointError(label, f"the hub's model info is over {MAX_JSON_BYTES:,} bytes:"
                                     " refused")
    try:
        info = parse_json(body, label, CheckpointError, "the hub's model info is not JSON",
                          "the hub's model info")
    except CheckpointError as e:
        raise CheckpointError(label, f"{e.cause}; it starts {shown(body)}") from None
    try:
        return record(info)
    except BadRecord as e:
        raise CheckpointError(label, f"the hub's model info {e}") from None


def record(info: object) -> dict:
    """The record of a model info as the hub sends it (BadRecord when it is not one)."""
    if not isinstance(info, dict):
        raise BadRecord(f"is a JSON {kind(info)}, not an object")
    siblings = info.get("siblings")
    if siblings is None:
        siblings = []
    if not isinstance(siblings, list):
        raise BadRecord(f"has siblings that are a JSON {kind(siblings)}, not a list")
    files = {}
    for k, sibling in enumerate(siblings):
        name = sibling.get("rfilename") if isinstance(sibling, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRecord(f"lists a file without a name (siblings[{k}] has no rfilename)")
        lfs = sibling.get("lfs")
        etag = (lfs.get("sha256") if isinstance(lfs, dict) else None) or sibling.get("blobId")
        files[name] = {"size": sibling.get("size"), "etag": etag}
    return checked({"sha": info.get("sha"), "files": files,
                    "safetensors": info.get("safetensors")})


def checked(data: object) -> dict:
    """`data` when it is a record whose every value has its type, else BadRecord."""
    if not isinstance(data, dict):
        raise BadRecord(f"is a JSON {kind(data)}, not an object")
    sha = data.get("sha")
    if not isinstance(sha, str) or not COMMIT.match(sha):
        raise BadRecord(f"names no commit (sha {shown_value(sha)})")
    files = data.get("files")
    if not isinstance(files, dict):
        raise BadRecord(f"has files that are a JSON {kind(files)}, not an object")
    for name, entry in files.items():
        size = entry.get("size") if isinstance(entry, dict) else None
        etag = entry.get("etag") if isinstance(entry, dict) else 0
        if size is not None and not count(size):
            raise BadRecord(f"gives {shown(name)} the size {shown_value(size)}, not a number of"
                            " bytes")
        if etag is not None and not isinstance(etag, str):
            raise BadRecord(f"gives {shown(name)} the etag {shown_value(etag)}, not a string")
    totals = data.get("safetensors")
    if totals is not None:
        data = {**data, "safetensors": checked_totals(totals)}
    return data


def checked_totals(totals: object) -> dict:
    """The hub's safetensors totals: {"parameters": {dtype: n}, "total": n}, integers only."""
    parameters = totals.get("parameters") if isinstance(totals, dict) else None
    if not isinstance(parameters, dict) or not all(count(n) for n in parameters.values()):
        raise BadRecord(f"has parameter counts that are not integers ({shown_value(totals)})")
    total = totals.get("total", sum(parameters.values()))
    if not count(total):
        raise BadRecord(f"has a parameter total that is not an integer ({shown_value(total)})")
    return {"parameters": parameters, "total": total}


def count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63


def kind(value: object) -> str:
    names = {str: "string", list: "list", dict: "object", int: "number", float: "number",
             bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)
