"""Every request inspector makes of the hub, within bounds, and what its failures mean.

A hub (or whatever HF_ENDPOINT names) may lie: a body of 3 GB where model info is due, one byte a
second (an HTTP client's read timeout restarts with every byte), a status line that never ends.
So each request runs in a thread of its own and is waited for at most its deadline: the whole
request, not the wait between two bytes, within HF_HUB_DOWNLOAD_TIMEOUT seconds (10 by default),
and all the requests of one command within INSPECTOR_HUB_DEADLINE seconds (60). A command makes at
most MAX_REQUESTS requests and receives at most MAX_TOTAL_BYTES bytes; each body is read only as
far as its caller can use (`keep`). A request past its deadline is abandoned: its thread is a
daemon that stops at its next chunk, and the process does not wait for it.

The requests go through huggingface_hub's own HTTP client (`get_session`, which carries its
proxies and redirects) with its headers (`hub_headers`: HF_TOKEN); its errors are named by
`hf_raise_for_status`, and `hub_errors` turns them into one line naming the repo.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from inspector.errors import CheckpointError
from inspector.files.regular import BadFile, require_small
from inspector.formats.hub_env import hub_constants
from inspector.terminal import escape

MAX_REQUESTS = 4_096  # per command: a 2,000-shard index read in two requests a shard, and more
# per command: Kimi K2's index and 140,000 tensor headers are ~30 MB, a 1M-tensor GPTQ MoE's
# ~215 MB; an index at its cap (256 MB) and its headers fit
MAX_TOTAL_BYTES = 1 << 30
ERROR_BODY_BYTES = 64 << 10  # of an error's body, for hf_raise_for_status to quote
DEFAULT_COMMAND_DEADLINE = 60.0
SHOWN_BYTES = 40  # of a server's answer quoted in a message
MAX_TOKEN_FILE_BYTES = 64 << 10  # a token is ~40 characters; an OAuth one a few kilobytes


def hub_headers() -> dict:
    """huggingface_hub's headers (HF_TOKEN, its user agent) without its lookup of AI-agent
    harnesses: to name one in the user agent it would fetch a registry from HF_ENDPOINT (read
    whole, its timeout restarting with every byte) or read its cached copy ($HF_HOME) whole. The
    registry only changes the user agent, so it is taken as empty, before any lookup."""
    from huggingface_hub.utils import _detect_agent, build_hf_headers

    check_token_file()
    if getattr(_detect_agent, "_registry", False) is None:  # not looked up yet
        _detect_agent._registry = getattr(_detect_agent, "_EMPTY_REGISTRY", None)
    return build_hf_headers()


def check_token_file() -> None:
    """huggingface_hub reads its token file ($HF_HOME/token) whole when HF_TOKEN is not set: a
    FIFO there would block, a link to /dev/zero never end. It is read only when it is a small
    regular file."""
    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return  # the file is not read
    path = hub_constants().HF_TOKEN_PATH
    try:
        require_small(path, MAX_TOKEN_FILE_BYTES)
    except BadFile as e:
        raise CheckpointError(path, f"{e.reason}: huggingface_hub's token file; remove it, or"
                                    " set HF_TOKEN") from None


def request_deadline() -> float:
    return float(hub_constants().HF_HUB_DOWNLOAD_TIMEOUT)


def command_deadline() -> float:
    value = os.environ.get("INSPECTOR_HUB_DEADLINE")
    try:
        seconds = float(value) if value else DEFAULT_COMMAND_DEADLINE
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise CheckpointError("INSPECTOR_HUB_DEADLINE", f"is {value!r}: set it to a number of"
                                                        " seconds (e.g. 60)")
    return seconds


def shown(data: bytes | str) -> str:
    """The start of what a server sent, escaped and cut, to quote in a message."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    cut = text[:SHOWN_BYTES] + ("..." if len(text) > SHOWN_BYTES else "")
    return repr(escape(cut))


def shown_value(value: object) -> str:
    """A value from a server's JSON, quoted as `shown` quotes its bytes."""
    import json

    return shown(value if isinstance(value, str) else json.dumps(value))


class Budget:
    """What one command may still ask of the hub: requests, bytes and time."""

    def __init__(self):
        self.deadline = command_deadline()
        self.ends = time.monotonic() + self.deadline
        self.requests = 0
        self.received = 0
        self.lock = threading.Lock()

    def left(self) -> float:
        return self.ends - time.monotonic()


_budget: Budget | None = None
_depth = 0


@contextmanager
def command():
    """One command's budget: the outermost `with command()` starts it, nested ones share it."""
    global _budget, _depth
    if _depth == 0:
        _budget = Budget()
    _depth += 1
    try:
        yield _budget
    finally:
        _depth -= 1


def budget() -> Budget:
    global _budget
    if _budget is None or (_depth == 0 and _budget.left() <= 0):
        _budget = Budget()  # a call outside any command(): a budget of its own
    return _budget


@dataclass
class Answer:
    status: int = 0
    headers: dict = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False  # the body was read to its end
    error: BaseException | None = None
    stop: bool = False  # set when the waiting side gave up


def get(label: str, what: str | None, url: str, headers: dict, keep: int,
        whole: bool = False) -> Answer:
    """GET `url`: its status, headers and the first `keep` bytes of its body (of an error's, at
    most ERROR_BODY_BYTES), within the request's and the command's deadlines and budget. `whole`:
    the body is wanted whole, so one whose Content-Length is `keep` or more is not read at all."""
    spend = budget()
    with spend.lock:
        spend.requests += 1
        if spend.requests > MAX_REQUESTS:
            raise CheckpointError(label, f"over {MAX_REQUESTS:,} requests to the hub in one"
                                         " command: refused")
    wait = min(request_deadline(), spend.left())
    answer = Answer()
    worker = threading.Thread(target=_fetch, args=(answer, spend, label, url, headers, keep, whole),
                              daemon=True)
    worker.start()
    worker.join(max(wait, 0))
    if worker.is_alive():
        answer.stop = True
        raise CheckpointError(label, late(what, wait, spend))
    if answer.error is not None:
        with hub_errors(label, what):
            raise answer.error
    return answer


def late(what: str | None, waited: float, spend: Budget) -> str:
    endpoint = hub_constants().ENDPOINT
    thing = f"'{what}'" if what else "the model info"
    if spend.left() <= 0.05:
        limit = f"{spend.deadline:g} s for {thing} (INSPECTOR_HUB_DEADLINE, for all of a command)"
    else:
        limit = f"{waited:g} s for {thing} (HF_HUB_DOWNLOAD_TIMEOUT)"
    return (f"the hub ({endpoint}) did not answer within {limit}: try again, or set"
            " HF_HUB_OFFLINE=1 to use only the cache")


def _fetch(answer: Answer, spend: Budget, label: str, url: str, headers: dict, keep: int,
           whole: bool) -> None:
    from huggingface_hub.utils import get_session

    try:
        timeout = request_deadline()
        headers = {**headers, "Accept-Encoding": "identity"}  # bytes as sent: no inflating
        with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
            answer.status, answer.headers = response.status_code, dict(response.headers)
            if response.status_code >= 400:
                keep = min(keep, ERROR_BODY_BYTES)
            elif whole and announced(answer) >= keep:
                return  # too long to be what is asked for: the caller says so
            for chunk in response.iter_raw():
                if answer.stop:
                    return
                with spend.lock:
                    spend.received += len(chunk)
                    over = spend.received > MAX_TOTAL_BYTES
                if over:
                    raise CheckpointError(label, f"the hub sent over {MAX_TOTAL_BYTES:,} bytes in"
                                                 " one command: refused")
                answer.body += chunk[:keep - len(answer.body)]
                if len(answer.body) >= keep:
                    return  # enough: the rest is left unread
            answer.ended = True
    except BaseException as e:  # noqa: BLE001  (handed to the waiting thread, which names it)
        answer.error = e


def announced(answer: Answer) -> int:
    """The body's length by its Content-Length (0 when it gives none that is a number)."""
    value = answer.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else 0


def raise_for_status(label: str, what: str | None, url: str, answer: Answer) -> None:
    """huggingface_hub's reading of an error status (RepoNotFound, GatedRepo, ...), as one line."""
    if answer.status < 400:
        return
    import httpx2
    from huggingface_hub.utils import hf_raise_for_status

    response = httpx2.Response(answer.status, headers=answer.headers, content=bytes(answer.body),
                               request=httpx2.Request("GET", url))
    with hub_errors(label, what):
        hf_raise_for_status(response)
    raise CheckpointError(label, f"the hub answered {answer.status} for"
                                 f" {repr(what) if what else 'the model info'}")


class hub_errors:
    """Turns what huggingface_hub and its HTTP client raise into one line that names the repo
    and says what to do."""

    def __init__(self, label: str, name: str | None):
        self.label, self.name = label, name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb) -> bool:
        if error is None:
            return False
        if isinstance(error, CheckpointError):
            return False
        cause = describe(error, self.label, self.name)
        if cause is None:
            return False
        raise CheckpointError(self.label, cause) from error


def describe(error: BaseException, label: str, name: str | None) -> str | None:
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = hub_constants().ENDPOINT
    repo_id, _, revision = label.partition("@")
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
        return (f"the hub ({endpoint}) did not answer within {request_deadline():g} s for {what}"
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
