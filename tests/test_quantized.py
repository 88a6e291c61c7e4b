"""Quantized checkpoints counted as the model they hold: header-only files with the names, dtypes
and shapes each method's tool writes (tests/quantized_files.py), around a small Llama whose
LlamaForCausalLM.num_parameters() is the truth: 106,816 =
embed and lm_head 2 x 256 x 64 + 2 layers x (q 4,096 + k 2,048 + v 2,048 + o 4,096 + gate, up,
down 3 x 8,192 + two norms 128) + the final norm 64."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from quantized_files import LLAMA, METHODS, write_quantized, write_safetensors

LOGICAL = 106_816

# method -> (bookkeeping tensors, their values). Per layer, the seven projections (out x in):
# q 64 x 64, k and v 32 x 64, o 64 x 64, gate and up 128 x 64, down 64 x 128; groups of 32.
BOOKKEEPING = {
    # qzeros (groups x out / 8) 16 + 8 + 8 + 16 + 32 x 3 = 144, scales (groups x out) 128 + 64 +
    # 64 + 128 + 256 x 3 = 1,152, g_idx (in) 64 x 6 + 128 = 512: 2 x 1,808
    "gptq": (2 * 7 * 3, 3_616),
    "awq": (2 * 7 * 2, 2 * (144 + 1_152)),  # qzeros and scales as GPTQ's, no g_idx
    # absmax (n / 64) 64 + 32 + 32 + 64 + 128 x 3 = 576, nested_absmax 1 each, quant_map 16 each,
    # nested_quant_map 256 each, quant_state 100 bytes each: 576 + 7 x 373 = 3,187 a layer
    "bitsandbytes-4bit": (2 * 7 * 5, 2 * 3_187),
    "bitsandbytes-8bit": (2 * 7, 2 * 512),  # SCB: one per output, 64 + 32 + 32 + 64 + 128 x 2 + 64
    "fp8": (2 * 7, 2 * 7),  # one 128 x 128 block each: weight_scale_inv [1, 1]
    "compressed-tensors": (2 * 7 * 2, 2 * (1_152 + 7 * 2)),  # weight_scale as scales, weight_shape [2]
    # scales and biases (out x in / 32) for the seven projections, the embedding and lm_head:
    # 2 x 2 x 1,152 + 2 x 2 x 512
    "mlx": (2 * 7 * 2 + 2 * 2, 4 * 1_152 + 4 * 512),
    "int8": (2 * 7, 2 * 7),  # a scalar weight_scale per matrix
}


def inspect_json(source) -> dict:
    result = run_cli("inspect", source, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    root = tmp_path_factory.mktemp("quantized")
    return {method: write_quantized(root / method, method) for method in METHODS}


def test_the_reference_is_transformers():
    from quantized_files import reference_model

    assert reference_model().num_parameters() == LOGICAL


@pytest.mark.parametrize("method", list(METHODS))
def test_logical_parameters_and_bookkeeping_apart(quantized, method):
    doc = inspect_json(quantized[method])
    tensors, values = BOOKKEEPING[method]
    assert doc["parameters"] == LOGICAL
    assert doc["quantization"]["method"] == method
    assert (len(doc["bookkeeping"]), sum(b["numel"] for b in doc["bookkeeping"])) == \
        (tensors, values)
    assert not any(r["role"] == "unmapped" for r in doc["roles"])


@pytest.mark.parametrize("method", list(METHODS))
def test_check_against_the_unquantized_config_passes(quantized, method, tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(**LLAMA).save_pretrained(tmp_path)
    result = run_cli("check", quantized[method], "--spec", tmp_path / "config.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bits_per_parameter_count_the_bookkeeping(quantized):
    """GPTQ's query in two layers: qweight 2 x 8 x 64 int32 = 4,096 bytes for 8,192 values, and
    per layer qzeros 2 x 8 int32 (64 bytes), scales 2 x 64 fp16 (256), g_idx 64 int32 (256):
    (4,096 + 2 x 576) x 8 / 8,192 = 5.125 bits a parameter."""
    roles = {r["role"]: r for r in inspect_json(quantized["gptq"])["roles"]}
    assert (roles["query"]["parameters"], roles["query"]["stored"], roles["query"]["bytes"],
            roles["query"]["bookkeeping_bytes"], roles["query"]["bits_per_parameter"]) == \
        (8_192, 1_024, 4_096, 1_152, 5.125)
    assert roles["embedding"]["bits_per_parameter"] == 16  # kept in fp16


def test_the_summary_says_what_the_numbers_are(quantized):
    out = run_cli("inspect", quantized["gptq"]).stdout
    assert "parameters   106,816" in out
    assert ("quantized    gptq 4-bit, groups of 32 (from config.json): parameters are the"
            " unquantized model's (packed values unpacked)") in out
    assert ("bookkeeping  42 tensors, 3,616 values, 9,856 bytes (scales, zero points, indices:"
            " not parameters)") in out  # qzeros 288 x 4 + scales 2,304 x 2 + g_idx 1,024 x 4


def test_without_config_json_the_names_and_shapes_tell(tmp_path):
    """No config.json: qweight with g_idx is GPTQ, and its bits are 32 x qweight rows / g_idx
    length = 32 x 8 / 64 = 4."""
    folder = write_quantized(tmp_path / "gptq", "gptq", with_config=False)
    doc = inspect_json(folder / "model.safetensors")
    assert doc["quantization"] == {"method": "gptq", "bits": 4, "group_size": None,
                                   "basis": "tensor names"}
    assert doc["parameters"] == LOGICAL


@pytest.mark.parametrize("command", ["stats", "diff"])
def test_values_of_a_quantized_checkpoint_are_refused_in_one_line(quantized, command):
    args = [quantized["gptq"]] * (2 if command == "diff" else 1)
    result = run_cli(command, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"inspector: error: {quantized['gptq']}: quantized weights"
                                    " (gptq 4-bit")
    assert f"{command} reads the values of unquantized checkpoints only" in result.stderr


def test_mxfp4_experts_unpack_to_transformers_count(tmp_path):
    """gpt-oss stores its experts in MXFP4: `gate_up_proj_blocks` U8 [E, 2 ff, d / 32, 16] (32
    4-bit values in 16 bytes) and `_scales` U8 [E, 2 ff, d / 32]; down likewise. A small
    GptOssForCausalLM (4 experts, d 64, ff 64) holds 158,416 parameters (num_parameters()); the
    blocks hold 4 x 128 x 2 x 16 x 2 = 16,384 gate-up and 4 x 64 x 2 x 16 x 2 = 8,192 down values a
    layer, as its gate_up_proj [4, 64, 128] and down_proj [4, 64, 64] do."""
    import torch
    from transformers import AutoModelForCausalLM, GptOssConfig

    config = GptOssConfig(vocab_size=256, hidden_size=64, intermediate_size=64,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          head_dim=16, num_local_experts=4, num_experts_per_tok=2)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    tensors = {}
    for name, param in model.state_dict().items():
        shape = tuple(param.shape)
        if name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            experts, d_in, d_out = shape  # transformers holds them (E, in, out)
            tensors[f"{name}_blocks"] = ("U8", (experts, d_out, d_in // 32, 16))
            tensors[f"{name}_scales"] = ("U8", (experts, d_out, d_in // 32))
        else:
            tensors[name] = ("BF16", shape)
    write_safetensors(tmp_path / "model.safetensors", tensors)
    (tmp_path / "config.json").write_text(json.dumps({
        **config.to_dict(), "quantization_config": {"quant_method": "mxfp4"}}))
    doc = inspect_json(tmp_path)
    assert model.num_parameters() == 158_416
    assert doc["parameters"] == 158_416
    assert doc["quantization"]["method"] == "mxfp4"
    # scales: 2 layers x (4 x 128 x 2 + 4 x 64 x 2) = 3,072 values in 4 tensors
    assert (len(doc["bookkeeping"]), sum(b["numel"] for b in doc["bookkeeping"])) == (4, 3_072)
    # dequantized as transformers does, (E, in, out): each expert's gate and up [64, 64]
    check = run_cli("check", str(tmp_path), "--spec", str(tmp_path / "config.json"))
    assert check.returncode == 0, check.stdout + check.stderr


# meta-llama/Llama-3.1-8B's config.json (the sizes; rope scaling does not change a count).
LLAMA_31_8B = {"vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
               "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
               "tie_word_embeddings": False}


def test_a_4_bit_llama_3_1_8b_is_8b_not_2b(tmp_path):
    """A GPTQ Llama-3.1-8B (hole data): its qweights hold the blocks' projections, 32 x (2 x
    4,096^2 + 2 x 1,024 x 4,096 + 3 x 14,336 x 4,096) = 6,979,321,856 values, in 872,415,232
    int32s, which a counter of stored elements adds to the embedding and lm_head (2 x 128,256 x
    4,096 = 1,050,673,152) and the norms (65 x 4,096 = 266,240): 1,923,354,624, "about 2B";
    inspector counts 8,030,261,248, as LlamaForCausalLM(config).num_parameters() does."""
    from quantized_files import reference_model

    folder = write_quantized(tmp_path / "gptq-8b", "gptq", llama=LLAMA_31_8B)
    doc = inspect_json(folder)
    assert reference_model(LLAMA_31_8B).num_parameters() == 8_030_261_248
    assert doc["parameters"] == 8_030_261_248
    stored = sum(r["stored"] for r in doc["roles"])
    assert stored == 1_050_673_152 + 266_240 + 6_979_321_856 // 8 == 1_923_354_624
