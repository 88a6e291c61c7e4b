"""The two real checkpoints no one here wrote, installed from the package index, checked against
their specs through the CLI as a user would: all-MiniLM-L6-v2 (BERT, safetensors, with its I64
`position_ids` buffer) and SmolLM2-135M-Instruct (Llama, GGUF Q4_1 with a Q8_0 embedding, tied)."""

import json

from conftest import MINILM_DIR, SMOLLM2_GGUF, needs_minilm, needs_smollm2, run_cli


def run_json(*args) -> tuple[int, dict]:
    result = run_cli(*args, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@needs_minilm
def test_minilm_checks_against_its_spec():
    """d=384, L=6, F=1536, V=30522, n_ctx 512, all biases, post-norm, pooler:
    embedding 30522 x 384 = 11,720,448; position 512 x 384 = 196,608; token_type 2 x 384 = 768
    query/key/value/output (384 x 384 + 384) x 6 = 887,040 each
    up (384 x 1536 + 1536) x 6 = 3,548,160; down (1536 x 384 + 384) x 6 = 3,541,248
    norm (embedding LayerNorm + 2 per layer) 13 x 768 = 9,984; pooler 384 x 384 + 384 = 147,840
    total 22,713,216."""
    code, verdict = run_json("check", str(MINILM_DIR), "--spec", "all-minilm-l6-v2")
    assert code == 0 and verdict["ok"] and verdict["problems"] == []
    assert verdict["total"] == {"expected": 22_713_216, "actual": 22_713_216}
    assert {r["role"]: r["actual"] for r in verdict["roles"]} == {
        "embedding": 11_720_448, "position": 196_608, "token_type": 768,
        "query": 887_040, "key": 887_040, "value": 887_040, "output": 887_040,
        "up": 3_548_160, "down": 3_541_248, "norm": 9_984, "pooler": 147_840,
    }
    assert all(r["ok"] and r["expected"] == r["actual"] for r in verdict["roles"])
    assert verdict["buffers"] == [{"name": "embeddings.position_ids", "numel": 512}]


@needs_minilm
def test_minilm_position_ids_is_a_buffer():
    """The I64 arange(512) is stored beside 103 F32 parameters: a buffer, never a parameter.
    Bytes: 22,713,216 x 4 + 512 x 8 = 90,856,960."""
    code, found = run_json("inspect", str(MINILM_DIR), "--by", "tensor")
    assert code == 0
    assert found["dtypes"] == {"I64": 1, "F32": 103}
    assert found["parameters"] == 22_713_216
    assert found["bytes"] == 22_713_216 * 4 + 512 * 8
    row = next(r for r in found["tensor_rows"] if r["tensor"] == "embeddings.position_ids")
    assert (row["kind"], row["role"], row["dtype"], row["shape"]) == ("buffer", "", "I64", [1, 512])
    assert found["shape"]["basis"] == "config.json" and found["shape"]["n_heads"] == 12


@needs_smollm2
def test_smollm2_gguf_checks_against_its_spec():
    """d=576, L=30, F=1536, V=49152, 9 query heads and 3 key/value heads of 64, tied:
    embedding 49152 x 576 = 28,311,552 (the unembedding is it again: shown, not added)
    query, output 576 x 576 x 30 = 9,953,280; key, value 192 x 576 x 30 = 3,317,760
    gate, up, down 1536 x 576 x 30 = 26,542,080; norm (2 per layer + final) 61 x 576 = 35,136
    total 134,515,008."""
    code, verdict = run_json("check", str(SMOLLM2_GGUF), "--spec", "smollm2-135m")
    assert code == 0 and verdict["ok"] and verdict["problems"] == []
    assert verdict["total"] == {"expected": 134_515_008, "actual": 134_515_008}
    assert {r["role"]: (r["actual"], r["tied_to"]) for r in verdict["roles"]} == {
        "embedding": (28_311_552, None), "query": (9_953_280, None), "key": (3_317_760, None),
        "value": (3_317_760, None), "output": (9_953_280, None), "up": (26_542_080, None),
        "gate": (26_542_080, None), "down": (26_542_080, None),
        "unembedding": (28_311_552, "embedding"), "norm": (35_136, None),
    }
    assert verdict["buffers"] == []


@needs_smollm2
def test_smollm2_gguf_quantized_elements_and_bytes():
    """GGUF blocks of 32 values: Q8_0 = 2-byte scale + 32 int8 = 34 bytes; Q4_1 = 2-byte scale +
    2-byte min + 16 bytes of nibbles = 20 bytes.
    token_embd Q8_0: 28,311,552 / 32 x 34 = 30,081,024 bytes
    attn_q Q4_1: 331,776 / 32 x 20 = 207,360; ffn_down Q4_1: 884,736 / 32 x 20 = 552,960
    all: 30,081,024 + 30 x (2 x 207,360 + 2 x 69,120 + 3 x 552,960) + 61 x 576 x 4 (F32 norms)
    = 30,081,024 + 66,355,200 + 140,544 = 96,576,768."""
    code, found = run_json("inspect", str(SMOLLM2_GGUF), "--by", "tensor")
    assert code == 0
    assert found["format"] == "gguf" and found["layout"] == "gguf-llama"
    assert found["dtypes"] == {"Q8_0": 1, "Q4_1": 210, "F32": 61}
    assert found["bytes"] == 96_576_768 and found["parameters"] == 134_515_008
    rows = {r["tensor"]: r for r in found["tensor_rows"]}
    assert [(rows[n]["dtype"], rows[n]["shape"], rows[n]["numel"], rows[n]["bytes"]) for n in
            ("token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
             "blk.0.ffn_down.weight", "output_norm.weight")] == [
        ("Q8_0", [49152, 576], 28_311_552, 30_081_024),
        ("Q4_1", [576, 576], 331_776, 207_360),
        ("Q4_1", [192, 576], 110_592, 69_120),
        ("Q4_1", [576, 1536], 884_736, 552_960),
        ("F32", [576], 576, 2_304),
    ]
    assert found["tied"] is True and "output.weight" not in rows


@needs_smollm2
def test_smollm2_shape_and_heads_from_gguf_metadata():
    """No config.json: llama.block_count 30, embedding_length 576, head_count 9, head_count_kv 3,
    ... say the shape; --by head then cuts 30 x (9 + 3 + 3 + 9) = 720 head rows, a query head
    64 x 576 = 36,864 parameters."""
    code, found = run_json("inspect", str(SMOLLM2_GGUF), "--by", "head")
    assert code == 0
    assert found["shape"] == {"family": "llama", "basis": "GGUF metadata", "n_layers": 30,
                              "d_model": 576, "vocab_size": 49152, "d_ff": 1536, "n_ctx": 8192,
                              "n_heads": 9, "n_kv_heads": 3, "d_head": 64}
    assert len(found["heads"]) == 720
    assert {h["parameters"] for h in found["heads"]} == {36_864}
