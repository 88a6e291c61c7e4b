"""Issue 20's header path at scale, side by side: Kimi-K2-Instruct's hub layout (64 FP8 shards,
139,583 tensors) and a 512-expert GPTQ MoE past a million tensors (167 shards, 1,004,898
tensors), both hole checkpoints with their config.json (benchmarks/inputs.py). Each command runs
against a bare parse of the same headers (`benchmarks/baselines.py header`: struct + json.loads
of the index and of every shard header, the values added up) as fresh processes, alternating,
`reps` rounds; medians of the wall time and of the CPU time (user + sys), the largest peak RSS,
all from os.wait4 through run.py's launcher. A command that refuses the input (exit 2, e.g. a
cap on the index's size) is shown as refused with its message, not raised: the section runs
before and after the header path learns to read a million tensors.

    python benchmarks/header_scale.py [--reps 3] [--workdir DIR]

Part of benchmarks/run.py's table (its own section), runnable alone.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import inputs  # noqa: E402
from benchmarks.launcher import launch  # noqa: E402
from benchmarks.run import (  # noqa: E402
    MB,
    baseline,
    compile_bytecode,
    inspector,
    secs,
    section_main,
)

# label -> (the function that writes it under a root folder, its tensors)
INPUTS = {
    "Kimi-K2 FP8": (inputs.kimi_k2_fp8, 139_583),
    "GPTQ 512-expert MoE": (inputs.gptq_moe_1m, inputs.GPTQ_MOE_TENSORS),
}
BARE = "bare parse"
# Wall time against the bare parse, at most; the commands without a target are shown.
TARGETS = {"inspect": 5.0, "check": 5.0, "export": 10.0}


def commands(folder: Path, out: Path) -> dict[str, list[str]]:
    """The bare parse first, then each header command on `folder`, writing under `out`."""
    return {
        BARE: baseline("header", folder),
        "inspect": inspector("inspect", folder, "--format", "json"),
        "check": inspector("check", folder, "--spec", folder / "config.json"),
        "export": inspector("export", folder, "--format", "csv", "--out", out / "export"),
        "diagram": inspector("diagram", folder, "--out", out / "diagram.html"),
        "count": inspector("count", folder),
    }


@dataclass
class Measured:
    wall: float | None = None  # median seconds; None when refused
    cpu: float | None = None  # median user + sys seconds
    rss: int = 0  # the largest peak resident bytes over the runs
    code: int = 0  # exit code of the last run (check: 1 when it found problems)
    refused: str = ""  # exit code and first line of stderr, when the command refused the input


def measure(folder: Path, out: Path, reps: int) -> dict[str, Measured]:
    """Each command of `commands`, in turn, `reps` rounds; a refused one is not run again."""
    cmds = commands(folder, out)
    runs: dict[str, list] = {k: [] for k in cmds}
    refused: dict[str, str] = {}
    for _ in range(reps):
        for key, cmd in cmds.items():
            if key in refused:
                continue
            run = launch(cmd)
            if run.code not in (0, 1):
                said = (run.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
                refused[key] = f"exit {run.code}: {said}"
                continue
            runs[key].append(run)
    if BARE in refused:
        raise RuntimeError(f"the bare parse of {folder} failed: {refused[BARE]}")
    summary = {}
    for key, rs in runs.items():
        if key in refused:
            summary[key] = Measured(refused=refused[key], rss=max((r.rss for r in rs), default=0))
        else:
            summary[key] = Measured(statistics.median(r.wall for r in rs),
                                 statistics.median(r.cpu for r in rs), max(r.rss for r in rs),
                                 rs[-1].code)
    return summary


def rows(results: dict[str, dict[str, Measured]]) -> list[dict]:
    """One row a (command, input): times, ratios to that input's bare parse, target, verdict."""
    out = []
    for label, measured in results.items():
        bare = measured[BARE]
        for command, m in measured.items():
            row = {"input": label, "command": command, "peak_mb": round(m.rss / MB, 1),
                   "target": TARGETS.get(command), "refused": m.refused, "exit": m.code}
            if not m.refused:
                row.update(wall_s=round(m.wall, 3), cpu_s=round(m.cpu, 3),
                           ratio_wall=round(m.wall / bare.wall, 2),
                           ratio_cpu=round(m.cpu / bare.cpu, 2))
            row["result"] = _verdict(row, command)
            out.append(row)
    return out


def _verdict(row: dict, command: str) -> str:
    if row["refused"]:
        return "**REFUSED**"
    if command == BARE:
        return "baseline"
    if row["target"] is None:
        return "shown"
    return "met" if row["ratio_wall"] <= row["target"] else "**MISSED**"


def render(table: list[dict], tensors: dict[str, int]) -> str:
    labels = list(dict.fromkeys(r["input"] for r in table))
    head = "| command | target |" + "".join(
        f" {label} ({tensors[label]:,} tensors): wall (CPU) | ratio wall (CPU) | peak MB |"
        " result |" for label in labels)
    lines = ["## Header path at scale (issue 20): every header command against a bare parse",
             "", "Medians of wall and CPU (user + sys); ratio = command / bare parse of the same"
             " headers in the same run; peak MB = the largest maximum RSS of the runs.", "",
             head, "|---|---:|" + "---:|---:|---:|---|" * len(labels)]
    by = {(r["input"], r["command"]): r for r in table}
    notes = []
    for command in dict.fromkeys(r["command"] for r in table):
        target = TARGETS.get(command)
        cells = [f"| {command} | {f'<= {target:g}x' if target else '-'} |"]
        for label in labels:
            r = by[(label, command)]
            if r["refused"]:
                notes.append(f"- {command}, {label}: refused, {r['refused']}")
                cells.append(" refused | - | - | **REFUSED** |")
                continue
            exit_note = f", exit {r['exit']}" if r["exit"] else ""
            cells.append(f" {secs(r['wall_s'])} ({secs(r['cpu_s'])}){exit_note} |"
                         f" {r['ratio_wall']:.2f}x ({r['ratio_cpu']:.2f}x) |"
                         f" {r['peak_mb']:.0f} | {r['result']} |")
        lines.append("".join(cells))
    if notes:
        lines += ["", "Refused (exit 2), as the command said it:", "", *notes]
    return "\n".join(lines) + "\n"


def section(root: Path, reps: int) -> tuple[str, dict]:
    """The section's markdown and its data; the inputs are written under `root` (reused)."""
    compile_bytecode()
    results = {}
    for label, (write, _) in INPUTS.items():
        folder = write(root)
        out = root / "header-scale-out" / folder.name
        out.mkdir(parents=True, exist_ok=True)
        results[label] = measure(folder, out, reps)
    table = rows(results)
    return render(table, {k: n for k, (_, n) in INPUTS.items()}), {"header_scale": table}


def main() -> None:
    section_main(section, __doc__, reps=3)


if __name__ == "__main__":
    main()
