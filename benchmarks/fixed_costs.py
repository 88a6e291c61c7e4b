"""Issue 20's fixed costs, side by side: values without the compiler's start-up, and specs at
header speed. Each command and its baseline run as fresh processes, alternating, `reps` times;
medians of the wall time and of the CPU time (user + sys, from os.wait4), which a busy shared
machine inflates far less than the wall time.

    python benchmarks/fixed_costs.py [--reps 5] [--workdir DIR] [--only values|specs]

Part of benchmarks/run.py's table (its own section), runnable alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.run import ENV, baseline, compile_bytecode, inspector, secs  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + sys) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def alternate(commands: dict[str, list[str]], reps: int) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) of each command, run in turn `reps` rounds."""
    runs: dict[str, list] = {k: [] for k in commands}
    for _ in range(reps):
        for key, cmd in commands.items():
            runs[key].append(timed(cmd))
    return {k: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
            for k, rs in runs.items()}


def _row(what: str, ours: tuple, base: tuple, base_name: str, kind: str, target: float) -> dict:
    """kind "ratio": base / ours, at least target; "over": ours - base seconds, at most target;
    "under": ours seconds, at most target. Each judged on wall time, shown for CPU too."""
    def value(i: int) -> float:
        if kind == "ratio":
            return base[i] / ours[i]
        return ours[i] - base[i] if kind == "over" else ours[i]

    wall, cpu = value(0), value(1)
    ok = wall >= target if kind == "ratio" else wall <= target
    shown = (lambda v: f"{v:.2f}x") if kind == "ratio" else (lambda v: f"{v:.3f} s")
    goal = f">= {target:g}x" if kind == "ratio" else f"<= {target:g} s"
    return {"measure": what, "ours": f"{secs(ours[0])} ({secs(ours[1])} CPU)",
            "baseline": f"{base_name}: {secs(base[0])} ({secs(base[1])} CPU)" if base else "",
            "wall": shown(wall), "cpu": shown(cpu), "target": goal,
            "result": "met" if ok else "**MISSED**", "value_wall": round(wall, 4),
            "value_cpu": round(cpu, 4)}


def values_rows(root: Path, reps: int) -> list[dict]:
    """stats of 27 Llama-shaped matrices against numpy; stats and diff of small checkpoints
    against inspect of the same file."""
    out = []
    f32, bf16 = inputs.llama_matrices(root), inputs.llama_matrices(root, "bfloat16")
    for path in (f32, bf16):
        _warm(path)
    runs = alternate({"ours": inspector("stats", f32), "numpy": baseline("sumsq", f32)}, reps)
    out.append(_row("stats, 1.25 GB fp32 (27 Llama-shaped matrices) / numpy mmap + np.dot",
                    runs["ours"], runs["numpy"], "numpy", "ratio", 0.5))
    runs = alternate({"ours": inspector("stats", bf16), "numpy": baseline("widen-dot", bf16)},
                     reps)
    out.append(_row("stats, 0.62 GB bf16 (the same matrices) / numpy chunked widen + np.dot",
                    runs["ours"], runs["numpy"], "numpy", "ratio", 0.75))
    gpt2 = inputs.gpt2_124m(root) / "model.safetensors"
    small = _small_file(root)
    for label, path in (("GPT-2 124M fp32", gpt2), ("a 16 KB file", small)):
        _warm(path)
        copy = _copy(path)
        runs = alternate({"stats": inspector("stats", path),
                          "diff": inspector("diff", path, copy),
                          "inspect": inspector("inspect", path)}, reps)
        out.append(_row(f"stats - inspect, {label}", runs["stats"], runs["inspect"], "inspect",
                        "over", 0.3))
        out.append(_row(f"diff (against a copy) - inspect, {label}", runs["diff"],
                        runs["inspect"], "inspect", "over", 0.3))
    return out


def specs_rows(reps: int) -> list[dict]:
    """count of every shipped spec and `specs`, whole process, under 0.2 s."""
    from inspector.spec.loading import shipped_names

    commands = {name: inspector("count", name) for name in shipped_names()}
    commands["specs"] = inspector("specs")
    commands["count gpt2-124m (the floor)"] = inspector("count", "gpt2-124m")
    runs = alternate(commands, reps)
    floor = runs.pop("count gpt2-124m (the floor)")
    listed = runs.pop("specs")
    slowest = max(runs, key=lambda k: runs[k][0])
    return [_row("specs (every shipped spec counted)", listed, floor, "count gpt2-124m",
                 "under", 0.2),
            _row(f"count of each shipped spec: the slowest ({slowest})", runs[slowest], floor,
                 "count gpt2-124m", "under", 0.2)]


def _small_file(root: Path) -> Path:
    path = root / "small.safetensors"
    if not path.is_file():
        import numpy as np
        from safetensors.numpy import save_file

        save_file({"w": np.ones((64, 64), np.float32)}, str(path))
    return path


def _copy(path: Path) -> Path:
    copy = path.with_name(path.stem + "-copy.safetensors")
    if not copy.is_file():
        shutil.copyfile(path, copy)
    _warm(copy)
    return copy


def _warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


PARTS = {"values": lambda root, reps: values_rows(root, reps),
         "specs": lambda root, reps: specs_rows(reps)}


def section(root: Path, reps: int, only: str | None = None) -> tuple[str, dict]:
    """The section's markdown and its data (`only`: one part of it, "values" or "specs")."""
    rows = [row for name, part in PARTS.items() if only in (None, name)
            for row in part(root, reps)]
    lines = ["## Fixed costs (issue 20): values without numba's start-up, specs at header speed",
             "", "Wall and CPU (user + sys) medians, each against its baseline in the same run.",
             "", "| measure | ours | baseline | value (wall) | value (CPU) | target | result |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['measure']} | {r['ours']} | {r['baseline']} | {r['wall']} |"
                     f" {r['cpu']} | {r['target']} | {r['result']} |")
    return "\n".join(lines) + "\n", {"fixed_costs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--only", choices=list(PARTS), help="Run one part: values or specs.")
    args = parser.parse_args()
    compile_bytecode()  # as run.py does: each process would otherwise compile the package
    root = args.workdir or Path(tempfile.mkdtemp(prefix="inspector-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        text, _ = section(root, args.reps, args.only)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}\n")
    print(text)


if __name__ == "__main__":
    main()
