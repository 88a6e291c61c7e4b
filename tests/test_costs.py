"""Cost estimates from a spec: weight bytes, KV cache, FLOPs per token. Hand arithmetic in each
docstring; transformers' own KV cache and torch's FLOP counter as references where they can be."""

import json

import pytest
from conftest import MINILM_DIR, needs_minilm, run_cli

from inspector.spec.costs import costs, kv_cache
from inspector.spec.validation import spec_from_dict
from inspector.spec.loading import load_spec

# Llama-2-70B as its config.json gives it (issue 3 ships it as llama2-70b; written out here so this
# test stands on its own): 80 layers, 64 query heads sharing 8 key-value heads, d_head 128.
LLAMA2_70B = {"name": "llama2-70b", "family": "llama", "source": "Touvron et al. 2023",
              "vocab_size": 32000, "n_ctx": 4096, "d_model": 8192, "n_layers": 80, "n_heads": 64,
              "n_kv_heads": 8, "d_ff": 28672, "activation": "silu", "gated_mlp": True,
              "norm": "rmsnorm", "position": "rotary", "biases": False, "tied_embeddings": False}


def by_dtype(entries):
    return {e["dtype"]: e["bytes"] for e in entries}


def test_weight_bytes_gpt2_124m():
    """124,439,808 parameters (tied unembedding once): fp32 4 x = 497,759,232; fp16/bf16 2 x =
    248,879,616; int8 1 x = 124,439,808; int4 x 1/2 = 62,219,904."""
    weights = by_dtype(costs(load_spec("gpt2-124m"))["weights"])
    assert weights == {"fp32": 497_759_232, "fp16/bf16": 248_879_616, "int8": 124_439_808,
                       "int4": 62_219_904}


def test_kv_cache_gpt2_124m():
    """2 (K, V) x 12 layers x 12 heads x 64 d_head x 2 bytes = 36,864 bytes a token in fp16;
    x 1,024 tokens = 37,748,736 bytes for a full context."""
    kv = kv_cache(load_spec("gpt2-124m"))
    assert by_dtype(kv["per_token"])["fp16/bf16"] == 36_864
    assert by_dtype(kv["at_n_ctx"])["fp16/bf16"] == 37_748_736
    assert by_dtype(kv["per_token"])["fp32"] == 73_728


def test_kv_cache_llama2_70b_grouped_query():
    """2 x 80 layers x 8 KV heads x 128 d_head x 2 bytes = 327,680 bytes a token in fp16 (not
    the 2,621,440 that 64 heads would take); x 4,096 tokens = 1,342,177,280 bytes."""
    spec = spec_from_dict(LLAMA2_70B)
    kv = kv_cache(spec)
    assert by_dtype(kv["per_token"])["fp16/bf16"] == 327_680
    assert by_dtype(kv["at_n_ctx"])["fp16/bf16"] == 1_342_177_280
    assert by_dtype(kv["per_token"])["int8"] == 163_840


def test_flops_gpt2_124m():
    """Lookup tables: embedding 50257 x 768 = 38,597,376 + position 1024 x 768 = 786,432.
    Kaplan's non-embedding N = 124,439,808 - 39,383,808 = 85,056,000. N multiplied per token adds
    the tied unembedding's matmul: 85,056,000 + 38,597,376 = 123,653,376.
    Attention term 2 x 12 x 1024 x 768 = 18,874,368.
    Forward 2 x 123,653,376 + 18,874,368 = 266,181,120; training 3 x that = 798,543,360."""
    f = costs(load_spec("gpt2-124m"))["flops"]
    assert f["non_embedding"] == 85_056_000
    assert f["n"] == 123_653_376
    assert f["attention"] == 18_874_368
    assert f["forward_per_token"] == 266_181_120
    assert f["training_per_token"] == 798_543_360


def test_flops_llama2_70b():
    """Total 68,976,648,192 (issue 3). Untied: embedding and unembedding 32000 x 8192 =
    262,144,000 each. N = 68,976,648,192 - 262,144,000 (the lookup table) = 68,714,504,192;
    Kaplan's N also drops the unembedding: 68,452,360,192.
    Attention 2 x 80 x 4096 x (64 x 128) = 5,368,709,120 (query heads, not KV heads).
    Forward 2 x 68,714,504,192 + 5,368,709,120 = 142,797,717,504; training x 3 =
    428,393,152,512."""
    f = costs(spec_from_dict(LLAMA2_70B))["flops"]
    assert f["parameters"] == 68_976_648_192
    assert f["n"] == 68_714_504_192
    assert f["non_embedding"] == 68_452_360_192
    assert f["attention"] == 5_368_709_120
    assert f["forward_per_token"] == 142_797_717_504
    assert f["training_per_token"] == 428_393_152_512


def test_banded_layers():
    """n_ctx 16, 2 layers [dense, local] with window 4, 4 heads x d_head 8 (width 32).
    Attention: dense 2 x 16 x 32 = 1,024; banded: 4 x (4 - 4^2 / (2 x 16)) x 32 = 4 x 3.5 x 32 =
    448; total 1,472. KV cache at n_ctx: values a layer a token 2 x 4 x 8 = 64; the dense layer
    keeps 16 tokens, the banded one 4: (16 + 4) x 64 = 1,280 values = 2,560 bytes in fp16."""
    spec = spec_from_dict({"name": "banded", "family": "gpt3", "source": "test",
                           "vocab_size": 100, "n_ctx": 16, "d_model": 32, "n_layers": 2,
                           "n_heads": 4, "d_ff": 128, "attention_pattern": ["dense", "local"],
                           "local_window": 4})
    doc = costs(spec)
    assert doc["flops"]["attention"] == 1_472
    assert by_dtype(doc["kv_cache"]["at_n_ctx"])["fp16/bf16"] == 2_560
    assert by_dtype(doc["kv_cache"]["per_token"])["fp16/bf16"] == 2 * 2 * 4 * 8 * 2


def test_encoder_local_band():
    """An encoder's local layer (ModernBERT) sees h = window // 2 = 2 tokens on each side and
    itself, cut at the ends: over n_ctx 16, 16 x 5 - 2 x (1 + 2) = 74 (query, key) pairs, 74 / 16
    = 4.625 keys on average. Width 32: dense 4 x 16 x 32 = 2,048; local 4 x 4.625 x 32 = 592;
    total 2,640."""
    spec = spec_from_dict({"name": "band", "family": "modernbert", "source": "test",
                           "architecture": "encoder", "vocab_size": 100, "n_ctx": 16,
                           "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64,
                           "attention_pattern": ["dense", "local"], "local_window": 4})
    assert costs(spec)["flops"]["attention"] == 2_640


def test_image_model_patches_are_multiplied():
    """ViT-Base/16 (transformers' default ViTConfig, ViTModel with its pooler): 86,389,248
    parameters; the lookup tables are the [CLS] vector 768 and the position table 197 x 768 =
    151,296, together 152,064. The patch convolution (768 x 3 x 16 x 16 + 768) multiplies every
    patch, so it stays in N = 86,389,248 - 152,064 = 86,237,184."""
    from inspector.spec.config_json import spec_from_config

    flops = costs(spec_from_config({"model_type": "vit"}))["flops"]
    assert flops["parameters"] == 86_389_248
    assert flops["lookup_tables"] == 152_064
    assert flops["n"] == 86_237_184


@needs_minilm
def test_encoder_costs_all_minilm():
    """BERT encoder from its config.json: no KV cache. Lookup tables 30522 x 384 + 512 x 384 +
    2 x 384 = 11,917,824; N = 22,713,216 - 11,917,824 = 10,795,392 (no unembedding). Every token
    attends to all 512 keys: 6 layers x 4 x 512 x 384 = 4,718,592. Forward 2 x 10,795,392 +
    4,718,592 = 26,309,376."""
    doc = costs(load_spec(str(MINILM_DIR / "config.json")))
    assert doc["kv_cache"] is None
    assert doc["flops"]["n"] == 10_795_392
    assert doc["flops"]["attention"] == 4_718_592
    assert doc["flops"]["forward_per_token"] == 26_309_376


def test_kv_cache_against_transformers():
    """A tiny Llama with grouped-query attention (4 query heads, 2 KV heads, d_head 8, 3 layers)
    run by transformers over 5 tokens: its DynamicCache holds 3 x 2 x (2 x 5 x 8) fp32 values =
    3 x 2 x 80 x 4 bytes = 1,920 bytes, i.e. 384 bytes a token = 2 x 3 x 2 x 8 x 4."""
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    from inspector.spec.config_json import spec_from_config

    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        cache = model(torch.randint(0, 64, (1, 5)), use_cache=True).past_key_values
    stored = sum(t.nbytes for layer in cache.layers for t in (layer.keys, layer.values))
    per_token = by_dtype(kv_cache(spec_from_config(config.to_dict()))["per_token"])["fp32"]
    assert stored == 1_920
    assert stored == 5 * per_token


def test_flops_against_torch_flop_counter():
    """torch's FlopCounterMode on transformers' tiny GPT-2 (eager attention), 16 tokens = n_ctx.
    It counts matmuls only (2 FLOPs a multiply-add), so it sees N without biases and norms:
    N = 29,184 - 3,712 lookup (100 x 32 + 16 x 32) + 3,200 tied unembedding = 28,672; minus
    biases 2 x (96 + 32 + 128 + 32) = 576 and norms 2 x 128 + 64 = 320 -> 27,776.
    Its attention matmuls span the full 16 keys (no causal saving), twice Kaplan's term:
    2 x (2 x 2 x 16 x 32) = 4,096. Per token: 2 x 27,776 + 4,096 = 59,648."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import GPT2Config, GPT2LMHeadModel

    from inspector.spec.config_json import spec_from_config

    config = GPT2Config(vocab_size=100, n_positions=16, n_embd=32, n_layer=2, n_head=4,
                        attn_implementation="eager")
    model = GPT2LMHeadModel(config).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randint(0, 100, (1, 16)))
    measured_per_token = counter.get_total_flops() // 16
    f = costs(spec_from_config(config.to_dict()))["flops"]
    biases_and_norms = 576 + 320
    assert f["n"] == 28_672 and f["attention"] == 2_048
    assert measured_per_token == 59_648
    assert measured_per_token == 2 * (f["n"] - biases_and_norms) + 2 * f["attention"]


def test_count_costs_cli():
    result = run_cli("count", "gpt2-124m", "--costs", "--format", "json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["total"] == 124_439_808
    assert by_dtype(doc["costs"]["kv_cache"]["per_token"])["fp16/bf16"] == 36_864
    assert doc["costs"]["flops"]["forward_per_token"] == 266_181_120
    table = run_cli("count", "gpt2-124m", "--costs").stdout
    assert "36,864" in table and "266,181,120" in table and "497,759,232" in table
    rows = run_cli("count", "gpt2-124m", "--costs", "--format", "csv").stdout.splitlines()
    assert rows[0] == "cost,value,unit,approx,how"
    assert any(r.startswith("forward per token,266181120,FLOPs") for r in rows)
