"""What each command is measured against, and the in-process timers, each run as its own process:

    python benchmarks/baselines.py header PATH           bare Python: struct + json over the headers
    python benchmarks/baselines.py sumsq PATH            numpy: one pass of sum of squares over the data
    python benchmarks/baselines.py widen-dot PATH        numpy: BF16 data widened chunk by chunk, then np.dot
    python benchmarks/baselines.py hf-count FOLDER       transformers: from_pretrained + num_parameters()
    python benchmarks/baselines.py hf-stats FOLDER       transformers + torch: the same statistics per parameter
    python benchmarks/baselines.py our-stats SOURCE [THREADS]  inspector.values.stats, timing the reading only
    python benchmarks/baselines.py our-diff A B [THREADS]     inspector.values.diff, timing the reading only
    python benchmarks/baselines.py meta-build SPEC OUT   inspector.building.transformer.build_model on the meta device + tensor table

Each prints one JSON line on stdout; the timed part is reported as "seconds" where the caller needs
an in-process time (throughput, build), and the parent measures wall time and peak memory itself.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path


def safetensors_files(path: Path) -> list[Path]:
    """The .safetensors files of a file, a folder, or a folder with an index."""
    if path.is_file():
        return [path]
    index = path / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [path / s for s in shards]
    return [path / "model.safetensors"]


def header(path: str) -> dict:
    """The floor: read each file's 8-byte length and JSON header, add up the values."""
    total = 0
    tensors = 0
    for file in safetensors_files(Path(path)):
        with open(file, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            entries = json.loads(f.read(n))
        entries.pop("__metadata__", None)
        for entry in entries.values():
            count = 1
            for d in entry["shape"]:
                count *= d
            total += count
        tensors += len(entries)
    return {"values": total, "tensors": tensors}


def sumsq(path: str) -> dict:
    """One pass of numpy over the same bytes as stats reads: each file's data region seen as
    float32, sum of squares by np.dot (BLAS), timed from the memory map to the answer."""
    import numpy as np

    seconds = nbytes = 0.0
    for file in safetensors_files(Path(path)):
        start = time.perf_counter()
        data = data_region(file)
        usable = data.size - data.size % 4
        x = data[:usable].view(np.float32)
        float(np.dot(x, x))
        seconds += time.perf_counter() - start
        nbytes += usable
        del x, data
    return {"seconds": seconds, "bytes": nbytes}


def data_region(file: Path):
    """A safetensors file's data region (after the 8-byte length and the header), memory-mapped
    as bytes: what a baseline reads, as stats does."""
    import numpy as np

    with open(file, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    return np.memmap(file, np.uint8, "r", offset=8 + n)


def widen_dot(path: str) -> dict:
    """What numpy alone does with BF16 weights: each file's data region seen as 16-bit values,
    widened chunk by chunk (1M values) to float32 (the bits shifted to the top half) and
    summed as squares by np.dot, timed from the memory map to the answer."""
    import numpy as np

    seconds = nbytes = 0.0
    chunk = 1 << 20
    wide = np.empty(chunk, np.uint32)
    for file in safetensors_files(Path(path)):
        start = time.perf_counter()
        data = data_region(file)
        usable = data.size - data.size % 2
        x = data[:usable].view(np.uint16)
        total = 0.0
        for a in range(0, x.size, chunk):
            part = wide[:min(chunk, x.size - a)]
            np.left_shift(x[a:a + chunk], 16, out=part, dtype=np.uint32)
            values = part.view(np.float32)
            total += float(np.dot(values, values))
        seconds += time.perf_counter() - start
        nbytes += usable
        del x, data
    return {"seconds": seconds, "bytes": nbytes}


def hf_count(folder: str) -> dict:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    return {"parameters": model.num_parameters()}


def hf_stats(folder: str) -> dict:
    """Load with transformers, then per parameter in float64: mean, std, min, max, absmax, L2,
    zeros, NaN, Inf (what `inspector stats --by tensor` reports)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    out = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            x = p.detach().double().reshape(-1)
            finite = x[torch.isfinite(x)]
            out[name] = [finite.mean().item(), finite.std(correction=0).item(),
                         finite.min().item(), finite.max().item(), finite.abs().max().item(),
                         finite.norm().item(), (x == 0).double().mean().item(),
                         int(torch.isnan(x).sum()), int(torch.isinf(x).sum())]
    return {"tensors": len(out)}


def our_stats(source: str, threads: str = "0") -> dict:
    from inspector.values.engine import default_workers
    from inspector.checkpoint.inspection import inspect_source
    from inspector.values.stats import weight_stats

    decoupled = inspect_source(source).decoupled
    workers = int(threads) or default_workers()
    # Once untimed: numba's start-up (import, kernels loaded from its cache) is a fixed cost
    # per process, measured apart (`stats: small file`), not part of the throughput.
    weight_stats(decoupled, "tensor", workers=workers, progress=False)
    start = time.perf_counter()
    document = weight_stats(decoupled, "tensor", workers=workers, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": document["bytes_read"], "threads": workers}


def our_diff(source_a: str, source_b: str, threads: str = "0") -> dict:
    from inspector.values.diff import diff
    from inspector.values.engine import default_workers

    workers = int(threads) or default_workers()
    diff(source_a, source_b, "tensor", workers=workers, progress=False)  # untimed: as our_stats
    start = time.perf_counter()
    document = diff(source_a, source_b, "tensor", workers=workers, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": document["bytes_read"], "threads": workers}


def meta_build(spec_name: str, out: str) -> dict:
    """Spec -> meta-device model (timed), then its per-tensor table from the model's own
    parameters -> tensors.csv and tensors.json (timed apart)."""
    import torch  # imported before the clock starts: its import is not the build

    from inspector.checkpoint.tensor_rows import decouple
    from inspector.output.export import write_tables
    from inspector.families import CANONICAL
    from inspector.formats.base import Checkpoint, TensorInfo
    from inspector.building.transformer import build_model
    from inspector.spec.loading import load_spec
    from inspector.vocab.tables import tensor_table

    spec = load_spec(spec_name)
    start = time.perf_counter()
    model = build_model(spec, "meta")
    built = time.perf_counter()
    tensors = [TensorInfo(name, str(p.dtype).removeprefix("torch."), tuple(p.shape),
                          p.numel() * p.element_size(), "meta")
               for name, p in model.named_parameters()]
    rows = decouple(Checkpoint(spec_name, "meta", tensors), CANONICAL).rows
    table = tensor_table(rows)
    write_tables({"tensors": table}, out, "csv")
    write_tables({"tensors": table}, out, "json")
    exported = time.perf_counter()
    return {"build_seconds": built - start, "table_seconds": exported - built,
            "parameters": sum(p.numel() for p in model.parameters()), "tensors": len(table),
            "torch": torch.__version__}


COMMANDS = {"header": header, "sumsq": sumsq, "widen-dot": widen_dot, "hf-count": hf_count, "hf-stats": hf_stats,
            "our-stats": our_stats, "our-diff": our_diff, "meta-build": meta_build}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
