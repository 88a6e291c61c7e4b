"""Quantized checkpoints read as what they are: logical parameters, stored elements, bookkeeping.

A quantized checkpoint stores a linear layer's weight packed (eight 4-bit values in an int32,
two in a byte) beside tables that say how to turn the integers back into numbers: scales, zero
points, group indices, absmax. Counted as stored, a 4-bit Llama-3.1-8B is about 2B "parameters"
and its scales are parameters too. Here a packed weight becomes the weight the unquantized model
holds (its logical shape, so layouts, heads and `check` see the model they know), and the tables
are *bookkeeping*: listed apart, like buffers, never counted as parameters.

What the checkpoint is comes from config.json (`quantization_config`, or MLX's `quantization`),
and from its names when there is no config (`qweight`, `SCB`, `weight_scale_inv`, `*_blocks`).
The stored layouts, per method (shapes as the files hold them; `b` bits, `p = 32 / b` values in an
int32):

  gptq                qweight I32 [in / p, out] (AutoGPTQ packs along the input), qzeros, scales,
                      g_idx
  awq                 qweight I32 [in, out / p] (AutoAWQ packs along the output), qzeros, scales
  compressed-tensors  weight_packed I32 [out, in / p], weight_scale, weight_zero_point,
                      weight_shape, weight_g_idx (pack-quantized); or an FP8 weight and
                      weight_scale, input_scale (float-quantized)
  mlx                 weight U32 [out, in / p], scales, biases (per group of `group_size`)
  bitsandbytes-4bit   weight U8 [out * in / 2, 1], weight.absmax, weight.quant_map,
                      weight.nested_absmax, weight.nested_quant_map, weight.quant_state.*
  bitsandbytes-8bit   weight I8 [out, in], SCB, weight_format
  fp8                 weight F8_E4M3 [out, in], weight_scale_inv (one per 128 x 128 block)
  mxfp4               X_blocks U8 [..., out, in / 32, 16] (two 4-bit values a byte), X_scales
  int8                weight I8 (or F8) [out, in] and a per-tensor weight_scale / weight.scale
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.formats.dtypes import DTYPES, FLOAT, INT

# Suffixes of bookkeeping tensors, each with what replaces it to name the weight it serves (so
# that it is listed under that weight's role and layer). Only read in a quantized checkpoint: in
# any other, a tensor named `scales` is a parameter like the rest.
BOOKKEEPING_SUFFIXES = (
    (".qzeros", ".weight"), (".scales", ".weight"), (".g_idx", ".weight"),
    (".biases", ".weight"),  # MLX's per-group offsets (its biases of a layer are `bias`)
    (".SCB", ".weight"), (".weight_format", ".weight"),
    (".weight_scale_inv", ".weight"), (".weight_scale", ".weight"), (".input_scale", ".weight"),
    (".weight_zero_point", ".weight"), (".weight_shape", ".weight"),
    (".weight_g_idx", ".weight"),
    (".weight.absmax", ".weight"), (".weight.quant_map", ".weight"),
    (".weight.nested_absmax", ".weight"), (".weight.nested_quant_map", ".weight"),
    (".weight.scale", ".weight"),
    ("_scales", ""),  # MXFP4: `gate_up_proj_scales` serves `gate_up_proj`
)
QUANT_STATE = ".weight.quant_state."  # bitsandbytes: `...weight.quant_state.bitsandbytes__nf4`

# Integer or 8-bit float weights whose values are not the model's numbers until scaled (not
# F8_E8M0: powers of two, the scales themselves).
LOW_PRECISION = {d.name for d in DTYPES
                 if d.bytes == 1 and d.kind in (FLOAT, INT) and d.name != "F8_E8M0"}


class QuantizationError(ValueError):
    """A quantized checkpoint this module cannot read exactly (said as a CheckpointError)."""


@dataclass(frozen=True)
class Quantization:
    method: str  # one of METHODS
    bits: int | None = None  # bits a weight value takes (4, 8), where the method has a choice
    group_size: int | None = None  # values sharing one scale, where the method says
    basis: str = "config.json"  # config.json | tensor names

    def as_dict(self) -> dict:
        return {"method": self.method, "bits": self.bits, "group_size": self.group_size,
                "basis": self.basis}

    @property
    def label(self) -> str:
        bits = f" {self.bits}-bit" if self.bits and self.method not in (
            "bitsandbytes-4bit", "bitsandbytes-8bit") else ""
        group = f", groups of {self.group_size}" if self.group_size else ""
        return f"{self.method}{bits}{group} (from {self.basis})"


@dataclass(frozen=True)
class Stored:
    """How one stored tensor is read: under `name` with the `shape` the unquantized model has
    (the stored tensor itself when nothing changes), or as bookkeeping serving `name`."""
    name: str
    shape: tuple[int, ...]
    bookkeeping: bool = False
    packed: bool = False  # its logical values outnumber its stored elements


def read_quantization(config: dict | None, tensors) -> Quantization | None:
    """The checkpoint's quantization, from config.json, else from its tensor names and dtypes;
    None for an unquantized checkpoint."""
    found = _from_config(config or {})
    if found is None:
        found = _from_names(tensors)
    if found is not None and found.method in ("gptq", "awq") and not found.bits:
        found = Quantization(found.method, _bits_from_shapes(found.method, tensors),
                             found.group_size, found.basis)
    return found


def _from_config(config: dict) -> Quantization | None:
    mlx = config.get("quantization")
    if isinstance(mlx, dict) and "bits" in mlx:
        return Quantization("mlx", _int(mlx.get("bits")), _int(mlx.get("group_size")))
    q = config.get("quantization_config")
    if not isinstance(q, dict):
        return None
    method = str(q.get("quant_method", "")).lower()
    if method in ("gptq", "awq"):
        return Quantization(method, _int(q.get("bits")), _int(q.get("group_size")))
    if method == "bitsandbytes":
        four = q.get("load_in_4bit", q.get("_load_in_4bit"))
        return Quantization("bitsandbytes-4bit" if four else "bitsandbytes-8bit",
                            4 if four else 8)
    if method == "fp8":
        return Quantization("fp8", 8)
    if method == "mxfp4":
        return Quantization("mxfp4", 4, 32)
    if method == "compressed-tensors":
        groups = q.get("config_groups") or {}
        weights = next((g.get("weights") for g in groups.values()
                        if isinstance(g, dict) and isinstance(g.get("weights"), dict)), {}) or {}
        return Quantization("compressed-tensors", _int(weights.get("num_bits")),
                            _int(weights.get("group_size")))
    return None


def _from_names(tensors) -> Quantization | None:
    names = {t.name for t in tensors}
    by_names = "tensor names"
    if any(n.endswith(".qweight") for n in names):
        gptq = any(n.endswith(".g_idx") for n in names)
        return Quantization("gptq" if gptq else "awq", None, None, by_names)
    if any(n.endswith(".weight_packed") for n in names):
        raise QuantizationError("compressed-tensors packed weights (weight_packed) and no"
                                " config.json to say their bits: place config.json beside them")
    if any(QUANT_STATE in n or n.endswith(".weight.absmax") for n in names):
        return Quantization("bitsandbytes-4bit", 4, None, by_names)
    if any(n.endswith(".SCB") for n in names):
        return Quantization("bitsandbytes-8bit", 8, None, by_names)
    if any(n.endswith("_blocks") and n[:-len("_blocks")] + "_scales" in names for n in names):
        return Quantization("mxfp4", 4, 32, by_names)
    if any(n.endswith(".weight_scale_inv") for n in names):
        return Quantization("fp8", 8, None, by_names)
    low = {t.name for t in tensors if t.dtype in LOW_PRECISION}
    if any(n.endswith((".weight_scale", ".weight.scale")) and
           n.rsplit(".weight", 1)[0] + ".weight" in low for n in names):
        return Quantization("int8", 8, None, by_names)
    return None


def _bits_from_shapes(method: str, tensors) -> int:
    """GPTQ: qweight holds in * b / 32 rows and g_idx one entry per input; AWQ: qzeros holds
    out * b / 32 columns and scales one per output. Either way b = 32 x stored / logical."""
    shapes = {t.name: t.shape for t in tensors}
    for name, shape in shapes.items():
        if not name.endswith(".qweight") or len(shape) != 2:
            continue
        base = name[:-len(".qweight")]
        if method == "gptq" and len(shapes.get(base + ".g_idx", ())) == 1:
            packed, logical = shape[0], shapes[base + ".g_idx"][0]
        elif method == "awq" and len(shapes.get(base + ".scales", ())) == 2:
            packed, logical = shape[1], shapes[base + ".scales"][1]
        else:
            continue
        if logical and (32 * packed) % logical == 0:
            return 32 * packed // logical
    raise QuantizationError(f"{method} packed weights (qweight) and no config.json saying their"
                            " bits, nor the tensors that tell them: place config.json beside"
                            " them")


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def stored_view(tensor, quantization: Quantization | None) -> Stored:
    """How `tensor` is read in a checkpoint of this quantization (see the module's table)."""
    name, shape = tensor.name, tuple(tensor.shape)
    if quantization is None:
        return Stored(name, shape)
    for suffix, replacement in BOOKKEEPING_SUFFIXES:
        if name.endswith(suffix):
            return Stored(name[:-len(suffix)] + replacement, shape, bookkeeping=True)
    if QUANT_STATE in name:
        return Stored(name.split(QUANT_STATE)[0] + ".weight", shape, bookkeeping=True)
    method, bits = quantization.method, quantization.bits
    per_int32 = 32 // bits if bits and 32 % bits == 0 else None
    if name.endswith(".qweight") and len(shape) == 2 and per_int32:
        base = name[:-len(".qweight")] + ".weight"
        if method == "gptq":
            return Stored(base, (shape[1], shape[0] * per_int32), packed=True)
        return Stored(base, (shape[1] * per_int32, shape[0]), packed=True)
    if name.endswith(".weight_packed") and len(shape) == 2 and per_int32:
        return Stored(name[:-len("_packed")], (shape[0], shape[1] * per_int32), packed=True)
    if method == "mlx" and name.endswith(".weight") and tensor.dtype == "U32" and per_int32:
        return Stored(name, (*shape[:-1], shape[-1] * per_int32), packed=True)
    if method == "mxfp4" and name.endswith("_blocks") and len(shape) >= 3:
        # the last two dims are blocks of 32 values in 16 bytes: one row of values; rows are
        # outputs, and transformers dequantizes to (in, out) (mxfp4.py: out.transpose(1, 2)),
        # the shape of its unquantized gpt-oss experts
        return Stored(name[:-len("_blocks")], (*shape[:-3], shape[-2] * shape[-1] * 2,
                                               shape[-3]), packed=True)
    if method == "bitsandbytes-4bit" and name.endswith(".weight") and tensor.dtype == "U8":
        return Stored(name, (tensor.numel * 2,), packed=True)  # shape: see logical_shape
    return Stored(name, shape)


def refuse_values(source: str, quantization: Quantization | None, command: str) -> None:
    """`stats` and `diff` read values: a quantized checkpoint's stored integers are not the
    model's numbers, and mixing them with its float tensors would be wrong. Refused in one line
    rather than dequantized by a formula written here (each method's own library owns it)."""
    if quantization is not None:
        from inspector.errors import CheckpointError

        raise CheckpointError(source, f"quantized weights ({quantization.label}): {command}"
                                      " reads the values of unquantized checkpoints only;"
                                      f" dequantizing {quantization.method} is not supported")
