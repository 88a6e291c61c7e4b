"""`inspector scan`: every model repo and revision in the Hugging Face cache, header-only.

The cache is walked by huggingface_hub's own scanner (`scan_cache_dir`), which knows its layout
(blobs, snapshots of symlinks, refs). Each revision's snapshot is opened as a folder, as `inspect`
opens it; a revision that cannot be read (a download cut short, a pickle-only repo) is still a
row, with the reason in its `note`, so that one bad entry does not hide the rest.

Active parameters: k of E routed experts of a mixture of experts (every parameter of a dense
model); '-' for a config that names experts of a family inspector does not read per expert.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from inspector.errors import CheckpointError, InspectorError

COLUMNS = ["repo", "revision", "family", "parameters", "active", "dtypes", "bytes_on_disk",
           "note"]
# config.json keys that say a model routes tokens to experts.
EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")


def scan(cache_dir: str | None = None) -> dict:
    """{"cache": dir, "revisions": [row per repo revision], "warnings": [...]}, and a "note"
    when the default cache (HF_HUB_CACHE) does not exist yet."""
    from inspector.formats.hub_env import hub_constants

    constants = hub_constants()  # huggingface_hub's settings, checked before it is imported
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    check_refs(Path(cache_dir or constants.HF_HUB_CACHE))
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound as e:
        if cache_dir is not None:  # a folder named and not there: a mistake worth exit 2
            raise CheckpointError(cache_dir, "no Hugging Face cache there") from e
        # Nothing downloaded yet on this machine: the answer is an empty list, not an error.
        return {"cache": str(e.cache_dir), "revisions": [], "warnings": [],
                "note": f"no Hugging Face cache at {e.cache_dir} yet (nothing downloaded):"
                        " no revisions"}
    rows = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: (sorted(r.refs), r.commit_hash)):
            rows.append(_row(repo.repo_id, revision))
    return {"cache": str(info.cache_dir or cache_dir or ""), "revisions": rows,
            "warnings": [str(w) for w in info.warnings]}


def check_refs(cache: Path) -> None:
    """huggingface_hub's scanner reads every ref whole and blocks on a FIFO: each one is checked
    to be a small regular file first, and a damaged one refused in one line naming it."""
    from inspector.formats.hub import MAX_REF_BYTES, check_cached_file

    for refs in cache.glob("*/refs"):
        for path in refs.rglob("*"):
            check_cached_file(path, MAX_REF_BYTES)


def _row(repo_id: str, revision) -> dict:
    name = ",".join(sorted(revision.refs)) or revision.commit_hash[:12]
    row = {"repo": repo_id, "revision": name, "family": None, "parameters": None,
           "active": None, "dtypes": "", "bytes_on_disk": revision.size_on_disk, "note": ""}
    try:
        row.update(_headers(Path(revision.snapshot_path)))
    except InspectorError as e:
        row["note"] = e.cause
    return row


def _headers(folder: Path) -> dict:
    from inspector.checkpoint.inspection import inspect_source
    from inspector.vocab.tables import active_total, total

    inspection = inspect_source(str(folder))  # the snapshot, as `inspect` reads a folder
    checkpoint = inspection.decoupled.checkpoint
    parameters = total(inspection.rows)
    config = checkpoint.config or {}
    experts = any(config.get(k) for k in EXPERT_KEYS)
    read_per_expert = any(r.expert is not None for r in inspection.rows)
    k = inspection.spec.experts_per_token if inspection.spec is not None else None
    active = active_total(inspection.rows, k) if read_per_expert or not experts else None
    dtypes = Counter(t.dtype for t in checkpoint.tensors)
    return {"family": inspection.shape.family, "parameters": parameters, "active": active,
            "dtypes": ", ".join(f"{k} x{v}" for k, v in dtypes.most_common())}
