"""Every measured process of the benchmarks is started here: this checkout's inspector on the
path, and its wall time, CPU time, peak memory and exit code read by os.wait4 in a small
launcher process (why: LAUNCH's comment). Imports nothing of the project, so a test can measure
a process the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
# This checkout's inspector, whatever is installed and wherever the suite is run from.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (str(HERE.parent), os.environ.get("PYTHONPATH")) if p)}

# A small launcher between us and each measured process. A child's peak RSS (ru_maxrss) starts
# from the RSS of the process it was forked from, so forking straight from a benchmark (which
# holds numpy and more) would put a floor of our own size under every figure; `python -S` is
# smaller than any process measured here. It also times fork-to-exit, without its own start-up.
LAUNCH = """
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(out, "w") as f:
    f.write(f"{wall} {usage.ru_maxrss * 1024} {os.waitstatus_to_exitcode(status)}"
            f" {usage.ru_utime + usage.ru_stime}")
"""


@dataclass
class Launched:
    """One process as LAUNCH saw it."""
    wall: float  # seconds, fork to exit
    rss: int  # peak resident bytes
    code: int  # exit code
    cpu: float  # seconds of user + system time
    stdout: str
    stderr: str


def launch(cmd: list[str], env: dict | None = None) -> Launched:
    """Run `cmd` through LAUNCH (`env` added to its environment), whatever its exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".usage") as usage:
        proc = subprocess.run([PY, "-S", "-c", LAUNCH, usage.name, *cmd], capture_output=True,
                              check=False, env={**ENV, **(env or {})})
        wall, rss, code, cpu = usage.read().split()
    return Launched(float(wall), int(rss), int(code), float(cpu),
                    proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
