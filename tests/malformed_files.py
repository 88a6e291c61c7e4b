"""Builders for the robustness tests: safetensors files written byte by byte (so that any field
can be wrong), a tiny valid GPT-2 header file to corrupt, and the refusal every bad input must get."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from conftest import write_hole_safetensors

D_MODEL, D_FF, N_LAYERS, VOCAB, N_CTX = 32, 128, 2, 100, 16  # as tiny_spec_yaml / tiny_gpt2_config


def tiny_gpt2_tensors() -> dict[str, tuple[str, list[int]]]:
    """GPT-2 as the hub published it minus the masks: the shapes tiny_spec_yaml describes."""
    d, f = D_MODEL, D_FF
    tensors = {"wte.weight": ("F32", [VOCAB, d]), "wpe.weight": ("F32", [N_CTX, d])}
    for i in range(N_LAYERS):
        for name, shape in {"ln_1.weight": [d], "ln_1.bias": [d],
                            "attn.c_attn.weight": [d, 3 * d], "attn.c_attn.bias": [3 * d],
                            "attn.c_proj.weight": [d, d], "attn.c_proj.bias": [d],
                            "ln_2.weight": [d], "ln_2.bias": [d],
                            "mlp.c_fc.weight": [d, f], "mlp.c_fc.bias": [f],
                            "mlp.c_proj.weight": [f, d], "mlp.c_proj.bias": [d]}.items():
            tensors[f"h.{i}.{name}"] = ("F32", shape)
    tensors.update({"ln_f.weight": ("F32", [d]), "ln_f.bias": ("F32", [d])})
    return tensors


def write_tiny_gpt2(path: Path) -> Path:
    """A valid tiny GPT-2 safetensors file with real (zero) bytes, small enough to hash."""
    write_hole_safetensors(path, tiny_gpt2_tensors())
    return path


def raw_safetensors(path: Path, header: object, data: bytes = b"",
                    length: int | None = None) -> Path:
    """A safetensors file with any header: an object is dumped as JSON, bytes are written as
    they are; `length` overrides the 8-byte header length prefix."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw) if length is None else length))
        f.write(raw)
        f.write(data)
    return path


def f32(shape: list[int], begin: int = 0) -> dict:
    """A well-formed F32 entry at `begin`."""
    n = 4
    for d in shape:
        n *= d
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, begin + n]}


def assert_refused(result, name: str, *causes: str) -> str:
    """Exit 2, exactly one line on stderr, the toolkit's own error (not an internal one),
    naming `name` and every cause fragment. Returns the line."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("inspector: error: "), line
    assert name in line, (name, line)
    for cause in causes:
        assert cause in line, (cause, line)
    return line


def write_tiny_gguf(path: Path) -> Path:
    """A GGUF as llama.cpp's gguf-py writes it: Llama metadata, a token array with its scores, a
    nested array, and two tensors (F32 [4, 8], F16 [8, 8]); 832 bytes or so."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(16)
    writer.add_embedding_length(8)
    writer.add_head_count(2)
    writer.add_token_list(["a", "b", "c", "d"])
    writer.add_token_scores([0.0, 1.0, 2.0, 3.0])
    writer.add_array("fuzz.nested", [[1, 2], [3]])
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((8, 8), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def gguf_value_at(data: bytes, key: str) -> int:
    """Offset of the value type (u32) that follows metadata key `key` (after its u64 length)."""
    raw = key.encode()
    at = data.index(struct.pack("<Q", len(raw)) + raw)
    return at + 8 + len(raw)


def patched(data: bytes, at: int, fmt: str, value: int) -> bytes:
    """`data` with a little-endian `fmt` value written at `at`."""
    out = bytearray(data)
    struct.pack_into("<" + fmt, out, at, value)
    return bytes(out)
