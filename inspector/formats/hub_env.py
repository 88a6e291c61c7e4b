"""huggingface_hub's settings checked before it is imported.

huggingface_hub reads its environment when its `constants` module is imported: `int()` of
HF_HUB_DOWNLOAD_TIMEOUT and HF_HUB_ETAG_TIMEOUT, `urlsplit()` of HF_ENDPOINT. A bad value raises
ValueError from inside the import, and its lazy loader prints "Error importing ..." on stdout
first. Each value is checked here, so that the line says which variable is wrong; the import is
then made directly (not through the package's lazy loader, which is what prints).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from inspector.errors import UsageError

SECONDS = ("HF_HUB_DOWNLOAD_TIMEOUT", "HF_HUB_ETAG_TIMEOUT")  # int() when imported


def check_environment() -> None:
    """UsageError naming the first huggingface_hub variable that cannot be used."""
    for name in SECONDS:
        value = os.environ.get(name)
        if value is None:
            continue
        try:
            seconds = int(value)
        except ValueError:
            seconds = -1
        if seconds < 0:
            raise UsageError(name, f"is {value!r}: set it to a whole number of seconds (e.g. 10)")
    endpoint = os.environ.get("HF_ENDPOINT")
    if endpoint is not None:
        try:
            parts = urlsplit(endpoint.rstrip("/"))
            host = parts.hostname
        except ValueError as e:
            raise UsageError("HF_ENDPOINT", f"is {endpoint!r}, not a URL ({e}): set it to the hub's"
                                            " address, e.g. https://huggingface.co") from None
        if parts.scheme not in ("http", "https") or not host:
            raise UsageError("HF_ENDPOINT", f"is {endpoint!r}, not an http(s) URL: set it to the"
                                            " hub's address, e.g. https://huggingface.co")


def hub_constants():
    """huggingface_hub.constants, imported once the environment is checked."""
    check_environment()
    import importlib

    try:
        return importlib.import_module("huggingface_hub.constants")
    except ValueError as e:  # a setting this module does not know of
        raise UsageError("huggingface_hub", f"cannot start with this environment: {e}") from None
