"""The hostile corpus of the network and the caches: a hub server that lies (tests/hub_server.py's
`Raw` answers and repos of hostile files), damaged entries of inspector's header cache and of
huggingface_hub's cache, FIFOs and sparse files, and huggingface_hub settings that cannot be used.

Each refusal is measured in its own child process (hostile_files.run_measured): exit 2, one stderr
line naming the repo or file and the cause, nothing on stdout, within 15 s and 1 GB, and nothing
written outside the caches. The deadlines are made short through the environment
(HF_HUB_DOWNLOAD_TIMEOUT per request, INSPECTOR_HUB_DEADLINE per command) so that a server that
drips or hangs costs seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest
from hostile_files import MAX_PEAK_BYTES, run_measured
from hub_server import HubServer, Raw
from malformed_files import assert_refused, raw_safetensors, write_tiny_gpt2
from test_hostile import snapshot
from test_hub import add_to_cache

MAX_WALL_S = 15.0
GB = 1 << 30
TINY_CONFIG = {"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, "n_embd": 32,
               "n_layer": 2, "n_head": 4}
TINY_PARAMETERS = 29_184  # write_tiny_gpt2's tensors, as `inspect` counts them


def gguf_bytes(*kvs: bytes, tensors: int = 0) -> bytes:
    """A GGUF v3 header with these key-values (see gguf_kv) and no tensor table."""
    return b"GGUF" + struct.pack("<IQQ", 3, tensors, len(kvs)) + b"".join(kvs)


def gguf_string(text: bytes, length: int | None = None) -> bytes:
    return struct.pack("<Q", len(text) if length is None else length) + text


def gguf_kv(key: str, kind: int, value: bytes) -> bytes:
    return gguf_string(key.encode()) + struct.pack("<I", kind) + value


def info_json(**fields) -> bytes:
    sha = "ab" * 20
    return json.dumps({"id": "x", "sha": sha, **fields}).encode()


def json_raw(body: bytes, **kwargs) -> Raw:
    return Raw(200, {"Content-Type": "application/json"}, body, **kwargs)


# repo -> (what the server does, fragments of the cause). Model info answers are keyed by the
# info route, file answers by the file's name.
LIES = {
    "huge-info": ({"/api/models/acme/huge-info": json_raw(b" " * (1 << 20), repeat=3 * 1024)},
                  ["model info is over 67,108,864 bytes"]),
    "huge-info-unannounced": ({"/api/models/acme/huge-info-unannounced": json_raw(
        b" " * (1 << 20), repeat=3 * 1024, length=False)}, []),
    "drip-info": ({"/api/models/acme/drip-info": json_raw(info_json(), drip=1.0)},
                  ["did not answer within 2 s", "HF_HUB_DOWNLOAD_TIMEOUT"]),
    "drip-status-line": ({"/api/models/acme/drip-status-line": json_raw(info_json(), drip=0.5,
                                                                         drip_head=True)},
                         ["did not answer within 2 s"]),
    "html-info": ({"/api/models/acme/html-info": Raw(200, {"Content-Type": "text/html"},
                                                     b"<html><body>\x1b[2J" + b"x" * 500)},
                  ["model info is not JSON", "it starts", "\\x1b"]),
    "deep-info": ({"/api/models/acme/deep-info": json_raw(b"[" * 1_000_000)},
                  ["model info is not JSON", "nested too deeply"]),
    "sha-not-a-commit": ({"/api/models/acme/sha-not-a-commit": json_raw(json.dumps(
        {"sha": "../../etc"}).encode())}, ["names no commit", "../../etc"]),
    "list-info": ({"/api/models/acme/list-info": json_raw(b"[1, 2, 3]")},
                  ["model info is a JSON list, not an object"]),
    "size-string": ({"/api/models/acme/size-string": json_raw(info_json(siblings=[
        {"rfilename": "model.safetensors", "size": "12GB"}]))},
        ["gives 'model.safetensors' the size", "12GB", "not a number of bytes"]),
    "no-rfilename": ({"/api/models/acme/no-rfilename": json_raw(info_json(siblings=[
        {"size": 12}]))}, ["siblings[0] has no rfilename"]),
    "siblings-string": ({"/api/models/acme/siblings-string": json_raw(info_json(
        siblings="model.safetensors"))}, ["siblings that are a JSON string"]),
    "counts-not-integers": ({"/api/models/acme/counts-not-integers": json_raw(info_json(
        safetensors={"parameters": {"F32": "many"}, "total": 5}))},
        ["parameter counts that are not integers", "many"]),
    "garbage-content-range": ({}, ["unusable Content-Range", "<script>", "..."]),
    "lying-416": ({}, ["answered 416", "a lying answer"]),
    "lying-size": ({}, ["gives the file 999,999 bytes in one answer and"]),
    "drip-header": ({}, ["did not answer within 2 s", "'model.safetensors'"]),
    "hang-header": ({}, ["did not answer within 2 s", "'model.safetensors'"]),
}


def file_lies(repo: str, folder: Path) -> dict:
    """The answers for model.safetensors of `repo` that lie about its bytes."""
    size = (folder / "model.safetensors").stat().st_size
    head = (folder / "model.safetensors").read_bytes()[:4096]
    key = "/model.safetensors"  # the only file asked for in this test
    case = repo.split("/")[1]
    if case == "garbage-content-range":
        return {key: Raw(206, {"Content-Range": "bytes <script>0-99/" + "9" * 80}, head)}
    if case == "lying-416":
        return {key: Raw(416, {"Content-Range": f"bytes */{size * 1000}"}, b"")}
    if case == "lying-size":
        return {key: Raw(206, {"Content-Range": f"bytes 0-{len(head) - 1}/999999"}, head)}
    if case == "drip-header":
        return {key: Raw(206, {"Content-Range": f"bytes 0-{len(head) - 1}/{size}"}, head, drip=1.0)}
    if case == "hang-header":
        return {key: "hang"}
    return {}


# repo -> (write the repo's files into the folder, fragments of the cause): hostile files served
# as they are.
GGUF_STRING, GGUF_ARRAY = 8, 9


def _deep_config(folder: Path) -> None:
    write_tiny_gpt2(folder / "model.safetensors")
    (folder / "config.json").write_bytes(b"[" * 1_000_000)


def _values_index(folder: Path) -> None:
    (folder / "model.safetensors.index.json").write_bytes(b"[" + b"[]," * 20_000_000 + b"[]]")


def _many_shards(folder: Path) -> None:
    weight_map = {f"w{k}": f"model-{k:06}.safetensors" for k in range(100_000)}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


def _gguf_name_of_3e9(folder: Path) -> None:
    with open(folder / "model.gguf", "wb") as f:
        f.write(gguf_bytes(gguf_kv("general.name", GGUF_STRING, gguf_string(b"x", 3_000_000_000))))
        f.truncate(100 * GB)  # sparse: the server says 100 GB


def _gguf_of_2m_strings(folder: Path) -> None:
    item = gguf_string(b"t" * 30)
    array = struct.pack("<IQ", GGUF_STRING, 2_000_000) + item * 2_000_000
    (folder / "model.gguf").write_bytes(gguf_bytes(gguf_kv("tokenizer.ggml.tokens", GGUF_ARRAY,
                                                           array)))


SERVED = {
    "deep-config": (_deep_config, ["config.json", "nested too deeply"]),
    "values-index": (_values_index, ["model.safetensors.index.json", "JSON values"]),
    "many-shards": (_many_shards, ["names 100,000 shards, more than the 2,000"]),
    "gguf-name-3e9": (_gguf_name_of_3e9, ["model.gguf", "runs past byte 3,000,000,0"]),
    "gguf-2m-strings": (_gguf_of_2m_strings, ["model.gguf", "more than the 33,554,432 bytes"]),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lying")
    ok = root / "ok"
    ok.mkdir()
    write_tiny_gpt2(ok / "model.safetensors")
    (ok / "config.json").write_text(json.dumps(TINY_CONFIG))
    small = root / "small"
    small.mkdir()
    raw_safetensors(small / "model.safetensors", {"w": {"dtype": "F32", "shape": [80],
                                                         "data_offsets": [0, 320]}}, b"\0" * 320)
    with HubServer() as hub:
        hub.add("acme/ok", ok)
        hub.add("acme/small", small)
        for case in LIES:
            hub.add(f"acme/{case}", ok)
        for case, (write, _) in SERVED.items():
            (root / case).mkdir()
            write(root / case)
            hub.add(f"acme/{case}", root / case)
        yield hub, root


@pytest.fixture
def hub(server, tmp_path):
    hub, root = server
    hub.fail.clear()
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "INSPECTOR_CACHE": str(tmp_path / "ic"),
           "HF_HUB_OFFLINE": "0", "HF_TOKEN": "", "HF_HUB_DOWNLOAD_TIMEOUT": "2",
           "INSPECTOR_HUB_DEADLINE": "8"}
    return hub, root, env


def refused_within_bounds(tmp_path: Path, env: dict, name: str, causes: list[str], *args):
    """The command refused in one line, within 15 s and 1 GB, nothing written but the caches."""
    caches = [Path(env[k]) for k in ("HF_HOME", "INSPECTOR_CACHE") if k in env]
    before = snapshot(tmp_path, caches[0]) if caches else None
    result = run_measured(*args, env=env, cwd=tmp_path)
    print(f"{args}: {result.peak_bytes / 2**20:.0f} MiB, {result.wall_s:.2f} s:"
          f" {result.stderr.strip()}")
    assert "Traceback" not in result.stderr, result.stderr
    line = assert_refused(result, name, *causes)
    assert result.stdout == ""
    assert result.wall_s < MAX_WALL_S, f"{result.wall_s:.1f} s"
    assert result.peak_bytes < MAX_PEAK_BYTES, f"{result.peak_bytes:,} bytes at peak"
    if before is not None:
        after = snapshot(tmp_path, caches[0])
        assert {k: v for k, v in after.items() if not k.startswith("ic")} == \
               {k: v for k, v in before.items() if not k.startswith("ic")}
    return line


@pytest.mark.parametrize("case", LIES)
def test_a_lying_hub_is_refused_in_one_line(hub, tmp_path, case):
    server, root, env = hub
    answers, causes = LIES[case]
    server.fail.update(answers)
    server.fail.update(file_lies(f"acme/{case}", root / "ok"))
    line = refused_within_bounds(tmp_path, env, f"acme/{case}", causes, "inspect", f"acme/{case}")
    assert "error: hub:" not in line


@pytest.mark.parametrize("case", SERVED)
def test_a_hostile_file_on_the_hub_is_refused_in_one_line(hub, tmp_path, case):
    _, _, env = hub
    refused_within_bounds(tmp_path, env, f"acme/{case}", SERVED[case][1], "inspect", f"acme/{case}")


def test_a_command_deadline_bounds_all_requests(hub, tmp_path):
    """Each request within its own deadline, but together past the command's."""
    server, _, env = hub
    server.delay = 1.5
    try:
        refused_within_bounds(tmp_path, {**env, "INSPECTOR_HUB_DEADLINE": "2"}, "acme/ok",
                              ["INSPECTOR_HUB_DEADLINE"], "inspect", "acme/ok")
    finally:
        server.delay = 0.0


@pytest.mark.parametrize("kind", ["drip", "huge", "dev-zero", "fifo"])
def test_huggingface_hubs_agent_lookup_is_not_made(hub, tmp_path, kind):
    """build_hf_headers would fetch /api/agent-harnesses (read whole, its timeout per byte) or
    read its cached copy in HF_HOME whole: neither is read."""
    server, _, env = hub
    if kind in ("drip", "huge"):
        server.fail["/api/agent-harnesses"] = json_raw(b" " * (1 << 20), repeat=3 * 1024,
                                                       drip=1.0 if kind == "drip" else 0.0)
    else:
        registry = Path(env["HF_HOME"]) / ".agent_harnesses.json"
        registry.parent.mkdir(parents=True)
        registry.touch()
        damage_with(kind, registry, registry)
    assert parameters_of(tmp_path, {**env, "AI_AGENT": "x"}, "acme/ok") == (TINY_PARAMETERS, "")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse-3gb"])
def test_a_damaged_token_file_is_refused(hub, tmp_path, kind):
    _, _, env = hub
    token = Path(env["HF_HOME"]) / "token"
    token.parent.mkdir(parents=True)
    token.touch()
    damage_with(kind, token, token)
    refused_within_bounds(tmp_path, env, "hf/token", ["huggingface_hub's token file"],
                          "inspect", "acme/ok")


@pytest.mark.parametrize("variable, value", [("HF_HUB_DOWNLOAD_TIMEOUT", "abc"),
                                             ("HF_ENDPOINT", "http://[::1"),
                                             ("HF_ENDPOINT", "ftp://example.org")])
def test_unusable_hub_settings_are_one_line_naming_the_variable(hub, tmp_path, variable, value):
    _, _, env = hub
    refused_within_bounds(tmp_path, {**env, variable: value}, variable, [repr(value)],
                          "inspect", "acme/ok")


# --- inspector's header cache --------------------------------------------------------------------

def parameters_of(tmp_path, env, source) -> tuple[int, str]:
    result = run_measured("inspect", source, "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.wall_s < MAX_WALL_S and result.peak_bytes < MAX_PEAK_BYTES
    return json.loads(result.stdout)["parameters"], result.stderr


def head_entry(env, server, root, repo="ok") -> Path:
    return Path(env["INSPECTOR_CACHE"]) / "heads" / server.etag_of(root / repo / "model.safetensors")


def damage_with(kind: str, entry: Path, other: Path) -> None:
    entry.unlink()
    if kind == "dev-zero":
        entry.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(entry)
    elif kind == "sparse-3gb":
        with open(entry, "wb") as f:
            f.truncate(3 * GB)
    elif kind == "garbage":
        entry.write_bytes(b"\x1b[2J not an entry")
    elif kind == "another-valid-entry":
        shutil.copyfile(other, entry)


DAMAGE = ["dev-zero", "fifo", "sparse-3gb", "garbage", "another-valid-entry", "flipped-byte"]


def flip_a_byte(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[-3] ^= 1
    entry.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_head_entry_is_dropped_with_one_warning_and_healed(hub, tmp_path, kind):
    """A cached header replaced by another valid one (of 80 parameters) is not believed."""
    server, root, env = hub
    assert parameters_of(tmp_path, env, "acme/ok") == (TINY_PARAMETERS, "")
    assert parameters_of(tmp_path, env, "acme/small")[0] == 80
    entry = head_entry(env, server, root)
    original = entry.read_bytes()
    if kind == "flipped-byte":
        flip_a_byte(entry)
    else:
        damage_with(kind, entry, head_entry(env, server, root, "small"))
    commit = server.repos["acme/ok"].commit
    for source in ("acme/ok", f"acme/ok@{commit}"):
        count, stderr = parameters_of(tmp_path, env, source)
        assert count == TINY_PARAMETERS
        if source == "acme/ok":  # the first run drops the entry, with one warning
            lines = stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("inspector: warning: "), stderr
            assert "inspector's cache" in lines[0] and env["INSPECTOR_CACHE"] in lines[0]
            assert "acme/ok/model.safetensors" in lines[0]
        else:  # healed: read again and kept
            assert stderr == ""
    assert entry.read_bytes() == original


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse-3gb", "files-a-string"])
def test_a_damaged_info_entry_is_dropped_with_one_warning(hub, tmp_path, kind):
    server, _root, env = hub
    commit = server.repos["acme/ok"].commit
    parameters_of(tmp_path, env, "acme/ok")
    entry = Path(env["INSPECTOR_CACHE"]) / "info" / "acme--ok" / f"{commit}.json"
    if kind == "files-a-string":
        entry.write_text(json.dumps({"sha": commit, "files": "model.safetensors"}))
    else:
        damage_with(kind, entry, entry)
    count, stderr = parameters_of(tmp_path, env, f"acme/ok@{commit}")
    assert count == TINY_PARAMETERS
    assert len(stderr.splitlines()) == 1 and "inspector's cache" in stderr, stderr
    assert parameters_of(tmp_path, env, f"acme/ok@{commit}") == (TINY_PARAMETERS, "")


# --- huggingface_hub's cache ---------------------------------------------------------------------

def cached_repo(tmp_path, env, server, root) -> Path:
    """acme/ok as a download leaves it in HF_HUB_CACHE; returns its repo folder."""
    cache = Path(env["HF_HUB_CACHE"])
    copy = shutil.copytree(root / "ok", tmp_path / "download")  # add_to_cache moves the files
    add_to_cache(cache, "acme/ok", copy, commit=server.repos["acme/ok"].commit)
    return cache / "models--acme--ok"


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse-3gb"])
@pytest.mark.parametrize("command", ["inspect", "scan"])
def test_a_damaged_ref_in_the_hub_cache_is_refused(hub, tmp_path, kind, command):
    server, root, env = hub
    ref = cached_repo(tmp_path, env, server, root) / "refs" / "main"
    damage_with(kind, ref, ref)
    args = ["scan", env["HF_HUB_CACHE"]] if command == "scan" else ["inspect",
                                                                                    "acme/ok"]
    refused_within_bounds(tmp_path, {k: v for k, v in env.items() if k != "HF_HOME"},
                          "refs/main", ["damaged entry of the Hugging Face cache"], *args)


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse-3gb"])
def test_a_damaged_index_in_the_hub_cache_is_refused_or_passed_over(hub, tmp_path, kind):
    """A 3 GB index is refused unread; a FIFO or a device is no file to huggingface_hub's cache
    lookup, so the snapshot's model.safetensors answers, without blocking."""
    server, root, env = hub
    repo = cached_repo(tmp_path, env, server, root)
    index = repo / "snapshots" / server.repos["acme/ok"].commit / "model.safetensors.index.json"
    index.write_text("{}")
    damage_with(kind, index, index)
    env = {k: v for k, v in env.items() if k != "HF_HOME"}
    if kind == "sparse-3gb":
        refused_within_bounds(tmp_path, env, "model.safetensors.index.json",
                              ["not a readable index file",
                               "over the 268,435,456-byte limit for an index file"],
                              "inspect", "acme/ok")
    else:
        assert parameters_of(tmp_path, env, "acme/ok") == (TINY_PARAMETERS, "")


def test_scan_notes_a_fifo_in_a_snapshot_and_goes_on(hub, tmp_path):
    server, root, env = hub
    repo = cached_repo(tmp_path, env, server, root)
    weights = repo / "snapshots" / server.repos["acme/ok"].commit / "model.safetensors"
    weights.unlink()
    os.mkfifo(weights)
    result = run_measured("scan", env["HF_HUB_CACHE"], "--format", "json",
                          env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.wall_s < MAX_WALL_S
    row, = json.loads(result.stdout)["revisions"]
    assert "FIFO" in row["note"]


# --- a folder ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["model.safetensors", "model.gguf"])
def test_a_fifo_in_a_folder_is_refused_without_blocking(tmp_path, name):
    folder = tmp_path / "inp"
    folder.mkdir()
    os.mkfifo(folder / name)
    refused_within_bounds(tmp_path, {"HF_HUB_OFFLINE": "1"}, name, ["not a regular file",
                                                                    "FIFO"], "inspect", folder)
