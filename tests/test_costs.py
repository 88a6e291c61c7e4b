"""Cost estimates from a spec: weight bytes, KV cache, FLOPs per token. Hand arithmetic in each
docstring; transformers' own KV cache and torch's FLOP counter as references where they can be."""

import json

import pytest
from conftest import MINILM_DIR, needs_minilm, run_cli

from inspector.spec.costs import costs, kv_cache
from inspector.spec.loading import load_spec
from inspector.spec.validation import spec_from_dict

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


# Tiny seeded models of each attention kind, run by transformers over N = 12 tokens in fp32.
# Each case: model_type, config, the bytes transformers' cache holds (the arithmetic beside it),
# and the tokens fewer it keeps than inspector counts in each sliding-window layer (below).
CACHE_N = 12
TINY = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "max_position_embeddings": 32}
CACHE_KINDS = [
    # full: 2 layers x 2 (K, V) x 4 heads x 8 d_head x 12 tokens x 4 bytes = 6,144
    ("llama", {**TINY, "num_key_value_heads": 4}, 6_144, 0),
    # grouped-query: 2 x 2 x 2 KV heads x 8 x 12 x 4 = 3,072
    ("llama", {**TINY, "num_key_value_heads": 2}, 3_072, 0),
    # multi-query: 2 x 2 x 1 KV head x 8 x 12 x 4 = 1,536
    ("falcon", {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
                "num_attention_heads": 4, "multi_query": True,
                "new_decoder_architecture": False}, 1_536, 0),
    ("gpt_bigcode", {"vocab_size": 64, "n_embd": 32, "n_layer": 2, "n_head": 4,
                     "multi_query": True, "n_positions": 32}, 1_536, 0),
    # sliding window 4 on every layer (Mistral): transformers keeps 3 tokens a layer,
    # 2 x 2 x 2 x 8 x 3 x 4 = 768; inspector counts the window, 4 tokens: 1,024
    ("mistral", {**TINY, "num_key_value_heads": 2, "sliding_window": 4}, 768, 1),
    # a sliding layer (window 4, 3 kept) and a full one (12): 2 x 2 x 8 x (3 + 12) x 4 = 1,920
    ("gemma2", {**TINY, "num_key_value_heads": 2, "sliding_window": 4, "head_dim": 8}, 1_920, 1),
    ("gpt_oss", {**TINY, "num_key_value_heads": 2, "sliding_window": 4, "head_dim": 8,
                 "num_local_experts": 4, "num_experts_per_tok": 2}, 1_920, 1),
    # latent: transformers 5 caches the compressed latent (kv_lora_rank 16, as "keys") and the
    # shared rotary key (qk_rope_head_dim 4, as "values"): 2 layers x (16 + 4) x 12 x 4 = 1,920
    ("deepseek_v3", {**TINY, "num_key_value_heads": 4, "kv_lora_rank": 16, "q_lora_rank": 24,
                     "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 6,
                     "moe_intermediate_size": 16, "n_routed_experts": 4,
                     "num_experts_per_tok": 2, "n_group": 1, "topk_group": 1,
                     "first_k_dense_replace": 1}, 1_920, 0),
]


def transformers_cache(model_type: str, config_kwargs: dict, tokens: int = CACHE_N,
                       state: bool = False):
    """The config, transformers' cache after a forward pass of `tokens` tokens, and its bytes."""
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.for_model(model_type, **config_kwargs)
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        out = model(torch.randint(0, 64, (1, tokens)), use_cache=True)
    cache = out.cache if getattr(out, "cache", None) is not None else out.past_key_values
    if state:  # (layers of a fixed state hold no keys: held_bytes reads both)
        return config, model, cache, None
    stored = sum(t.nbytes for layer in cache.layers for t in (layer.keys, layer.values))
    return config, model, cache, stored


@pytest.mark.parametrize("model_type, config_kwargs, expected, fewer", CACHE_KINDS,
                         ids=["full", "grouped-query", "multi-query-falcon",
                              "multi-query-bigcode", "sliding-mistral", "sliding-gemma2",
                              "sliding-gpt-oss", "latent"])
def test_cache_of_each_kind_against_transformers(model_type, config_kwargs, expected, fewer):
    """inspector's cache at 12 tokens in fp32 (cached_values x 4 bytes) against the bytes of
    transformers' own cache (the sum of its key and value tensors' nbytes), figures above.
    A sliding-window layer of window w: transformers keeps the last w - 1 tokens between steps
    (DynamicSlidingWindowLayer), as the next token brings its own key and value, so that w are
    attended to; inspector counts the w that a step holds. So the two differ by `fewer` token in
    each sliding layer, 2 x 2 KV heads x 8 d_head x 4 bytes = 128 bytes a layer."""
    from inspector.spec.config_json import spec_from_config
    from inspector.spec.costs import cache_kinds, cached_values

    config, _, _, stored = transformers_cache(model_type, config_kwargs)
    kinds = cache_kinds(spec_from_config(config.to_dict()))
    sliding = sum(k["layers"] * k["values_per_token"] for k in kinds if k["window"])
    assert stored == expected
    assert stored == 4 * (cached_values(kinds, CACHE_N) - fewer * sliding)


def test_latent_up_projected_against_transformers():
    """The up-projected figure: transformers' own expand_kv (the keys and values its attention
    reads, brought up from the cached latent) holds per layer 4 heads x (8 qk_nope + 4 qk_rope)
    keys and 4 x 6 v_head_dim values a token: 2 layers x 4 x (12 + 6) x 12 tokens x 4 bytes =
    6,912, inspector's n_heads x (qk_nope + qk_rope + v_head_dim) = 72 values a layer a token."""
    from inspector.spec.config_json import spec_from_config
    from inspector.spec.costs import cache_kinds, cached_values

    config, model, cache, _ = transformers_cache(*CACHE_KINDS[-1][:2])
    expanded = 0
    for layer, held in zip(model.model.layers, cache.layers):
        keys, values = layer.self_attn.expand_kv(held.keys, held.values)
        expanded += keys.nbytes + values.nbytes
    kinds = cache_kinds(spec_from_config(config.to_dict()))
    assert expanded == 6_912
    assert expanded == 4 * cached_values(kinds, CACHE_N, uncompressed=True)


def test_encoder_decoder_cache_against_transformers():
    """T5 with 3 decoder layers, 4 heads x d_kv 8, over 7 input and 7 output tokens: its
    EncoderDecoderCache holds self-attention 3 x 2 x 4 x 8 x 7 x 4 bytes = 5,376 and as much
    cross-attention (the input's keys and values): 10,752 = inspector's cache at 7 tokens."""
    torch = pytest.importorskip("torch")
    from transformers import T5Config, T5ForConditionalGeneration

    from inspector.spec.config_json import spec_from_config
    from inspector.spec.costs import cache_kinds, cached_values

    torch.manual_seed(0)
    config = T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=48, num_layers=2,
                      num_decoder_layers=3, num_heads=4)
    model = T5ForConditionalGeneration(config).eval()
    ids = torch.randint(0, 64, (1, 7))
    with torch.no_grad():
        cache = model(input_ids=ids, decoder_input_ids=ids, use_cache=True).past_key_values
    stored = sum(t.nbytes for part in (cache.self_attention_cache, cache.cross_attention_cache)
                 for layer in part.layers for t in (layer.keys, layer.values))
    assert stored == 10_752
    assert stored == 4 * cached_values(cache_kinds(spec_from_config(config.to_dict())), 7)


def test_deepseek_v3_latent_cache():
    """DeepSeek-V2, arXiv:2405.04434, Table 1: MLA caches (d_c + d_h^R) l elements a token:
    (512 + 64) x 61 layers x 2 bytes = 70,272 in bf16. Up-projected, each of 128 heads keeps a
    key of 128 + 64 and a value of 128: (192 + 128) x 128 x 61 x 2 = 4,997,120. At n_ctx
    163,840: 70,272 x 163,840 = 11,513,364,480."""
    kv = kv_cache(load_spec("deepseek-v3"))
    assert by_dtype(kv["per_token"])["fp16/bf16"] == 70_272
    assert by_dtype(kv["uncompressed_per_token"])["fp16/bf16"] == 4_997_120
    assert by_dtype(kv["at_n_ctx"])["fp16/bf16"] == 11_513_364_480
    table = run_cli("count", "deepseek-v3", "--costs").stdout
    assert "70,272" in table and "4,997,120" in table and "5,996,544" not in table


def test_fixed_state_and_shared_layers():
    """No family in the registry has state-space, linear-attention or cache-sharing layers yet,
    so the arithmetic is checked on kinds written out: 4 full layers of 64 values a token, 2
    layers reading another layer's cache (0), 6 state-space layers of 1,000 values each. At
    100 tokens: 4 x 64 x 100 = 25,600 values growing, 6 x 1,000 = 6,000 fixed at any context."""
    from inspector.spec.costs import cached_values, state_values

    kinds = [{"kind": "full", "layers": 4, "values_per_token": 64, "window": None,
              "state_values": 0},
             {"kind": "shared", "layers": 2, "values_per_token": 0, "window": None,
              "state_values": 0},
             {"kind": "state-space", "layers": 6, "values_per_token": 0, "window": None,
              "state_values": 1_000}]
    assert cached_values(kinds, 100) == 25_600
    assert state_values(kinds) == 6_000


SMALL = {"vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
         "intermediate_size": 128, "num_key_value_heads": 2}
STATE_KINDS = [  # (model_type, config, fixed state bytes in fp32, KV bytes a token in fp32)
    # 2 Mamba layers x (128 conv channels x 4 kernel + 128 d_inner x 8 d_state) x 4 = 12,288
    ("mamba", {"vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 2, "state_size": 8,
               "conv_kernel": 4, "expand": 2}, 12_288, 0),
    # 2 Mamba2 layers x (144 conv channels (128 d_inner + 2 x 1 group x 8 d_state) x 4 +
    # 8 heads x 16 head_dim x 8 d_state) x 4 = 2 x (576 + 1,024) x 4 = 12,800
    ("mamba2", {"vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 2, "state_size": 8,
                "conv_kernel": 4, "expand": 2, "num_heads": 8, "head_dim": 16, "n_groups": 1},
     12_800, 0),
    # Jamba, attention every 2nd layer from 1: 2 Mamba layers as above, 12,288; 2 attention
    # layers x 2 (K, V) x 2 KV heads x 16 d_head x 4 = 512 a token
    ("jamba", {**SMALL, "attn_layer_period": 2, "attn_layer_offset": 1, "expert_layer_period": 2,
               "expert_layer_offset": 1, "num_experts": 2, "mamba_d_state": 8, "mamba_d_conv": 4,
               "mamba_expand": 2}, 12_288, 512),
    # Qwen3-Next: 3 gated delta nets x (80 conv channels (2 x 2 key heads x 8 + 4 value heads x
    # 12) x 4 kernel + 4 value heads x 8 key dim x 12 value dim) x 4 = 3 x (320 + 384) x 4 =
    # 8,448; 1 attention layer x 2 x 2 x 16 x 4 = 256 a token
    ("qwen3_next", {**SMALL, "head_dim": 16, "linear_num_value_heads": 4,
                    "linear_num_key_heads": 2, "linear_key_head_dim": 8,
                    "linear_value_head_dim": 12, "linear_conv_kernel_dim": 4, "num_experts": 2,
                    "num_experts_per_tok": 1, "moe_intermediate_size": 32,
                    "shared_expert_intermediate_size": 32,
                    "layer_types": ["linear_attention"] * 3 + ["full_attention"]}, 8_448, 256),
    # LFM2: 3 short convolutions x 64 channels x 3 L_cache x 4 = 2,304; 1 attention layer, 256
    ("lfm2", {**SMALL, "conv_L_cache": 3, "layer_types": ["conv", "full_attention", "conv",
                                                          "conv"]}, 2_304, 256),
]


def held_bytes(cache) -> tuple[int, int]:
    """(fixed state, keys and values) bytes of a transformers 5 cache: a LinearAttentionLayer's
    conv_states and recurrent_states (dicts of tensors), a DynamicLayer's keys and values."""
    state = kv = 0
    for layer in cache.layers:
        for held in (getattr(layer, "conv_states", None), getattr(layer, "recurrent_states", None)):
            state += sum(t.nbytes for t in (held or {}).values() if t is not None)
        kv += sum(t.nbytes for t in (getattr(layer, "keys", None), getattr(layer, "values", None))
                  if t is not None and hasattr(t, "nbytes"))
    return state, kv


@pytest.mark.parametrize("model_type, config_kwargs, state, kv", STATE_KINDS,
                         ids=[k[0] for k in STATE_KINDS])
def test_fixed_state_against_transformers(model_type, config_kwargs, state, kv):
    """inspector's fixed state (state_values x 4 bytes, fp32) and KV cache a token x N equal the
    bytes transformers' own cache holds after a forward pass of N tokens (figures above), at
    N = 5 and N = 12: the state the same at both, the keys and values N times a token's. The
    conv state is the whole kernel, as transformers keeps it (LinearAttentionLayer pads a
    shorter prefill to the kernel), not kernel - 1."""
    from inspector.spec.costs import cache_kinds, cached_values, state_values
    from inspector.spec.reference import reference_spec

    for tokens in (5, CACHE_N):
        config, _, cache, _ = transformers_cache(model_type, config_kwargs, tokens, state=True)
        kinds = cache_kinds(reference_spec(config.to_dict(), model_type))
        assert held_bytes(cache) == (state, kv * tokens)
        assert held_bytes(cache) == (4 * state_values(kinds), 4 * cached_values(kinds, tokens))
