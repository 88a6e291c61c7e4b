"""The benchmark suite: every target of issue 4, each command against its baseline in the same run.

    python benchmarks/run.py [--reps 5] [--workdir DIR] [--skip-slow]

Makes its own inputs (benchmarks/inputs.py), runs each command and its baseline as fresh
processes, alternating, and takes the median wall time of `--reps` runs; peak memory is each
process's own maximum resident set (os.wait4). Prints the table and writes it to
benchmarks/results/latest.md and latest.json. Nothing here is asserted: a missed target is
reported with its margin, not raised. The remote section (hub repos read over HTTP from a local
hub, and the GGUF header figure) is benchmarks/remote.py, issue 20's fixed costs
benchmarks/fixed_costs.py and its header path at scale (Kimi-K2 and a million-tensor GPTQ MoE)
benchmarks/header_scale.py, each also runnable alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a clean clone without installing

from benchmarks import inputs
from benchmarks.launcher import ENV, PY, launch  # noqa: F401 (ENV, PY: used by the sections)

MB = 1024 * 1024


@dataclass
class Run:
    wall: float  # median seconds, whole process
    rss: int  # peak resident bytes, the largest over the repetitions
    out: dict | str = field(default="")  # the last run's stdout (JSON when it is)


@dataclass
class Result:
    benchmark: str
    measure: str  # what the number is
    value: float
    target: str
    ok: bool
    margin: str  # by how much it is met or missed
    ours: str = ""
    baseline: str = ""
    peak_ours_mb: float | None = None
    peak_baseline_mb: float | None = None
    note: str = ""  # what the command did that the baseline does not


def measure(cmd: list[str], reps: int) -> Run:
    walls, peaks, out = [], [], ""
    for _ in range(reps):
        wall, rss, out = _timed(cmd)
        walls.append(wall)
        peaks.append(rss)
    return Run(statistics.median(walls), max(peaks), _parse(out))


def alternate(commands: dict[str, list[str]], reps: int) -> dict[str, Run]:
    """Each command in turn, `reps` rounds, so that a busy moment of the machine hits all alike."""
    runs: dict[str, list] = {k: [] for k in commands}
    for _ in range(reps):
        for key, cmd in commands.items():
            runs[key].append(_timed(cmd))
    return {k: Run(statistics.median(r[0] for r in rs), max(r[1] for r in rs), _parse(rs[-1][2]))
            for k, rs in runs.items()}


def compare(ours: list[str], baseline: list[str], reps: int) -> tuple[Run, Run]:
    """Alternate the two so that a busy moment of the machine hits both alike."""
    runs: dict[str, list] = {"ours": [], "base": []}
    for _ in range(reps):
        runs["base"].append(_timed(baseline))
        runs["ours"].append(_timed(ours))
    return tuple(Run(statistics.median(r[0] for r in runs[k]), max(r[1] for r in runs[k]),
                     _parse(runs[k][-1][2])) for k in ("ours", "base"))


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Wall time, peak RSS (bytes) and stdout of one process (`env` added to its environment)."""
    run = launch(cmd, env)
    if run.code not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {run.code}: {run.stderr[-2000:]}")
    return run.wall, run.rss, run.stdout


def _parse(out: str) -> dict | str:
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return out


def inspector(*args: str) -> list[str]:
    return [PY, "-m", "inspector", *map(str, args)]


def baseline(*args: str) -> list[str]:
    return [PY, str(HERE / "baselines.py"), *map(str, args)]


def times(x: float) -> str:
    return f"{x:.2f}x"


def secs(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def at_most(name: str, what: str, value: float, limit: float, unit: str = "x", **kw) -> Result:
    ok = value <= limit
    margin = (f"{limit / value:.1f}x under the limit" if ok
              else f"over by {100 * (value / limit - 1):.0f}%")
    target = f"<= {limit:g}x" if unit == "x" else f"<= {limit:g} {unit}"
    shown = f"{value:.0f} MB" if unit == "MB" else f"{value:.2f} {unit}"
    return Result(name, what, value, target, ok, margin, ours=kw.pop("ours", shown), **kw)


def at_least(name: str, what: str, value: float, limit: float, **kw) -> Result:
    ok = value >= limit
    margin = (f"{value / limit:.1f}x the target" if ok
              else f"short by {100 * (1 - value / limit):.0f}%")
    return Result(name, what, value, f">= {limit:g}x", ok, margin, **kw)


def mb(n: int) -> float:
    return round(n / MB, 1)


# --- The benchmarks ---

def header_path(root: Path, reps: int, results: list[Result]) -> None:
    """count / inspect / check / export: at most 5x a bare header parse, under 100 MB."""
    cases = [("GPT-2 124M", inputs.gpt2_124m(root), "gpt2-124m"),
             ("GPT-3 175B, 35 shards", inputs.hole_checkpoint(root, "gpt3-175b"), "gpt3-175b")]
    for label, folder, spec in cases:
        out = root / "export"
        commands = {
            "count": inspector("count", spec),
            "inspect": inspector("inspect", folder),
            "check": inspector("check", folder, "--spec", spec),
            "export csv": inspector("export", folder, "--out", out, "--spec", spec),
            "export json": inspector("export", folder, "--out", out, "--format", "json",
                                     "--spec", spec),
        }
        for name, cmd in commands.items():
            ours, base = compare(cmd, baseline("header", folder), reps)
            note = ""
            if name.startswith("export"):
                rows = {t: _rows_written(out / f"{t}.{name.split()[1]}")
                        for t in ("roles", "layers", "heads", "tensors")}
                note = "wrote " + ", ".join(f"{n:,} {t} rows" for t, n in rows.items())
            results.append(at_most(f"{name}: {label}", "wall time / bare header parse",
                                   ours.wall / base.wall, 5, ours=secs(ours.wall),
                                   baseline=secs(base.wall), peak_ours_mb=mb(ours.rss),
                                   peak_baseline_mb=mb(base.rss), note=note))
            results.append(at_most(f"{name}: {label}", "peak memory", mb(ours.rss), 100, "MB",
                                   peak_ours_mb=mb(ours.rss)))


def _rows_written(path: Path) -> int:
    """Rows of an exported table: lines of a csv after its header, items of a json list."""
    if path.suffix == ".json":
        return len(json.loads(path.read_text()))
    return max(0, len(path.read_text().splitlines()) - 1)


def versus_transformers_count(root: Path, reps: int, results: list[Result]) -> None:
    folder = inputs.gpt2_124m(root)
    ours, base = compare(inspector("inspect", folder), baseline("hf-count", folder),
                         max(3, reps // 2))
    results.append(at_least("inspect vs transformers load + num_parameters(): GPT-2 124M",
                            "speed-up (their wall / ours)", base.wall / ours.wall, 20,
                            ours=secs(ours.wall), baseline=secs(base.wall),
                            peak_ours_mb=mb(ours.rss), peak_baseline_mb=mb(base.rss)))


def stats_benchmarks(root: Path, reps: int, results: list[Result]) -> dict:
    """Throughput on one thread against one numpy pass (fp32 and bf16), a second thread against
    one, diff beside them; peak memory against the largest tensor; speed against transformers +
    torch; numba's fixed start-up cost on a small file."""
    from inspector.formats import open_checkpoint

    measured = {}
    for dtype, target in (("float32", 0.5), ("bfloat16", 0.35)):
        folder = inputs.gpt2_124m(root, dtype)
        _warm(folder)
        label = f"GPT-2 124M {dtype}"
        runs = alternate({"1": baseline("our-stats", folder, "1"),
                          "2": baseline("our-stats", folder, "2"),
                          "numpy": baseline("sumsq", folder)}, max(reps, 7))  # noisy: more runs
        rate = {k: _rate(run) for k, run in runs.items()}
        measured[f"{dtype}, 1 thread"], measured[f"{dtype}, 2 threads"] = rate["1"], rate["2"]
        results.append(at_least(f"stats throughput, 1 thread: {label}",
                                "ours / numpy sum of squares", rate["1"] / rate["numpy"], target,
                                ours=f"{rate['1'] / 1e9:.2f} GB/s",
                                baseline=f"{rate['numpy'] / 1e9:.2f} GB/s"))
        results.append(at_least(f"stats throughput, 2 threads: {label}",
                                "2 threads / 1 thread", rate["2"] / rate["1"], 1,
                                ours=f"{rate['2'] / 1e9:.2f} GB/s",
                                baseline=f"{rate['1'] / 1e9:.2f} GB/s (1 thread)"))
        whole = measure(inspector("stats", folder, "--by", "tensor"), reps)
        largest = max(t.nbytes for t in open_checkpoint(str(folder)).tensors)
        limit = 3 * largest / MB + 200
        results.append(at_most(f"stats peak memory: {label}", "peak RSS, whole process",
                               mb(whole.rss), round(limit), "MB", peak_ours_mb=mb(whole.rss),
                               baseline=f"3 x {largest / MB:.0f} MB + 200 MB"))
        if dtype == "float32":
            copy = _copy(folder, root / "gpt2-124m-float32-copy")
            runs = alternate({"1": baseline("our-diff", folder, copy, "1"),
                              "2": baseline("our-diff", folder, copy, "2"),
                              "numpy": baseline("sumsq", folder)}, max(reps, 7))
            rate_diff = {k: _rate(run) for k, run in runs.items()}
            measured["diff float32 (both files' bytes), 1 thread"] = rate_diff["1"]
            measured["diff float32 (both files' bytes), 2 threads"] = rate_diff["2"]
            best = max(rate_diff["1"], rate_diff["2"])
            results.append(Result(f"diff throughput: {label} against a copy",
                                  "ours (both files' bytes) / numpy sum of squares",
                                  best / rate_diff["numpy"], "-", True, "no target",
                                  ours=f"{rate_diff['1'] / 1e9:.2f} GB/s (1 thread),"
                                       f" {rate_diff['2'] / 1e9:.2f} (2)",
                                  baseline=f"{rate_diff['numpy'] / 1e9:.2f} GB/s"))
            hf = measure(baseline("hf-stats", folder), max(3, reps // 2))
            results.append(at_least(f"stats vs transformers + torch per parameter: {label}",
                                    "speed-up (their wall / ours)", hf.wall / whole.wall, 3,
                                    ours=secs(whole.wall), baseline=secs(hf.wall),
                                    peak_ours_mb=mb(whole.rss), peak_baseline_mb=mb(hf.rss)))
    small_file(root, reps, results)
    return measured


def small_file(root: Path, reps: int, results: list[Result]) -> None:
    """What numba costs a user once per process: `stats` of a 16 KB file against `inspect` of
    it, with the compiled kernels in numba's cache (as after the first run) and without."""
    path = root / "small.safetensors"
    if not path.is_file():
        import numpy as np
        from safetensors.numpy import save_file

        save_file({"w": np.ones((64, 64), np.float32)}, str(path))
    ours, base = compare(inspector("stats", path), inspector("inspect", path), reps)
    cold = []
    for _ in range(max(1, reps // 2)):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(_timed(inspector("stats", path), {"NUMBA_CACHE_DIR": cache})[0])
    results.append(Result("stats of a 16 KB file (numba's start-up)", "wall time, whole process",
                          round(ours.wall, 3), "-", True, "no target",
                          ours=f"{secs(ours.wall)} cached, {secs(statistics.median(cold))}"
                               " compiling", baseline=f"{secs(base.wall)} (inspect)",
                          peak_ours_mb=mb(ours.rss), peak_baseline_mb=mb(base.rss)))


def _rate(run: Run) -> float:
    return run.out["bytes"] / run.out["seconds"]


def _copy(folder: Path, to: Path) -> Path:
    """The same checkpoint in other files (diff then reads two files, as it would in use)."""
    if not to.is_dir():
        shutil.copytree(folder, to)
    _warm(to)
    return to


def _warm(folder: Path) -> None:
    """Page cache warm: read every byte once."""
    for file in folder.glob("*.safetensors"):
        with open(file, "rb") as f:
            while f.read(1 << 24):
                pass


def meta_build(root: Path, reps: int, results: list[Result]) -> None:
    runs = [measure(baseline("meta-build", "gpt3-175b", root / "meta-table"), 1).out
            for _ in range(max(3, reps // 2))]
    build = statistics.median(r["build_seconds"] for r in runs)
    table = statistics.median(r["table_seconds"] for r in runs)
    results.append(at_most("build gpt3-175b on the meta device", "seconds (torch imported)",
                           build, 2, "s", ours=secs(build)))
    results.append(at_most(f"its per-tensor table ({runs[0]['tensors']:,} rows) to csv + json",
                           "seconds", table, 1, "s", ours=secs(table)))
    whole = measure(inspector("count", "gpt3-175b", "--by", "tensor", "--format", "csv"), reps)
    results.append(at_most("count gpt3-175b --by tensor --format csv (from the spec, no torch)",
                           "seconds, whole process", whole.wall, 1, "s", ours=secs(whole.wall),
                           peak_ours_mb=mb(whole.rss)))


def scale(root: Path, reps: int) -> list[dict]:
    """The header path at 175B, 405B and 1T: header bytes, shards, and the time of inspect."""
    from inspector.spec.describe import spec_rows
    from inspector.vocab.tables import total

    rows = []
    for name in ("gpt3-175b", "llama-405b", "llama-1t"):
        folder = inputs.hole_checkpoint(root, name)
        shards = sorted(folder.glob("*.safetensors"))
        header_bytes = sum(8 + int.from_bytes(s.open("rb").read(8), "little") for s in shards)
        index_bytes = (folder / "model.safetensors.index.json").stat().st_size
        ours, base = compare(inspector("inspect", folder), baseline("header", folder), reps)
        rows.append({"model": name, "parameters": total(spec_rows(inputs.spec_of(name))),
                     "dtype": inputs.HOLES[name][1], "shards": len(shards),
                     "bytes": sum(s.stat().st_size for s in shards),
                     "header_bytes": header_bytes, "index_bytes": index_bytes,
                     "inspect_s": round(ours.wall, 3), "bare_parse_s": round(base.wall, 3),
                     "ratio": round(ours.wall / base.wall, 2), "inspect_peak_mb": mb(ours.rss)})
    return rows


# --- Output ---

def render(results: list[Result], scale_rows: list[dict], stats_rates: dict, meta: dict) -> str:
    lines = [f"# Benchmark results ({meta['date']})", "",
             (f"{meta['machine']}; Python {meta['python']}; load average {meta['load_before']}"
              f" before, {meta['load_after']} after ({meta['seconds']:.0f} s); median of"
              f" {meta['reps']} runs (whole processes unless said); peak memory = the process's"
              " maximum RSS."), "",
             ("| benchmark | measure | ours | baseline | value | target | result |"
             " peak MB (ours / baseline) |"), "|---|---|---:|---:|---:|---:|---|---:|"]
    for r in results:
        peak = "" if r.peak_ours_mb is None else f"{r.peak_ours_mb:.0f}"
        if r.peak_baseline_mb is not None:
            peak += f" / {r.peak_baseline_mb:.0f}"
        value = f"{r.value:.2f}" if isinstance(r.value, float) else str(r.value)
        lines.append(f"| {r.benchmark} | {r.measure} | {r.ours} | {r.baseline} | {value} |"
                     f" {r.target} | {_verdict(r)} | {peak} |")
    notes = [f"- {r.benchmark}: {r.note}" for r in results if r.note and not r.ok]
    if notes:
        lines += ["", "Where a target was missed, what the command did beyond the baseline:", ""]
        lines += notes
    lines += ["", "## Scale: the header path on hole checkpoints", "",
              ("| model | parameters | dtype | shards | checkpoint bytes | header bytes |"
              " index bytes | inspect | bare parse | ratio | inspect peak MB |"),
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scale_rows:
        lines.append(f"| {s['model']} | {s['parameters']:,} | {s['dtype']} | {s['shards']} |"
                     f" {s['bytes']:,} | {s['header_bytes']:,} | {s['index_bytes']:,} |"
                     f" {secs(s['inspect_s'])} | {secs(s['bare_parse_s'])} | {s['ratio']:.2f}x |"
                     f" {s['inspect_peak_mb']:.0f} |")
    if stats_rates:
        rate = max(v for k, v in stats_rates.items() if k.startswith("float32"))
        lines += ["", "## stats and diff throughput (page cache warm, reading time only)", ""]
        for k, v in stats_rates.items():
            lines.append(f"- {k}: {v / 1e9:.2f} GB/s")
        if rate:
            lines.append(f"- at the best fp32 rate, {rate / 1e9:.2f} GB/s, one TB of weights"
                         f" takes {1e12 / rate / 60:.1f} minutes of reading on this machine")
    return "\n".join(lines) + "\n"


def _verdict(r: Result) -> str:
    if r.target == "-":  # a figure shown beside the others, with no target of its own
        return "shown"
    return f"{'met' if r.ok else '**MISSED**'} ({r.margin})"


def _load() -> str:
    """The 1, 5 and 15 minute load averages: on a shared machine, what else was running."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def section_main(section, doc: str, reps: int, only: tuple[str, ...] = ()) -> None:
    """A section run alone (fixed_costs.py, header_scale.py): `--reps`, `--workdir` (kept, its
    inputs reused next time; else a temporary folder), `--only PART` where the section has
    parts, then the load average and the table. `section(root, reps)` (`only=` too, where it
    has parts) returns the markdown and its data."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=reps)
    parser.add_argument("--workdir", type=Path, help="Keep the inputs here (reused next time).")
    if only:
        parser.add_argument("--only", choices=only, help="Run one part alone.")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="inspector-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        text, _ = section(root, args.reps, **({"only": args.only} if only else {}))
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"load average {_load()}\n")
    print(text)


def compile_bytecode() -> None:
    """The package's bytecode written before anything is timed, as `pip install` does: where
    PYTHONDONTWRITEBYTECODE is set (this machine sets it) every measured process would otherwise
    compile each module from source, some 45 ms of an 180 ms export, and the figure would
    depend on whether an earlier run left __pycache__ folders behind."""
    import compileall

    compileall.compile_dir(str(HERE.parent / "inspector"), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workdir", type=Path, help="Keep the inputs here (reused next time).")
    parser.add_argument("--skip-slow", action="store_true",
                        help="Leave out the transformers load-and-count baseline.")
    parser.add_argument("--docs", "--readme", dest="docs", action="store_true",
                        help="Also put the table into docs/benchmarks.md, between its markers.")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="inspector-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "reps": args.reps,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
                       f" {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f}"
                       " GiB", "python": platform.python_version()}
    started = time.perf_counter()
    compile_bytecode()
    meta["load_before"] = _load()
    try:
        print(f"inputs in {root} ...", file=sys.stderr)
        inputs.gpt2_124m(root)
        inputs.gpt2_124m(root, "bfloat16")
        results: list[Result] = []
        steps = [("header path", lambda: header_path(root, args.reps, results))]
        if not args.skip_slow:
            steps.append(("vs transformers count",
                          lambda: versus_transformers_count(root, args.reps, results)))
        rates: dict = {}
        steps += [("stats", lambda: rates.update(stats_benchmarks(root, args.reps, results))),
                  ("meta build", lambda: meta_build(root, args.reps, results))]
        for name, step in steps:
            print(f"{name} ...", file=sys.stderr)
            step()
        print("scale ...", file=sys.stderr)
        scale_rows = scale(root, args.reps)
        print("remote ...", file=sys.stderr)  # self-contained: benchmarks/remote.py
        from benchmarks import remote

        remote_text, remote_data = remote.section(root, args.reps)
        print("fixed costs ...", file=sys.stderr)  # issue 20: benchmarks/fixed_costs.py
        from benchmarks import fixed_costs

        fixed_text, fixed_data = fixed_costs.section(root, args.reps)
        print("header path at scale ...", file=sys.stderr)  # issue 20: benchmarks/header_scale.py
        from benchmarks import header_scale

        scale_text, scale_data = header_scale.section(root, args.reps)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["load_after"] = _load()
    text = (render(results, scale_rows, rates, meta) + "\n" + remote_text + "\n" + fixed_text
            + "\n" + scale_text)
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(text)
    (out / "latest.json").write_text(json.dumps(
        {"meta": meta, "results": [asdict(r) for r in results], "scale": scale_rows,
         "stats_bytes_per_second": rates, **remote_data, **fixed_data, **scale_data},
        indent=2) + "\n")
    if args.docs:
        update_readme(HERE.parent / "docs" / "benchmarks.md", text)


START, END = "<!-- benchmark-table:start -->", "<!-- benchmark-table:end -->"


def update_readme(readme: Path, text: str) -> None:
    """Replace what stands between the page's two markers with the table (headings demoted)."""
    body = readme.read_text()
    if START not in body or END not in body:
        print(f"{readme}: no {START} ... {END} markers; left as it is", file=sys.stderr)
        return
    table = "\n".join(("#" + line if line.startswith("## ") else line)
                      for line in text.splitlines() if not line.startswith("# "))
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table.strip()}\n{END}{tail}")


if __name__ == "__main__":
    main()
