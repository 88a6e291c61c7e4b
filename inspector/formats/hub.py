"""Hub ids (`openai-community/gpt2`) resolved to a folder through huggingface_hub's cache.

Offline (HF_HUB_OFFLINE=1) only the cache is read; online, the weights and config.json are
downloaded into the same cache by huggingface_hub and read from there.
"""

from __future__ import annotations

import json
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.formats import FOLDER_WEIGHTS


def resolve(repo_id: str, revision: str | None = None) -> Path:
    """The snapshot folder holding the repo's weights (and config.json when it has one).

    A snapshot already in the cache answers at once, with no round trip (only headers are read,
    and a revision's files do not change); otherwise, unless offline, it is downloaded."""
    import huggingface_hub

    _check_repo_id(repo_id)
    cached = _cached(repo_id, revision)
    if cached is not None:
        return cached
    if huggingface_hub.is_offline_mode():
        from huggingface_hub import constants

        raise CheckpointError(
            repo_id,
            f"no weights in the Hugging Face cache ({constants.HF_HUB_CACHE}) for revision"
            f" {revision or 'main'}: looked for {', '.join(FOLDER_WEIGHTS)}; offline mode is on"
            " (HF_HUB_OFFLINE=1), so nothing was downloaded",
        )
    return _download(repo_id, revision)


def _check_repo_id(repo_id: str) -> None:
    """huggingface_hub's own rule for a repo id (no `..` or `--`, at most 96 characters, ...),
    applied before any lookup, so that its HFValidationError becomes one line naming the id."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(repo_id, f"not a file, a folder or a valid hub id: {reason}") from e


def _cached(repo_id: str, revision: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for name in FOLDER_WEIGHTS:
        found = try_to_load_from_cache(repo_id, name, revision=revision)
        if isinstance(found, str):
            return Path(found).parent
    return None


def _download(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import hf_hub_download, list_repo_files
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # its retry warnings would break our one-line contract
    try:
        files = set(list_repo_files(repo_id, revision=revision))
        weights = next((name for name in FOLDER_WEIGHTS if name in files), None)
        if weights is None:
            raise CheckpointError(repo_id, f"the repo has none of {', '.join(FOLDER_WEIGHTS)}")
        wanted = [weights] + (["config.json"] if "config.json" in files else [])
        if weights.endswith(".index.json"):
            index = hf_hub_download(repo_id, weights, revision=revision)
            shards = json.loads(Path(index).read_text()).get("weight_map", {}).values()
            wanted += sorted(set(shards))
        paths = [hf_hub_download(repo_id, name, revision=revision) for name in wanted]
    except CheckpointError:
        raise
    except Exception as e:  # the HTTP layer's error types change with huggingface_hub's version
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(repo_id, f"cannot fetch from the Hugging Face hub ({reason}) and the"
                                       " cache has no weights for it") from e
    return Path(paths[0]).parent
