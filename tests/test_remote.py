"""Hub ids read header-only from a real HTTP server on 127.0.0.1 (tests/hub_server.py) that
speaks the hub's routes, with HF_ENDPOINT pointing at it. huggingface_hub reads HF_ENDPOINT when
it is imported, so every call is a fresh `python -m inspector` with the environment set.

The repo served is the published GPT-2 (no prefix, twelve causal masks) cut into four shards:
header-only hole files whose data regions (497,774,... bytes in all) are never read."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct

import pytest
from conftest import SMOLLM2_GGUF, needs_smollm2, run_cli, write_hole_safetensors
from gguf_files import write_tiny_llama_gguf
from gpt2_files import published_shapes, transformers_shapes, write_gpt2
from hub_server import HubServer
from quantized_files import write_quantized
from test_hub import add_to_cache

REPO = "openai-community/gpt2-sharded"
SHARDS = [f"model-0000{k}-of-00004.safetensors" for k in range(1, 5)]
V1 = "1111111111111111111111111111111111111111"  # the commit the branch v1 points at
# GPT2LMHeadModel(GPT2Config()).num_parameters() in transformers; the masks are 12 x 1 x 1 x
# 1024 x 1024 = 12 x 1,048,576 values, which the hub's own total counts too.
PARAMETERS = 124_439_808
MASKS = 12 * 1_048_576


def write_sharded_gpt2(folder):
    """The published GPT-2's tensors in four shards of consecutive tensors, with the index and
    config.json that transformers writes."""
    from transformers import GPT2Config

    folder.mkdir(parents=True)
    shapes = list(published_shapes().items())
    weight_map = {}
    for k, shard in enumerate(SHARDS):
        part = shapes[k * len(shapes) // 4:(k + 1) * len(shapes) // 4]
        write_hole_safetensors(folder / shard, {n: ("F32", s) for n, s in part})
        weight_map.update(dict.fromkeys((n for n, _ in part), shard))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(GPT2Config().to_dict()))
    return folder


def header_bytes(path) -> int:
    """8 + the JSON header's length: every byte of a safetensors file before its data."""
    with open(path, "rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    folder = write_sharded_gpt2(root / "gpt2")
    with HubServer() as hub:
        hub.add(REPO, folder, branches={"v1": V1})
        hub.add("acme/gated", folder, gated=True, token="hf_open_sesame")
        # The hub's model info for the published GPT-2 says F32 137,022,720: every stored value.
        hub.add("openai-community/gpt2", write_gpt2(root / "published", "published"),
                safetensors={"parameters": {"F32": PARAMETERS + MASKS}, "total": PARAMETERS + MASKS})
        hub.add("acme/off-by-five", root / "published",
                safetensors={"parameters": {"F32": PARAMETERS + MASKS + 5},
                             "total": PARAMETERS + MASKS + 5})
        # transformers' GPT-2 with lm_head.weight stored too: the hub counts both copies.
        tied = write_gpt2(root / "tied", "transformers")
        shapes = {**transformers_shapes(), "lm_head.weight": [50257, 768]}
        write_hole_safetensors(tied / "model.safetensors", {n: ("F32", s) for n, s in shapes.items()})
        hub.add("acme/tied-copy", tied, safetensors={"parameters": {"F32": 163_037_184},
                                                     "total": 163_037_184})
        # A GPTQ checkpoint: the hub counts its stored elements (see the test's arithmetic).
        hub.add("acme/gptq", write_quantized(root / "gptq", "gptq"),
                safetensors={"parameters": {"F16": 35_392, "I32": 10_528}, "total": 45_920})
        yield hub, folder


@pytest.fixture
def hub(served, tmp_path):
    """The server, its counters cleared, and an environment with fresh caches pointed at it."""
    server, folder = served
    server.reset()
    server.fail.clear()
    server.delay = 0.0
    env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "INSPECTOR_CACHE": str(tmp_path / "ic"),
           "HF_HUB_OFFLINE": "0", "HF_TOKEN": "", "HF_HUB_DOWNLOAD_TIMEOUT": "10"}
    return server, folder, env


def inspect_json(env, *args):
    result = run_cli("inspect", *args, "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def hub_note(env, repo) -> list[str]:
    """The lines after the table that set the hub's count beside inspector's."""
    table = run_cli("inspect", repo, env=env).stdout
    return table[table.index("\nthe hub counts"):].strip("\n").split("\n")


def test_headers_only_one_range_request_per_shard_all_at_once(hub):
    """Model info, config.json, the index, then the four shard headers at once (0.3 s added to
    each request, so all four are in flight together). Each shard is read from byte 0 with one
    Range request sized from its names in the index (96 bytes per tensor + 64 beyond the names),
    so it reads its header and at most that window: never the data after it."""
    server, folder, env = hub
    server.delay = 0.3
    doc = inspect_json(env, REPO)
    assert doc["parameters"] == PARAMETERS
    assert sum(b["numel"] for b in doc["buffers"]) == MASKS
    paths = [path for _, path, _, _ in server.log]
    assert paths[0] == f"/api/models/{REPO}"
    assert sorted(p.rsplit("/", 1)[1] for p in paths[1:]) == sorted(
        ["config.json", "model.safetensors.index.json", *SHARDS])
    assert server.most_active == 4
    index = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    for shard in SHARDS:
        (method, _, asked, sent), = server.requests(shard)
        names = [n for n, s in index.items() if s == shard]
        window = 8 + 64 + sum(len(json.dumps(n)) + 96 for n in names)
        assert (method, asked) == ("GET", f"bytes=0-{window - 1}")
        assert header_bytes(folder / shard) <= sent == window
        assert sent < os.path.getsize(folder / shard) // 1000


def test_a_header_longer_than_the_window_takes_exactly_one_more_request(hub, tmp_path):
    """A single model.safetensors (no index to size the window): huggingface_hub's first read of
    100,001 bytes; a header of 150,000-odd bytes then needs bytes 100,001 .. header end."""
    server, _, env = hub
    folder = tmp_path / "wide"
    folder.mkdir()
    write_hole_safetensors(folder / "model.safetensors",
                           {f"h.{i}.attn.c_attn.weight": ("F32", [8, 8]) for i in range(2000)})
    server.add("acme/wide", folder)
    end = header_bytes(folder / "model.safetensors")
    assert end > 100_001
    result = run_cli("inspect", "acme/wide", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    ranges = [(asked, sent) for _, _, asked, sent in server.requests("model.safetensors")]
    assert ranges == [("bytes=0-100000", 100_001), (f"bytes=100001-{end - 1}", end - 100_001)]


def test_second_inspect_reads_no_header_and_offline_reads_nothing(hub):
    """Headers are kept by etag: the second call asks only the model info (which resolves main
    to its commit); with HF_HUB_OFFLINE=1 it asks nothing at all."""
    server, _, env = hub
    first = inspect_json(env, REPO)
    server.reset()
    assert inspect_json(env, REPO) == first
    assert [path for _, path, _, _ in server.log] == [f"/api/models/{REPO}"]
    server.reset()
    assert inspect_json({**env, "HF_HUB_OFFLINE": "1"}, REPO) == first
    assert server.log == []


def test_revision_by_at_and_by_option(hub):
    """`@v1` and `--revision v1` both ask the model info of v1 and read files at its commit."""
    server, _, env = hub
    for args in ([f"{REPO}@v1"], [REPO, "--revision", "v1"]):
        server.reset()
        assert inspect_json(env, *args)["parameters"] == PARAMETERS
        assert server.log[0][1] == f"/api/models/{REPO}/revision/v1"
        assert all(f"/resolve/{V1}/" in path for _, path, _, _ in server.log[1:])


def test_a_download_cut_short_is_not_a_snapshot(hub, tmp_path):
    """config.json and the index in huggingface_hub's cache, no shard: the headers come from the
    hub (before, the folder was taken as the snapshot and a shard was 'missing')."""
    server, folder, env = hub
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("config.json", "model.safetensors.index.json"):
        shutil.copy(folder / name, partial / name)
    add_to_cache(tmp_path / "hf" / "hub", REPO, partial, commit=server.repos[REPO].commit)
    assert inspect_json(env, REPO)["parameters"] == PARAMETERS
    assert len(server.requests(".safetensors")) >= 4


def test_count_with_a_hub_id_as_the_spec(hub):
    """count reads the repo's config.json: the default GPT2Config counts 124,439,808."""
    server, _, env = hub
    result = run_cli("count", REPO, "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == PARAMETERS
    assert [path.rsplit("/", 1)[1] for _, path, _, _ in server.log] == [REPO.split("/")[1],
                                                                         "config.json"]


def test_stats_says_what_it_would_download(hub):
    """The four shards' sizes from the model info, and not a byte of them read."""
    server, folder, env = hub
    size = sum(os.path.getsize(folder / s) for s in SHARDS)
    result = run_cli("stats", REPO, env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"inspector: error: {REPO}: stats reads the values: that is {size:,} bytes"
        f" ({size / 1e9:.1f} GB) in 4 files to download into the Hugging Face cache; add"
        " --download to fetch them\n")
    assert [r for s in SHARDS for r in server.requests(s)] == []


def test_stats_download_fetches_then_reads(hub, tmp_path, tiny_gpt2_dir):
    """--download: huggingface_hub downloads the tiny GPT-2 into its cache, then stats reads it
    as a cached snapshot (the next call makes no request)."""
    server, _, env = hub
    server.add("acme/tiny", tiny_gpt2_dir)
    result = run_cli("stats", "acme/tiny", "--download", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["roles"]
    server.reset()
    again = run_cli("stats", "acme/tiny", "--format", "json", env=env)
    assert again.returncode == 0, again.stderr
    assert server.log == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAILURES = {
    # name: (repo, fail map, extra env, the line after "inspector: error: ")
    "missing repo": ("acme/nothing", {}, {},
                     ("acme/nothing: no such repo on {url}, or it is private: check the name, or"
                     " set HF_TOKEN to a token that can read it")),
    "gated": ("acme/gated", {}, {},
              ("acme/gated: a gated repo: accept its terms at {url}/acme/gated and set HF_TOKEN"
              " to a token of that account")),
    "missing revision": (f"{REPO}@v9", {}, {},
                         (f"{REPO}@v9: the repo has no revision 'v9': name a branch, tag or commit"
                         " that exists")),
    "missing file": (REPO, {SHARDS[2]: 404}, {},
                     f"{REPO}: the repo has no file '{SHARDS[2]}' at revision main"),
    "server error": (REPO, {SHARDS[1]: 503}, {},
                     f"{REPO}: the hub ({{url}}) answered 503 for '{SHARDS[1]}': try again later"),
    "timeout": (REPO, {f"/api/models/{REPO}": "hang"}, {"HF_HUB_DOWNLOAD_TIMEOUT": "1"},
                (f"{REPO}: the hub ({{url}}) did not answer within 1 s for the model info"
                " (HF_HUB_DOWNLOAD_TIMEOUT): try again, or set HF_HUB_OFFLINE=1 to use only the"
                " cache")),
    "cut short": (REPO, {SHARDS[0]: "cut"}, {},
                  f"{REPO}: the hub ({{url}}) cut its answer for '{SHARDS[0]}' short: try again"),
    "offline, not cached": (REPO, {}, {"HF_HUB_OFFLINE": "1"},
                            (f"{REPO}: no weights for revision main in the Hugging Face cache"
                            " ({cache}; looked for model.safetensors.index.json,"
                            " model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin)"
                            " nor headers in inspector's cache, and offline"
                            " mode is on (HF_HUB_OFFLINE=1): unset it to read the headers from"
                            " the hub")),
}


@pytest.mark.parametrize("case", FAILURES)
def test_each_failure_is_one_line_after_one_request(hub, case):
    """No retries: the failing request is made once, and the call ends with one line naming
    the repo and what to do."""
    server, _, env = hub
    source, fail, extra, line = FAILURES[case]
    server.fail.update(fail)
    result = run_cli("inspect", source, env={**env, **extra})
    assert result.returncode == 2
    expected = line.format(url=server.url, cache=env["HF_HUB_CACHE"])
    assert result.stderr == f"inspector: error: {expected}\n"
    for suffix in fail:
        assert len(server.requests(suffix)) == 1


def test_a_refused_connection_is_one_line(hub):
    _, _, env = hub
    url = f"http://127.0.0.1:{_closed_port()}"
    result = run_cli("inspect", REPO, env={**env, "HF_ENDPOINT": url})
    assert result.returncode == 2
    assert result.stderr.startswith(f"inspector: error: {REPO}: cannot connect to the hub ({url}):")
    assert result.stderr.endswith("check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to"
                                  " use only the cache\n")
    assert result.stderr.count("\n") == 1


def test_a_gated_repo_opens_with_hf_token(hub):
    _server, _, env = hub
    doc = inspect_json({**env, "HF_TOKEN": "hf_open_sesame"}, "acme/gated")
    assert doc["parameters"] == PARAMETERS


def test_the_hubs_count_beside_ours_with_each_cause(hub):
    """The hub says 137,022,720 for the published GPT-2; inspector counts 124,439,808
    parameters; the 12,582,912 between them are the twelve 1 x 1 x 1,024 x 1,024 causal masks
    (12 x 1,048,576), one line."""
    _server, _, env = hub
    doc = inspect_json(env, "openai-community/gpt2")
    masks = [f"h.{i}.attn.bias" for i in range(12)]
    assert doc["hub"] == {
        "total": 137_022_720, "dtypes": {"F32": 137_022_720}, "parameters": 124_439_808,
        "difference": 12_582_912, "unexplained": 0,
        "causes": [{"cause": "buffers (masks, rotary frequencies, position ids): stored, not"
                             " parameters", "tensors": masks, "values": 12_582_912}]}
    assert hub_note(env, "openai-community/gpt2") == [
        ("the hub counts 137,022,720 (F32 137,022,720); inspector 124,439,808 parameters;"
        " difference 12,582,912:"),
        ("  12 x 1,048,576 = 12,582,912 values: buffers (masks, rotary frequencies, position ids):"
        " stored, not parameters (h.0.attn.bias, h.1.attn.bias, ... h.11.attn.bias)")]


def test_what_the_headers_cannot_explain_is_said(hub):
    """A hub total 5 over what the headers hold: the masks explain 12,582,912 of 12,582,917."""
    _, _, env = hub
    found = inspect_json(env, "acme/off-by-five")["hub"]
    assert (found["difference"], found["unexplained"]) == (12_582_917, 5)
    assert hub_note(env, "acme/off-by-five")[-1] == (
        "  5 values that the stored tensors do not explain (the hub's total differs from what the"
        " headers hold)")


@needs_smollm2
def test_a_gguf_repo_reads_its_header_by_doubling_ranges(hub, tmp_path):
    """SmolLM2-135M's Q4_1 GGUF (98 MB): 134,515,008 parameters from its header alone. The walk
    asks 1 MiB, then as far as it needs and at least twice what it has: here 2 requests and
    2 MiB, under twice the header (the gguf package's GGUFReader gives where the data starts)."""
    from gguf import GGUFReader

    server, _, env = hub
    folder = tmp_path / "smol"
    folder.mkdir()
    (folder / SMOLLM2_GGUF.name).symlink_to(SMOLLM2_GGUF)
    server.add("acme/smol", folder)
    doc = inspect_json(env, "acme/smol")
    assert (doc["format"], doc["parameters"]) == ("gguf", 134_515_008)
    ranges = [asked for _, _, asked, _ in server.requests(".gguf")]
    assert ranges == ["bytes=0-1048575", "bytes=1048576-2097151"]
    header = GGUFReader(SMOLLM2_GGUF).data_offset
    assert header < server.bytes_sent(".gguf") == 2 * 1_048_576 < 2 * header
    server.reset()  # named as a file of the repo: the header comes from the cache
    assert inspect_json(env, f"acme/smol/{SMOLLM2_GGUF.name}")["parameters"] == 134_515_008
    assert server.requests(".gguf") == []


def test_a_repo_of_several_ggufs_asks_for_one(hub, tmp_path):
    server, _, env = hub
    folder = tmp_path / "ggufs"
    folder.mkdir()
    for name in ("tiny-F16.gguf", "tiny-Q8_0.gguf"):
        write_tiny_llama_gguf(folder / name)
    server.add("acme/ggufs", folder)
    result = run_cli("inspect", "acme/ggufs", env=env)
    assert result.stderr == ("inspector: error: acme/ggufs: the repo has no safetensors and 2 GGUF"
                             " files: name one, e.g. acme/ggufs/tiny-F16.gguf\n")
    doc = inspect_json(env, "acme/ggufs/tiny-Q8_0.gguf")
    assert doc["format"] == "gguf" and doc["shape"]["n_layers"] == 2


def test_a_stored_copy_of_a_tied_matrix_is_one_cause(hub):
    """transformers' GPT-2 with lm_head.weight stored beside wte: the hub counts 124,439,808 +
    50,257 x 768 (38,597,376) = 163,037,184; inspector counts the tied matrix once."""
    _, _, env = hub
    assert hub_note(env, "acme/tied-copy") == [
        ("the hub counts 163,037,184 (F32 163,037,184); inspector 124,439,808 parameters;"
        " difference 38,597,376:"),
        ("  38,597,376 values in 1 tensor: stored copies of a tied matrix: one storage, counted"
        " once (lm_head.weight)")]


def test_a_quantized_checkpoints_packed_weights_and_bookkeeping_are_causes(hub):
    """tests/quantized_files.py's GPTQ Llama (2 layers, d 64, d_ff 128, 4 heads and 2 kv heads
    of 16, groups of 32, 4 bits: 8 values an int32). Per layer, the seven projections' logical
    weights are q 4,096 + k 2,048 + v 2,048 + o 4,096 + gate, up, down 3 x 8,192 = 36,864.
    Stored per layer: qweight (in / 8 x out) 512 + 256 + 256 + 512 + 1,024 x 3 = 4,608; qzeros
    (groups x out / 8) 16 + 8 + 8 + 16 + 32 x 3 = 144; scales (groups x out) 128 + 64 + 64 + 128 +
    256 x 3 = 1,152; g_idx (in) 64 x 6 + 128 = 512. F16: embed and lm_head 2 x 16,384, norms
    5 x 64 = 320, scales 2 x 1,152: 35,392; I32: 2 x (4,608 + 144 + 512) = 10,528; the hub's total
    45,920. inspector counts 106,816 (LlamaForCausalLM's num_parameters()): difference -60,896 =
    bookkeeping 2 x (144 + 1,152 + 512) = 3,616 less the packed weights' 2 x 36,864 - 9,216 =
    64,512 values beyond their stored elements."""
    _, _, env = hub
    found = inspect_json(env, "acme/gptq")["hub"]
    causes = {c["cause"].split(" (")[0].split(":")[0]: c for c in found["causes"]}
    assert (found["total"], found["parameters"], found["difference"], found["unexplained"]) == \
        (45_920, 106_816, -60_896, 0)
    assert causes["quantization bookkeeping"]["values"] == 3_616
    assert len(causes["quantization bookkeeping"]["tensors"]) == 42  # 3 x 7 x 2
    assert causes["packed quantized weights"]["values"] == -64_512
    assert len(causes["packed quantized weights"]["tensors"]) == 14
    note = hub_note(env, "acme/gptq")
    assert note[0] == ("the hub counts 45,920 (F16 35,392, I32 10,528); inspector 106,816"
                       " parameters; difference -60,896:")
    assert any(line.startswith("  64,512 values more than stored in 14 tensors: packed quantized"
                               " weights") for line in note)


def test_check_export_and_report_read_a_hub_id(hub, tmp_path):
    """The published GPT-2 from the hub matches the shipped gpt2-124m spec; export writes its
    tables; report names it. One model info request each after the first (headers cached)."""
    server, _, env = hub
    check = run_cli("check", "openai-community/gpt2", "--spec", "gpt2-124m", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    export = run_cli("export", "openai-community/gpt2", "--out", tmp_path / "tables", env=env)
    assert export.returncode == 0, export.stderr
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == [
        "heads.csv", "layers.csv", "roles.csv", "tensors.csv"]
    server.reset()
    report = run_cli("report", "openai-community/gpt2", env=env)
    assert report.returncode == 0, report.stderr
    assert "- **parameters**: 124,439,808" in report.stdout
    assert [path for _, path, _, _ in server.log] == ["/api/models/openai-community/gpt2"]


def test_the_server_speaks_range_as_the_hub_does(hub):
    """206 with Content-Range for a range, the range clipped at the end, 416 past the end: the
    answers inspector's reader meets on the real hub."""
    import urllib.error
    import urllib.request

    server, folder, _ = hub
    size = os.path.getsize(folder / SHARDS[0])
    url = f"{server.url}/{REPO}/resolve/main/{SHARDS[0]}"

    def get(first: int, last: int):
        request = urllib.request.Request(url, headers={"Range": f"bytes={first}-{last}"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.headers["Content-Range"], len(response.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers["Content-Range"], 0

    assert get(0, 7) == (206, f"bytes 0-7/{size}", 8)
    assert get(size - 4, size + 100) == (206, f"bytes {size - 4}-{size - 1}/{size}", 4)
    assert get(size, size + 10) == (416, f"bytes */{size}", 0)


def test_the_notebook_api_reads_a_hub_id(hub):
    """`inspector.count` and `inspector.inspect` take a hub id as the commands do: the default
    GPT2Config's 124,439,808 (transformers' count) from config.json and from the headers, the
    shards' data never requested beyond their headers."""
    import subprocess
    import sys

    server, folder, env = hub
    code = (f"import inspector; c = inspector.count({REPO!r}); f = inspector.inspect({REPO!r});"
            " print(c.parameters, f.parameters, int(f.roles['parameters'].sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    unembedding = 50257 * 768  # listed in the role table, tied: not in the total
    assert out.stdout.split() == [str(PARAMETERS), str(PARAMETERS),
                                  str(PARAMETERS + unembedding)]
    weights = sum(os.path.getsize(folder / shard) for shard in SHARDS)
    assert 0 < server.bytes_sent(".safetensors") < weights / 100  # headers, not the weights


def test_the_notebook_api_stats_of_a_hub_id(hub, tiny_gpt2_dir):
    """`.stats()` of a hub id as `stats` does it: refused with the download's size while the
    weights are not cached (no byte of them read), read from the cache with download=True; the
    tiny GPT-2's 29,184 values (tests/test_api.py)."""
    import subprocess
    import sys

    server, _, env = hub
    server.add("acme/tiny-api", tiny_gpt2_dir)
    code = ("import inspector\n"
            "from inspector.errors import InspectorError\n"
            "found = inspector.inspect('acme/tiny-api')\n"
            "try:\n    found.stats()\nexcept InspectorError as e:\n"
            "    print('refused:', e)\n"
            "print(found.stats(download=True).total['values'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    refused, values = out.stdout.strip().splitlines()
    assert refused.startswith("refused: acme/tiny-api: stats reads the values: that is")
    assert "add --download to fetch them" in refused
    assert values == "29184"
    assert "inspector: downloading" in out.stderr
