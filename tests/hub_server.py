"""A Hugging Face hub on 127.0.0.1 for tests and benchmarks: the routes huggingface_hub calls,
serving files written to disk, with HTTP Range requests, counters and injectable trouble.

Routes (as huggingface_hub 2.x builds them):
  GET       /api/models/{repo}                      model info (sha, siblings, safetensors)
  GET       /api/models/{repo}/revision/{rev}       the same at a branch, tag or commit
  GET       /api/models/{repo}/tree/{rev}           the file listing (snapshot_download's)
  GET/HEAD  /{repo}/resolve/{rev}/{file}            a file; Range -> 206 with Content-Range,
                                                    a range past the end -> 416; headers
                                                    X-Repo-Commit, ETag, X-Linked-Size
Errors carry the hub's X-Error-Code (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound),
which huggingface_hub's hf_raise_for_status turns into its own exception types.

Every request is logged as (method, path, range asked, bytes of body sent); `delay` seconds are
added to each request; `fail` maps a path suffix to a status to answer instead (or "cut" to
promise a body and close the connection half way, or "hang" to never answer, or a `Raw` answer: a
lying server's own status, headers and body, sent as fast as the client reads or one byte a
second).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
INFO = re.compile(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?$")
TREE = re.compile(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)/?$")


@dataclass
class Raw:
    """An answer as a misbehaving server sends it: `body` repeated `repeat` times (a 3 GB body
    costs the server 1 MB), every byte of the answer `drip` seconds apart when `drip` (status line
    and headers too, when `drip_head`)."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    repeat: int = 1
    drip: float = 0.0
    drip_head: bool = False
    length: bool = True  # send a Content-Length (else the body ends when the connection does)


@dataclass
class Repo:
    folder: Path  # the files served, by their name relative to it
    commit: str
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit
    gated: bool = False  # 401 GatedRepo unless the request carries `token`
    token: str | None = None  # the token that opens a gated or private repo
    private: bool = False  # 401 RepoNotFound without the token, as the hub answers
    safetensors: dict | None = None  # model info's {"parameters": {dtype: n}, "total": n}

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())


def etag(path: Path) -> str:
    """The hub's ETag of an LFS file is its sha256; a hole file's first MB stands in for it."""
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read(1 << 20))
    digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()


class HubServer:
    def __init__(self, delay: float = 0.0):
        self.repos: dict[str, Repo] = {}
        self.delay = delay
        self.fail: dict[str, object] = {}  # path suffix -> status code, "cut" or "hang"
        self.log: list[tuple[str, str, str | None, int]] = []
        self.active = 0
        self.most_active = 0  # the most requests in flight at once
        self._lock = threading.Lock()
        self._etags: dict[Path, str] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, repo_id: str, folder: Path, commit: str | None = None, **kwargs) -> Repo:
        commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
        repo = Repo(Path(folder), commit, **kwargs)
        repo.branches.setdefault("main", commit)
        self.repos[repo_id] = repo
        return repo

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self.most_active = 0

    def requests(self, contains: str = "") -> list[tuple[str, str, str | None, int]]:
        return [entry for entry in self.log if contains in entry[1]]

    def bytes_sent(self, contains: str = "") -> int:
        return sum(entry[3] for entry in self.requests(contains))

    def etag_of(self, path: Path) -> str:
        if path not in self._etags:
            self._etags[path] = etag(path)
        return self._etags[path]


def _handler(hub: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the log list is the record
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            with hub._lock:
                hub.active += 1
                hub.most_active = max(hub.most_active, hub.active)
            sent = 0
            try:
                time.sleep(hub.delay)
                trouble = next((v for k, v in hub.fail.items() if path.endswith(k)), None)
                if trouble == "hang":  # logged now: it ends only with the process
                    with hub._lock:
                        hub.log.append((self.command, path, self.headers.get("Range"), 0))
                    time.sleep(3600)
                if path == "/api/agent-harnesses":  # huggingface_hub's once-a-day user-agent
                    sent = (self._raw(trouble) if isinstance(trouble, Raw)  # lookup: not part
                            else self._json({"standardEnvVars": [], "harnesses": {}}))  # of
                    return  # reading a repo, so not logged
                if isinstance(trouble, Raw):
                    sent = self._raw(trouble)
                elif isinstance(trouble, int):
                    code = {401: "RepoNotFound", 404: "EntryNotFound"}.get(trouble, "Injected")
                    sent = self._error(trouble, code, "injected failure")
                elif (m := INFO.match(path)) and body:
                    sent = self._info(m.group(1), m.group(2))
                elif (m := TREE.match(path)) and body:
                    sent = self._tree(m.group(1), m.group(2))
                elif m := RESOLVE.match(path):
                    sent = self._file(m.group(1), m.group(2), m.group(3), body, trouble == "cut")
                else:
                    sent = self._error(404, "RepoNotFound", f"no route for {path}")
            finally:
                with hub._lock:
                    hub.active -= 1
                    if path != "/api/agent-harnesses":
                        hub.log.append((self.command, path, self.headers.get("Range"), sent))

        def _repo(self, repo_id: str, revision: str | None) -> tuple[Repo | None, str | None, int]:
            """(repo, commit, 0), or (None, None, bytes sent) after answering with an error."""
            repo = hub.repos.get(repo_id)
            authorized = repo is not None and (
                repo.token is None or self.headers.get("Authorization") == f"Bearer {repo.token}")
            if repo is None or (repo.private and not authorized):
                return None, None, self._error(401, "RepoNotFound", "Repository not found")
            if repo.gated and not authorized:
                return None, None, self._error(401, "GatedRepo", "Access to this repo is gated")
            revision = revision or "main"
            known = revision in repo.branches.values()  # a commit some branch points at
            commit = repo.branches.get(revision, revision if known else None)
            if commit is None:
                return None, None, self._error(404, "RevisionNotFound", "Invalid rev id")
            return repo, commit, 0

        def _info(self, repo_id: str, revision: str | None) -> int:
            repo, commit, sent = self._repo(repo_id, revision)
            if repo is None:
                return sent
            siblings = []
            for p in repo.files():
                size = p.stat().st_size
                siblings.append({"rfilename": p.relative_to(repo.folder).as_posix(), "size": size,
                                 "blobId": hub.etag_of(p)[:40],
                                 "lfs": {"size": size, "sha256": hub.etag_of(p),
                                         "pointerSize": 134}})
            info = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": repo.private,
                    "gated": "auto" if repo.gated else False, "siblings": siblings}
            if repo.safetensors is not None:
                info["safetensors"] = repo.safetensors
            return self._json(info)

        def _tree(self, repo_id: str, revision: str) -> int:
            repo, _, sent = self._repo(repo_id, revision)
            if repo is None:
                return sent
            return self._json([{"type": "file", "path": p.relative_to(repo.folder).as_posix(),
                                "size": p.stat().st_size, "oid": hub.etag_of(p)[:40]}
                               for p in repo.files()])

        def _json(self, document: object) -> int:
            data = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return len(data)

        def _file(self, repo_id: str, revision: str, name: str, body: bool, cut: bool) -> int:
            repo, commit, sent = self._repo(repo_id, revision)
            if repo is None:
                return sent
            path = repo.folder / name
            if not path.is_file():
                return self._error(404, "EntryNotFound", f"{name} does not exist")
            size = path.stat().st_size
            start, end = 0, size - 1
            status = 200
            asked = self.headers.get("Range")
            if asked:
                m = re.fullmatch(r"bytes=(\d+)-(\d*)", asked.strip())
                start = int(m.group(1))
                end = min(size - 1, int(m.group(2))) if m.group(2) else size - 1
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return 0
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{hub.etag_of(path)}"')
            self.send_header("X-Linked-Size", str(size))
            self.send_header("X-Linked-ETag", f'"{hub.etag_of(path)}"')
            self.send_header("X-Repo-Commit", commit)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if not body:
                return 0
            if cut:
                length //= 2
            with open(path, "rb") as f:
                f.seek(start)
                left, sent = length, 0
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    left -= len(chunk)
            if cut:
                self.close_connection = True
            return sent

        def _raw(self, raw: Raw) -> int:
            length = {"Content-Length": str(len(raw.body) * raw.repeat)} if raw.length else {}
            headers = {**length, **raw.headers}
            head = f"HTTP/1.1 {raw.status} Lie\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            self.close_connection = True
            try:
                self._send(head.encode("latin-1"), raw.drip if raw.drip_head else 0.0)
                sent = 0
                for _ in range(raw.repeat):
                    sent += self._send(raw.body, raw.drip)
            except OSError:  # the client gave up: what a lying server sees
                return 0
            return sent

        def _send(self, data: bytes, drip: float) -> int:
            if not drip:
                self.wfile.write(data)
                return len(data)
            for k in range(len(data)):
                self.wfile.write(data[k:k + 1])
                self.wfile.flush()
                time.sleep(drip)
            return len(data)

        def _error(self, status: int, code: str, message: str) -> int:
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
                return len(data)
            return 0

    return Handler


def serve_forever_from_env() -> None:  # pragma: no cover - a manual aid
    """`python tests/hub_server.py REPO_ID FOLDER`: serve one folder, print HF_ENDPOINT."""
    import sys

    with HubServer(delay=float(os.environ.get("HUB_DELAY", "0"))) as hub:
        hub.add(sys.argv[1], Path(sys.argv[2]))
        print(f"HF_ENDPOINT={hub.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    serve_forever_from_env()
