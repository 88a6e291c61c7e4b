"""Property tests: the readers and the spec loader, fed mutated input, either succeed or raise the
toolkit's own InspectorError; nothing else escapes, and nothing runs long.

Volume: the default profile runs FUZZ_EXAMPLES examples per property (quick enough for CI); set
INSPECTOR_FUZZ=thorough for 20x as many, or INSPECTOR_FUZZ=<number> for that many per property.
Every example also runs under a hard wall-clock alarm, so a hang fails the test instead of
stalling the suite.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import signal
import struct
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from malformed_files import write_tiny_gguf

from inspector.errors import InspectorError, SpecError
from inspector.formats.safetensors import DTYPE_BYTES, read_header
from inspector.spec.loading import load_spec
from inspector.spec.schema import FIELDS
from inspector.spec.validation import spec_from_dict

FUZZ_EXAMPLES = 300
settings.register_profile("ci", max_examples=FUZZ_EXAMPLES, deadline=timedelta(seconds=3),
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("thorough", parent=settings.get_profile("ci"),
                          max_examples=FUZZ_EXAMPLES * 20)
PROFILE = os.environ.get("INSPECTOR_FUZZ", "ci")
if PROFILE.isdigit():
    settings.register_profile(PROFILE, parent=settings.get_profile("ci"),
                              max_examples=int(PROFILE))
FUZZ = settings(settings.get_profile(PROFILE))
HARD_LIMIT_S = 20  # one example taking this long is a hang, whatever the deadline said

WORK = Path(tempfile.mkdtemp(prefix="inspector-fuzz-"))
atexit.register(shutil.rmtree, WORK, True)


@contextmanager
def no_hang(seconds: int = HARD_LIMIT_S):
    """Turn a hang into a failure: SIGALRM after `seconds` raises in the main thread."""
    def alarm(signum, frame):
        raise TimeoutError(f"no answer after {seconds} s: a hang")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def write(name: str, data: bytes) -> Path:
    path = WORK / name
    path.write_bytes(data)
    return path


# --- mutations shared by the byte-level properties ----------------------------------------------

@st.composite
def mutated(draw, original: bytes):
    """Bit flips, overwritten runs (with bytes that make counts absurd), and truncation."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 6))):
        where = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "byte", "u32", "u64"]))
        if kind == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[where] = draw(st.integers(0, 255))
        else:
            size = 4 if kind == "u32" else 8
            value = draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**62, 2**64 - 1])
                         | st.integers(0, 2 ** (8 * size) - 1))
            data[where:where + size] = (value % 2 ** (8 * size)).to_bytes(size, "little")
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


# --- safetensors ---------------------------------------------------------------------------------

BASE_TENSORS = {"wte.weight": ("F32", [4, 2]), "h.0.attn.c_attn.weight": ("F16", [2, 6]),
                "ln_f.bias": ("BF16", [2])}


def safetensors_bytes(header: dict, data_len: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    end = max((e["data_offsets"][1] for k, e in header.items() if k != "__metadata__"
               and isinstance(e, dict) and isinstance(e.get("data_offsets"), list)
               and len(e["data_offsets"]) == 2 and isinstance(e["data_offsets"][1], int)),
              default=0)
    n = end if data_len is None else data_len
    return struct.pack("<Q", len(raw)) + raw + bytes(max(0, min(n, 4096)))


def base_header() -> dict:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in BASE_TENSORS.items():
        size = DTYPE_BYTES[dtype] * shape[0] * (shape[1] if len(shape) > 1 else 1)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    return header


BASE_SAFETENSORS = safetensors_bytes(base_header())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=5),
    max_leaves=12)

# Values near the valid ones, where the interesting checks live.
near_fields = {
    "dtype": st.sampled_from(sorted(DTYPE_BYTES) + ["F31", "f32", "", "Q4_1"]),
    "shape": st.lists(st.integers(-3, 2**65), max_size=6),
    "data_offsets": st.lists(st.integers(-3, 2**65) | st.integers(0, 64), min_size=0, max_size=3),
}


@st.composite
def mutated_header(draw):
    header = copy.deepcopy(base_header())
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(list(header) + ["new"]))
        entry = header.get(name)
        if isinstance(entry, dict) and name != "__metadata__" and draw(st.booleans()):
            field = draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra"]))
            entry[field] = draw(near_fields.get(field, json_values) | json_values)
        elif draw(st.booleans()):
            header.pop(name, None)
        else:
            header[name] = draw(json_values)
    data_len = draw(st.none() | st.integers(0, 128))
    return safetensors_bytes(header, data_len)


def read_safetensors_or_refuse(data: bytes) -> None:
    path = write("fuzz.safetensors", data)
    with no_hang():
        try:
            tensors, metadata = read_header(path)
        except InspectorError:
            return
    # Accepted: then it is really well formed. Tensors tile the data region exactly.
    size = len(data)
    header_len = struct.unpack("<Q", data[:8])[0]
    position = 8 + header_len
    for t in sorted(tensors, key=lambda t: t.offset):
        assert t.offset == position
        assert t.nbytes == t.numel * DTYPE_BYTES[t.dtype]
        position += t.nbytes
    assert position <= size and isinstance(metadata, dict)


@FUZZ
@given(mutated(BASE_SAFETENSORS))
def test_safetensors_bytes_mutated(data):
    read_safetensors_or_refuse(data)


@FUZZ
@given(mutated_header())
def test_safetensors_header_fields_replaced(data):
    read_safetensors_or_refuse(data)


@FUZZ
@given(st.binary(max_size=256), st.integers(0, 300) | st.integers(0, 2**64 - 1))
def test_safetensors_random_bytes(body, length):
    read_safetensors_or_refuse(struct.pack("<Q", length) + body)


# --- GGUF ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gguf_original():
    pytest.importorskip("gguf")
    return write_tiny_gguf(WORK / "tiny.gguf").read_bytes()


def read_gguf_or_refuse(data: bytes) -> None:
    from inspector.formats.gguf import read_gguf

    path = write("fuzz.gguf", data)
    with no_hang():
        try:
            tensors, metadata = read_gguf(path)
        except InspectorError:
            return
    for t in tensors:  # accepted: every tensor's bytes lie inside the file
        assert 0 <= t.offset and t.offset + t.nbytes <= len(data)
        assert all(d >= 0 for d in t.shape)
    assert isinstance(metadata, dict)


def test_gguf_original_reads(gguf_original):
    """The control: the unmutated file is read, both tensors in PyTorch order."""
    from inspector.formats.gguf import read_gguf

    tensors, metadata = read_gguf(write("control.gguf", gguf_original))
    assert [(t.name, t.shape) for t in tensors] == [("token_embd.weight", (4, 8)),
                                                   ("blk.0.attn_q.weight", (8, 8))]
    assert metadata["tokenizer.ggml.tokens"] == ["a", "b", "c", "d"]


@FUZZ
@given(data=st.data())
def test_gguf_bytes_mutated(gguf_original, data):
    read_gguf_or_refuse(data.draw(mutated(gguf_original)))


@FUZZ
@given(st.binary(max_size=512))
def test_gguf_random_bytes_after_the_magic(body):
    read_gguf_or_refuse(b"GGUF" + body)


# --- specs ---------------------------------------------------------------------------------------

BASE_SPEC = {"name": "t", "family": "gpt2", "source": "fuzz", "vocab_size": 10, "n_ctx": 8,
             "d_model": 8, "n_layers": 1, "n_heads": 2, "d_ff": 32}

spec_values = json_values | st.integers(-(2**80), 2**80) | st.sampled_from(
    [0, -1, 1, 3, True, False, "", "dense", "local", ["dense", "local"], {"qkv": True},
     {"qkv": 1}, {"nope": True}, "rmsnorm", "rotary", "llama", 1e-5, float("nan")])


@st.composite
def spec_dicts(draw):
    data = dict(BASE_SPEC) if draw(st.booleans()) else {}
    keys = st.sampled_from(sorted(FIELDS)) | st.text(max_size=10)
    for _ in range(draw(st.integers(0, 6))):
        key = draw(keys)
        if draw(st.integers(0, 4)) == 0:
            data.pop(key, None)
        else:
            data[key] = draw(spec_values)
    return data


def spec_or_refusal(call) -> None:
    with no_hang():
        try:
            spec = call()
        except SpecError as e:
            assert "\n" not in str(e)
            return
    # Accepted: the derived sizes are usable.
    assert spec.d_head > 0 and spec.n_kv_heads > 0 and spec.n_heads % spec.n_kv_heads == 0


@FUZZ
@given(spec_dicts())
def test_spec_from_dict(data):
    spec_or_refusal(lambda: spec_from_dict(data, origin="fuzz.yaml"))


@FUZZ
@given(json_values)
def test_spec_from_anything(value):
    spec_or_refusal(lambda: spec_from_dict(value, origin="fuzz.yaml"))


YAML_ALPHABET = st.sampled_from(list("abn_:- \n\t[]{},'\"&*!?|>%@`#0123456789.") +
                                ["d_model", "n_heads", "!!python/object:os.system", "\xff",
                                 "\ud800", "\x00"])


@FUZZ
@given(st.lists(YAML_ALPHABET, max_size=60).map("".join))
def test_spec_yaml_text(text):
    path = WORK / "fuzz.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    spec_or_refusal(lambda: load_spec(str(path)))


@FUZZ
@given(spec_dicts(), st.data())
def test_spec_yaml_dumped_then_mutated(data, draw):
    import yaml

    text = yaml.safe_dump(data).encode()
    path = WORK / "fuzz-mutated.yaml"
    path.write_bytes(draw.draw(mutated(text)) if text else text)
    spec_or_refusal(lambda: load_spec(str(path)))


# --- a well-formed file of odd content, through the whole pipeline ------------------------------
# The readers accept it; what follows (layout choice, decoupling, shape inference, tables, check)
# must then either answer or refuse with an InspectorError, whatever the names, shapes and config.

def layout_names() -> list[str]:
    from inspector.families import all_layouts

    return sorted({prefix + rule.pattern for layout in all_layouts().values()
                   for rule in layout.rules for prefix in layout.prefixes})


tensor_names = st.builds(
    lambda pattern, layer: pattern.replace("{i}", str(layer)),
    st.sampled_from(layout_names()),
    st.integers(0, 3) | st.integers(0, 10**12) | st.sampled_from([10**20])) | st.text(max_size=20)

CONFIG_KEYS = ["model_type", "n_embd", "n_head", "n_layer", "n_positions", "n_inner", "vocab_size",
               "hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers",
               "intermediate_size", "max_position_embeddings", "head_dim", "tie_word_embeddings",
               "activation_function", "hidden_act", "rope_parameters", "attention_bias"]
config_values = (st.sampled_from(["gpt2", "llama", "bert", "mistral", "t5"])
                 | st.integers(-2, 64) | json_values)


@st.composite
def odd_checkpoints(draw):
    tensors = {}
    for _ in range(draw(st.integers(0, 8))):
        shape = draw(st.lists(st.integers(0, 6), max_size=4))
        tensors[draw(tensor_names)] = (draw(st.sampled_from(["F32", "F16", "I64"])), shape)
    config = None
    if draw(st.booleans()):
        config = draw(st.dictionaries(st.sampled_from(CONFIG_KEYS), config_values, max_size=8))
    return tensors, config


@FUZZ
@given(odd_checkpoints(), st.sampled_from(["role", "layer", "head", "tensor", "check"]))
def test_whole_pipeline_on_well_formed_odd_files(checkpoint, view):
    from conftest import write_hole_safetensors

    from inspector.checkpoint.check import check
    from inspector.checkpoint.inspection import inspect_source
    from inspector.vocab.tables import head_table, layer_table, role_table, tensor_table

    tensors, config = checkpoint
    folder = WORK / "odd"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    write_hole_safetensors(folder / "model.safetensors", tensors)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    with no_hang():
        try:
            inspection = inspect_source(str(folder))
            rows = inspection.rows
            if view == "role":
                role_table(rows)
            elif view == "layer":
                layer_table(rows)
            elif view == "head":
                head_table(rows, inspection.shape.n_heads, inspection.shape.n_kv_heads)
            elif view == "tensor":
                tensor_table(rows)
            else:
                check(spec_from_dict(BASE_SPEC), inspection.decoupled)
        except InspectorError:
            pass


# --- PyTorch pickles ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch_files():
    """A tiny state dict in torch.save's zip format and in its legacy (pre-1.6) format."""
    import io

    torch = pytest.importorskip("torch")
    state = {"wte.weight": torch.arange(8.0).reshape(4, 2), "ln_f.bias": torch.zeros(2)}
    out = {}
    for form, zipped in (("zip", True), ("legacy", False)):
        buffer = io.BytesIO()
        torch.save(state, buffer, _use_new_zipfile_serialization=zipped)
        out[form] = buffer.getvalue()
    return out


@FUZZ
@given(form=st.sampled_from(["zip", "legacy"]), data=st.data())
def test_pytorch_bytes_mutated(torch_files, form, data):
    from inspector.formats.pytorch import read_pytorch

    path = write("fuzz.bin", data.draw(mutated(torch_files[form])))
    with no_hang():
        try:
            tensors = read_pytorch(path)
        except InspectorError:
            return
    assert all(t.nbytes >= 0 and all(d >= 0 for d in t.shape) for t in tensors)


# --- the hostile corpus (tests/hostile_files.py), mutated ----------------------------------------
# Each kind of hostile input seeds a property: its file, with bits flipped, counts made absurd or
# cut short, is read by the reader that meets it, and either read or refused as InspectorError.

@pytest.fixture(scope="module")
def hostile_seeds() -> dict[str, Path]:
    """The small hostile files, written once: name -> the file its command reads."""
    pytest.importorskip("torch")
    from hostile_files import FUZZ_SEEDS, HOSTILE

    seeds = {}
    for case in FUZZ_SEEDS:
        folder = WORK / "hostile" / case
        folder.mkdir(parents=True, exist_ok=True)
        args, _, _ = HOSTILE[case](folder)
        seeds[case] = Path(args[1])
    return seeds


def reader_of(path: Path):
    """The reader each hostile file meets: its header, its pickle or its spec."""
    from inspector.formats.pytorch import read_pytorch

    return {".safetensors": read_header, ".bin": read_pytorch, ".pt": read_pytorch,
            ".yaml": lambda p: load_spec(str(p))}[path.suffix]


@FUZZ
@given(data=st.data())
def test_hostile_corpus_mutated(hostile_seeds, data):
    from hostile_files import FUZZ_SEEDS

    seed = hostile_seeds[data.draw(st.sampled_from(FUZZ_SEEDS))]
    path = write(f"hostile{seed.suffix}", data.draw(mutated(seed.read_bytes())))
    with no_hang():
        try:
            reader_of(path)(path)
        except InspectorError as e:
            assert "\n" not in str(e) and "\x1b" not in str(e)


def test_hostile_corpus_unmutated_is_refused(hostile_seeds):
    """The control: each seed as written is refused (not read) by the reader the property uses."""
    for path in hostile_seeds.values():
        copy = write(f"control{path.suffix}", path.read_bytes())
        with pytest.raises(InspectorError):
            reader_of(copy)(copy)
