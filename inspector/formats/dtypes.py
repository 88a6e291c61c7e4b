"""The data types of stored tensors, one row each: the one table every reader, writer and value
reader derives its own from (safetensors' byte widths, torch's names, the numpy views of the
values engine, the report's plain types, the low-precision weights of quantization, what `build`
writes).

Names are safetensors', which the whole tool speaks: a PyTorch file's dtypes are translated to
them, and GGUF's plain types already bear them. Anything else a tensor may hold (GGUF's Q4_1,
Q8_0, Q4_K, ...) is a quantized block format, outside this table.

No numpy here, so that the header path imports none: a row names the numpy type its bytes are
viewed as, and inspector.values.blocks makes the views from the names.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOAT, INT, BOOL = "float", "int", "bool"


@dataclass(frozen=True)
class DType:
    name: str  # safetensors' name: F32, BF16, I64, ...
    bytes: int  # per element
    torch: str  # the name after `torch.`
    # The numpy type whose view of the stored bytes the value kernels read (a float numpy lacks
    # is viewed as its bit patterns); None: the values are not read.
    numpy_view: str | None
    kind: str  # FLOAT, INT or BOOL
    written: bool = False  # `inspector build --dtype` writes it (by its torch name)


DTYPES = (
    DType("F64", 8, "float64", "float64", FLOAT),
    DType("F32", 4, "float32", "float32", FLOAT, written=True),
    DType("F16", 2, "float16", "uint16", FLOAT, written=True),
    DType("BF16", 2, "bfloat16", "int16", FLOAT, written=True),  # a float32's top 16 bits
    DType("F8_E4M3", 1, "float8_e4m3fn", "uint8", FLOAT),
    DType("F8_E5M2", 1, "float8_e5m2", "uint8", FLOAT),
    # Exponent only (a power of two): MXFP4's scales, never a weight's values.
    DType("F8_E8M0", 1, "float8_e8m0fnu", None, FLOAT),
    DType("I64", 8, "int64", "int64", INT),
    DType("I32", 4, "int32", "int32", INT),
    DType("I16", 2, "int16", "int16", INT),
    DType("I8", 1, "int8", "int8", INT),
    DType("U64", 8, "uint64", "uint64", INT),
    DType("U32", 4, "uint32", "uint32", INT),
    DType("U16", 2, "uint16", "uint16", INT),
    DType("U8", 1, "uint8", "uint8", INT),
    DType("BOOL", 1, "bool", "uint8", BOOL),
)

BY_NAME = {d.name: d for d in DTYPES}
# What `inspector build --dtype` offers, by torch name: float32, float16, bfloat16.
WRITTEN = tuple(d.torch for d in DTYPES if d.written)
