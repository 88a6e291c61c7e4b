"""Fill the home folder's caches as a user's machine has them, so that a test that is not
hermetic fails in CI: `inspector inspect openai-community/gpt2` against a hub on 127.0.0.1
(tests/hub_server.py, serving the published GPT-2's headers) with the default caches, which
writes gpt2's model info and headers into ~/.cache/inspector (or $XDG_CACHE_HOME/inspector), as
anyone who ever inspected gpt2 has them. Then shows that the cache answers: offline, with an
empty Hugging Face cache, `inspect openai-community/gpt2` exits 0, where
tests/test_malformed.py::test_hub_id_not_in_the_cache_while_offline expects exit 2 from a
hermetic suite."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
USER_ENVIRONMENT = {k: v for k, v in os.environ.items()
                    if k not in ("INSPECTOR_CACHE", "HF_HOME", "HF_HUB_CACHE")}
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from gpt2_files import write_gpt2  # noqa: E402  (imports tests/conftest.py, which moves the caches)
from hub_server import HubServer  # noqa: E402


def inspector(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True,
                          text=True, env={**USER_ENVIRONMENT, "PYTHONPATH": str(REPO), **env},
                          check=False)


def main() -> int:
    with tempfile.TemporaryDirectory() as temp, HubServer() as hub:
        hub.add("openai-community/gpt2", write_gpt2(Path(temp) / "published", "published"))
        read = inspector("inspect", "openai-community/gpt2", HF_ENDPOINT=hub.url,
                         HF_HUB_OFFLINE="0", HF_HUB_CACHE=str(Path(temp) / "hub"))
        offline = inspector("inspect", "openai-community/gpt2", HF_HUB_OFFLINE="1",
                            HF_HUB_CACHE=str(Path(temp) / "empty"))
    if read.returncode != 0 or offline.returncode != 0:
        print("could not populate the home caches:", read.stderr, offline.stderr, file=sys.stderr)
        return 1
    print("home caches populated: offline `inspector inspect openai-community/gpt2` answers from"
          " the home's inspector cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
