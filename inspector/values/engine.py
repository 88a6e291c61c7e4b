"""The engine `stats` and `diff` share: stored tensors read block by block from mapped files, the
blocks spread over a pool of threads, the partial results merged in order, progress on stderr.

What a caller brings: tasks, each (bytes it covers, function, arguments), where the function
reads one block (through `Files` and inspector.values.blocks.raw) and returns (index, partial)
pairs; and the results, one mergeable object per index. The arithmetic (inspector.values.kernels) runs
without the GIL, so with N threads N blocks are reduced at once; at most 2 x N are in flight,
so memory stays at a few blocks whatever the size of the checkpoint. With one thread the tasks
run in the calling thread, without a pool. Partials are merged in the order the tasks came, so
the sums are the same whatever the number of threads.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from inspector.values.blocks import Block, Files
from inspector.values.read_plan import Cell

BLOCK_VALUES = 1 << 20  # values per block: ~4 MB of float32, a few in flight per thread
SMALL_TASK = 1 << 20  # bytes: smaller tasks in a row are run as one (_batched)

__all__ = ["BLOCK_VALUES", "Files", "default_workers", "part_window", "progress", "run_blocks",
           "window"]


def default_workers() -> int:
    """One thread per idle core, at least one: a thread on a busy core waits for that core, and
    then for the merge, while adding nothing. Busy is the lesser of the 1-minute load average
    and the tasks runnable this moment besides this one (/proc/loadavg): the average alone
    still counts, for a minute, the processes that have just ended (a script running commands
    one after the other kept every one of them on one core)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return max(1, min(cores, round(cores - _busy_cores())))


def _busy_cores() -> float:
    try:
        with open("/proc/loadavg") as f:
            fields = f.read().split()
        average, runnable = float(fields[0]), int(fields[3].split("/")[0])
        return min(average, max(runnable - 1, 0))  # (runnable counts this thread)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def progress(total_bytes: int, what: str, stream=None, after: float = 1.0):
    """A tqdm bar on stderr, in bytes: only when stderr is a terminal, and only once the work
    has taken more than `after` seconds (a short run prints nothing). Elsewhere a bar that
    shows nothing, without importing tqdm (50-90 ms of a `stats` of a small file here)."""
    stream = stream or sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        return _Silent()
    from tqdm import tqdm

    return tqdm(total=total_bytes, desc=what, unit="B", unit_scale=True, unit_divisor=1000,
                file=stream, delay=after, mininterval=0.1, dynamic_ncols=True)


class _Silent:
    """A progress bar where there is no terminal to show it on."""

    def update(self, n: int = 1) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def run_blocks(tasks: Iterable[tuple[int, Callable[..., list[tuple[int, Any]]], tuple]],
               results: list, workers: int, bar=None) -> None:
    """Run each task (nbytes, function, args) on a pool of `workers` threads, at most
    2 x workers in flight, and merge every (index, partial) a call returns into results[index],
    in the order the tasks came. `bar` (a progress bar) advances by each task's nbytes and is
    closed at the end."""
    tasks = _batched(tasks, SMALL_TASK)
    if workers <= 1:  # in this thread: a pool's hand-over costs more than the smaller tasks
        _run_here(tasks, results, bar)
        return
    from concurrent.futures import ThreadPoolExecutor  # (only with threads: ~15 ms to import)

    pending: deque = deque()

    def collect() -> None:
        nbytes, future = pending.popleft()
        for index, partial in future.result():
            results[index].merge(partial)
        if bar is not None:
            bar.update(nbytes)

    try:
        with ThreadPoolExecutor(workers) as pool:
            for nbytes, function, args in tasks:
                while len(pending) >= 2 * workers:
                    collect()
                pending.append((nbytes, pool.submit(function, *args)))
            while pending:
                collect()
    finally:
        for _, future in pending:
            future.cancel()
        if bar is not None:
            bar.close()


def _batched(tasks, least: int):
    """The tasks, consecutive ones of fewer than `least` bytes run as one: a tensor of a few KB
    (a bias, a norm scale) costs more in a task's hand-over and a kernel call's set-up than in
    arithmetic. The grouping depends on the tasks alone, so the merge order, and with it every
    sum, is the same whatever the number of threads."""
    group: list = []
    size = 0
    for nbytes, function, args in tasks:
        if nbytes >= least:
            if group:
                yield size, _run_group, (group,)
                group, size = [], 0
            yield nbytes, function, args
            continue
        group.append((function, args))
        size += nbytes
        if size >= least:
            yield size, _run_group, (group,)
            group, size = [], 0
    if group:
        yield size, _run_group, (group,)


def _run_group(group: list) -> list:
    return [pair for function, args in group for pair in function(*args)]


def _run_here(tasks, results: list, bar) -> None:
    try:
        for nbytes, function, args in tasks:
            for index, partial in function(*args):
                results[index].merge(partial)
            if bar is not None:
                bar.update(nbytes)
    finally:
        if bar is not None:
            bar.close()


def window(block: Block, cell: Cell) -> tuple[int, int, int, int] | None:
    """Where a cell's values lie in a block's raw values, as (first, rows, cols, stride): `rows`
    runs of `cols` values, `stride` apart, from index `first`. None when the block misses it."""
    if block.whole_rows:
        first_row = block.start // block.cols
        lo = max(cell.r0, first_row)
        hi = min(cell.r1, (block.stop - 1) // block.cols + 1)
        if lo >= hi or cell.c0 >= cell.c1:
            return None
        return ((lo - first_row) * block.cols + cell.c0, hi - lo, cell.c1 - cell.c0, block.cols)
    row, begin = block.row, block.start % block.cols
    if not cell.r0 <= row < cell.r1:
        return None
    lo, hi = max(cell.c0, begin), min(cell.c1, begin + block.stop - block.start)
    return (lo - begin, 1, hi - lo, hi - lo) if lo < hi else None


def part_window(raw, block: Block, cell: Cell, where: tuple[int, int, int, int]):
    """The values a window holds of a cell's part, as (values, window): `raw` and `where`
    themselves, or for a part interleaved value by value (Cell.step > 1) a strided view of
    `raw` (no copy) in which its values, every step-th column, lie as a plain window."""
    if cell.step == 1:
        return raw, where
    first, rows, cols, stride = where
    column = (first + (0 if block.whole_rows else block.start % block.cols)) % block.cols
    skip = (cell.phase - column) % cell.step  # to the first of the part's columns
    count = len(range(skip, cols, cell.step))
    if rows > 1 and stride % cell.step:
        raise ValueError(f"rows {stride} apart do not keep a step of {cell.step}")
    return raw[first + skip::cell.step], (0, rows, count, stride // cell.step)
