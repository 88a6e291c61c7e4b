"""The shipped specs beyond GPT-2: GPT-3 (Brown et al. 2020, Table 2.1), Llama 2, all-MiniLM-L6-v2
and SmolLM2-135M. Exact totals with the arithmetic written out; transformers' own models (built on
the meta device) as the reference wherever it can build the architecture; `count`'s warnings where
a spec departs from its source; hub config.json files as specs."""

import json

import pytest
from conftest import MINILM_DIR, needs_minilm, run_cli

from inspector.spec.describe import spec_rows
from inspector.spec.loading import load_spec, shipped_names
from inspector.vocab.tables import role_table, total

# GPT-3: vocab V = 50257, n_ctx 2048, d_ff F = 4d, attention width A = n_heads x d_head, GPT-2
# biases. Per layer: q, k, v 3dA + 3A; output Ad + d; up dF + F; down Fd + d; two LayerNorms 4d
# = 4dA + 3A + 8d^2 + 10d. Total = Vd + 2048d + L x per layer + 2d (ln_f); the tied unembedding
# is not added.
GPT3 = [
    # spec, total, the paper's n_params
    # d=768,   A=768,   L=12: 38,597,376 + 1,572,864 + 12 x 7,087,872 + 1,536
    ("gpt3-125m", 125_226_240, 125e6),
    # d=1024,  A=1024,  L=24: 51,463,168 + 2,097,152 + 24 x 12,596,224 + 2,048
    ("gpt3-350m", 355_871_744, 350e6),
    # d=1536,  A=1536,  L=24: 77,194,752 + 3,145,728 + 24 x 28,331,520 + 3,072
    ("gpt3-760m", 760_300_032, 760e6),
    # d=2048,  A=16x128=2048, L=24: 102,926,336 + 4,194,304 + 24 x 50,358,272 + 4,096
    ("gpt3-1.3b", 1_315_723_264, 1.3e9),
    # d=2560,  A=2560,  L=32: 128,657,920 + 5,242,880 + 32 x 78,676,480 + 5,120
    ("gpt3-2.7b", 2_651_553_280, 2.7e9),
    # d=4096,  A=4096,  L=32: 205,852,672 + 8,388,608 + 32 x 201,379,840 + 8,192
    ("gpt3-6.7b", 6_658_404_352, 6.7e9),
    # d=5140,  A=40x128=5120, L=40: 258,320,980 + 10,526,720 + 40 x 316,690,760 + 10,280
    ("gpt3-13b", 12_936_488_380, 13.0e9),
    # d=12288, A=12288, L=96: 617,558,016 + 25,165,824 + 96 x 1,812,099,072 + 24,576
    ("gpt3-175b", 174_604_259_328, 175.0e9),
]

OTHERS = [
    # Llama 2, untied, no biases, RMSNorm (d each), SwiGLU (3 x d x F), vocab 32000:
    # 2 x 32000d + L x (4d^2 + 3dF + 2d) + d
    # d=4096, F=11008, L=32: 262,144,000 + 32 x 202,383,360 + 4,096
    ("llama2-7b", 6_738_415_616),
    # d=5120, F=13824, L=40: 327,680,000 + 40 x 317,204,480 + 5,120
    ("llama2-13b", 13_015_864_320),
    # d=8192, F=28672, L=80, 8 kv heads of 128 (k, v 1024 x 8192 each):
    # 524,288,000 + 80 x (2 x 67,108,864 + 2 x 8,388,608 + 704,643,072 + 16,384) + 8,192
    # = 524,288,000 + 80 x 855,654,400 + 8,192
    ("llama2-70b", 68_976_648_192),
    # tied, d=576, F=1536, L=30, 9 heads / 3 kv heads of 64 (k, v 192 x 576):
    # 49152 x 576 + 30 x (2 x 331,776 + 2 x 110,592 + 2,654,208 + 1,152) + 576
    # = 28,311,552 + 30 x 3,540,096 + 576
    ("smollm2-135m", 134_515_008),
    # Llama 3.1, untied, GQA with 8 kv heads of 128, vocab 128256:
    # 2 x 128256d + L x (2d^2 + 2 x 1024d + 3dF + 2d) + d
    # d=4096, F=14336, L=32: 1,050,673,152 + 32 x 218,112,000 + 4,096
    ("llama-3.1-8b", 8_030_261_248),
    # d=8192, F=28672, L=80: 2,101,346,304 + 80 x 855,654,400 + 8,192
    ("llama-3.1-70b", 70_553_706_496),
    # d=16384, F=53248, L=126: 4,202,692,608 + 126 x 3,187,703,808 + 16,384
    ("llama-3.1-405b", 405_853_388_800),
    # Mistral 7B v0.1: d=4096, F=14336, L=32, 8 kv heads, vocab 32000:
    # 262,144,000 + 32 x 218,112,000 + 4,096
    ("mistral-7b", 7_241_732_096),
    # Qwen2.5-7B: d=3584, F=18944, L=28, 4 kv heads of 128 (k, v 512 x 3584), q/k/v biases
    # (3584 + 512 + 512): 2 x 152064 x 3584 + 28 x (2 x 12,845,056 + 2 x 1,835,008 + 4,608
    # + 203,685,888 + 7,168) + 3584 = 1,089,994,752 + 28 x 233,057,792 + 3,584
    ("qwen2.5-7b", 7_615_616_512),
    # Mixtral 8x7B: Mistral 7B's block with 8 experts of F=14336 (3 x 58,720,256 each) and a
    # router (8 x d), vocab 32000: 2 x 131,072,000 + 32 x (2 x 16,777,216 + 2 x 4,194,304 +
    # 8 x 176,160,768 + 32,768 + 8,192) + 4,096 = 262,144,000 + 32 x 1,451,270,144 + 4,096
    ("mixtral-8x7b", 46_702_792_704),
    # Qwen3-30B-A3B: d=2048, 32 heads and 4 kv heads of 128 (q 4096 x 2048, k and v 512 x 2048,
    # o 2048 x 4096), per-head q/k norms (2 x 128), 128 experts of 768 (3 x 768 x 2048 each), a
    # router 128 x 2048, vocab 151936: 2 x 311,164,928 + 48 x (2 x 8,388,608 + 2 x 1,048,576 +
    # 256 + 128 x 4,718,592 + 262,144 + 4,096) + 2,048 = 622,329,856 + 48 x 623,120,640 + 2,048
    ("qwen3-30b-a3b", 30_532_122_624),
    # Phi-3-mini: d=3072, F=8192, L=32, 32 kv heads, vocab 32064, untied, no biases; qkv_proj
    # 3d^2 and gate_up_proj 2dF fused, but counted the same as apart:
    # 2 x 32064 x 3072 + 32 x (4 x 9,437,184 + 3 x 25,165,824 + 2 x 3072) + 3072
    # = 197,001,216 + 32 x 113,252,352 + 3,072
    ("phi-3-mini", 3_821_079_552),
    # BERT encoder, d=384, F=1536, L=6, all biases, post-norm, pooler:
    # 30522d + 512d + 2d + 2d (embedding LayerNorm) + 6 x (4(d^2 + d) + 2dF + F + d + 4d)
    # + d^2 + d = 11,720,448 + 196,608 + 768 + 768 + 6 x 1,774,464 + 147,840
    ("all-minilm-l6-v2", 22_713_216),
    # Gemma 2, tied, vocab 256000, no biases, four RMSNorms a block (d each), GeGLU (3 x d x F),
    # attention width A = n_heads x d_head apart from d_model, key/value width K:
    # 256000d + L x (2dA + 2dK + 3dF + 4d) + d
    # d=2304, A=8x256=2048, K=4x256=1024, F=9216, L=26:
    # 589,824,000 + 26 x (9,437,184 + 4,718,592 + 63,700,992 + 9,216) + 2,304
    # = 589,824,000 + 26 x 77,865,984 + 2,304
    ("gemma-2-2b", 2_614_341_888),
    # d=3584, A=16x256=4096, K=8x256=2048, F=14336, L=42:
    # 917,504,000 + 42 x (29,360,128 + 14,680,064 + 154,140,672 + 14,336) + 3,584
    # = 917,504,000 + 42 x 198,195,200 + 3,584
    ("gemma-2-9b", 9_241_705_984),
    # d=4608, A=32x128=4096, K=16x128=2048, F=36864, L=46:
    # 1,179,648,000 + 46 x (37,748,736 + 18,874,368 + 509,607,936 + 18,432) + 4,608
    # = 1,179,648,000 + 46 x 566,249,472 + 4,608
    ("gemma-2-27b", 27_227_128_320),
    # T5 (encoder-decoder, no biases, RMSNorm d each, attention 4 x d x A with A = 64 x heads,
    # a 32 x heads relative bias table and a final norm per stack, vocab 32128):
    # 32128d (shared) + L_enc x (2d + 4dA + MLP) + L_dec x (3d + 8dA + MLP) + 2 x (32h + d)
    # t5-small, tied, ReLU MLP 2dF: d=512, A=512, F=2048, h=8, 6 + 6 blocks:
    # 16,449,536 + 6 x 3,146,752 + 6 x 4,195,840 + 2 x 768
    ("t5-small", 60_506_624),
    # flan-t5-base, untied (+ 32128d), gated MLP 3dF: d=768, A=768, F=2048, h=12, 12 + 12:
    # 2 x 24,674,304 + 12 x 7,079,424 + 12 x 9,439,488 + 2 x 1,152
    ("flan-t5-base", 247_577_856),
    # GPT-2, as in test_analytic: 50257d + 1024d + L(12d^2 + 13d) + 2d
    ("gpt2-124m", 124_439_808),
    ("gpt2-355m", 354_823_168),
    ("gpt2-774m", 774_030_080),
    ("gpt2-1558m", 1_557_611_200),
    # DeepSeek-V3: d=7168, vocab 129280, untied, 61 layers (3 dense, 58 MoE), 128 heads.
    # Latent attention: q_a 1536d = 11,010,048, its norm 1,536, q_b 128 x 192 x 1536 =
    # 37,748,736, kv_a (512 + 64)d = 4,128,768, its norm 512, kv_b 128 x (128 + 128) x 512 =
    # 16,777,216, o d x 128 x 128 = 117,440,512: 187,107,328; two norms 14,336.
    # Dense MLP 3 x 18432d = 396,361,728; MoE: router 256d = 1,835,008, 256 experts of
    # 3 x 2048d = 44,040,192 (11,274,289,152) and one shared of the same: 11,320,164,352.
    # 2 x 129280d + 3 x 583,483,392 + 58 x 11,507,286,016 + d
    # = 1,853,358,080 + 1,750,450,176 + 667,422,588,928 + 7,168
    ("deepseek-v3", 671_026_404_352),
    # Kimi-K2: DeepSeek-V3's layout with 64 heads, 384 experts, one dense layer, vocab 163840
    # (KIMI_K2_DOC below has the arithmetic).
    ("kimi-k2", 1_026_408_209_408),
    # gpt-oss-120b: d=2880, vocab 201088, untied, 36 layers, 64 heads and 8 kv heads of 64, all
    # biased. Attention: q 4096d + 4096, k and v 512d + 512, o 4096d + 2880, sinks 64:
    # 26,550,144; two norms 5,760; router 128d + 128 = 368,768; 128 experts of gate_up
    # 5760d + 5760 and down 2880d + 2880 (24,891,840): 3,186,155,520.
    # 2 x 201088d + 36 x 3,213,080,192 + d = 1,158,266,880 + 115,670,886,912 + 2,880
    ("gpt-oss-120b", 116_829_156_672),
]


@pytest.mark.parametrize("name, expected, paper", GPT3)
def test_gpt3_totals_within_two_percent_of_the_paper(name, expected, paper):
    """Each total exact (arithmetic beside GPT3 above), and within 2% of Table 2.1's n_params,
    which the spec keeps under `published`."""
    spec = load_spec(name)
    assert total(spec_rows(spec)) == expected
    assert spec.published["n_params"] == paper
    assert abs(expected - paper) / paper < 0.02


@pytest.mark.parametrize("name, expected", OTHERS)
def test_other_totals(name, expected):
    assert total(spec_rows(load_spec(name))) == expected


def test_every_shipped_spec_is_counted_here():
    assert sorted(shipped_names()) == sorted([n for n, *_ in GPT3] + [n for n, _ in OTHERS])


def test_the_spec_index_is_the_yaml_parsed():
    """index.json holds each shipped spec as its YAML file parses (compared by repr: types too,
    1 is not 1.0 and a key 0 is not "0"), with the file's checksum. If this fails after a spec
    was edited or added:
    python -c 'from inspector.spec.loading import write_spec_index; write_spec_index()'"""
    from inspector.spec import loading

    written = json.loads(loading.SPEC_INDEX.read_text(encoding="utf-8"))
    parsed = loading.spec_index_data()
    assert list(written) == list(parsed) == shipped_names()
    for name in parsed:
        assert repr(written[name]) == repr(parsed[name]), name


def test_a_shipped_spec_from_the_index_is_its_yaml_spec():
    """A shipped spec is read from the index, without PyYAML; the Spec equals the YAML's."""
    from inspector.spec import loading
    from inspector.spec.validation import spec_from_dict

    for name in shipped_names():
        path = loading.SPEC_DIR / f"{name}.yaml"
        assert load_spec(name) == spec_from_dict(loading._read_yaml(path), origin=str(path))


def test_an_edited_shipped_spec_is_read_as_yaml(tmp_path, monkeypatch):
    """The index answers only for the file it was written from: an edited spec (its checksum
    changed) and a spec the index does not hold are read from their YAML."""
    from inspector.spec import loading

    for name in ("gpt2-124m", "llama2-7b"):
        (tmp_path / f"{name}.yaml").write_bytes((loading.SPEC_DIR / f"{name}.yaml").read_bytes())
    (tmp_path / "index.json").write_bytes(loading.SPEC_INDEX.read_bytes())
    edited = tmp_path / "gpt2-124m.yaml"
    edited.write_text(edited.read_text().replace("n_layers: 12", "n_layers: 2"))
    (tmp_path / "new-spec.yaml").write_text(edited.read_text().replace("gpt2-124m", "new-spec"))
    monkeypatch.setattr(loading, "SPEC_DIR", tmp_path)
    monkeypatch.setattr(loading, "SPEC_INDEX", tmp_path / "index.json")
    loading._spec_index.cache_clear()
    try:
        assert load_spec("gpt2-124m").n_layers == 2
        assert load_spec("new-spec").n_layers == 2
        assert load_spec("llama2-7b").n_layers == 32  # unchanged: from the index
        (tmp_path / "index.json").unlink()
        loading._spec_index.cache_clear()
        assert load_spec("llama2-7b").n_layers == 32  # no index: from its YAML
    finally:
        loading._spec_index.cache_clear()


@pytest.mark.parametrize("name", shipped_names())
def test_sums_per_expert_template_equal_the_sums_per_row(name):
    """`count` and `specs` sum each layer's routed experts once, times their number
    (spec_row_groups, spec_total): every table and total equals the one summed row by row."""
    from inspector.spec.describe import spec_row_groups, spec_total
    from inspector.vocab.tables import active_total, expert_table, layer_table

    spec = load_spec(name)
    rows, groups = spec_rows(spec), spec_row_groups(spec)
    assert total(groups) == total(rows) == spec_total(spec)
    for flags in ((False, False), (True, True)):
        assert role_table(groups, *flags) == role_table(rows, *flags)
        assert layer_table(groups, *flags) == layer_table(rows, *flags)
    assert expert_table(groups) == expert_table(rows)
    for embeddings in (True, False):
        assert (active_total(groups, spec.experts_per_token, embeddings)
                == active_total(rows, spec.experts_per_token, embeddings))


@pytest.mark.parametrize("name", shipped_names())
def test_the_rows_renumbered_are_the_rows_of_every_block_described(name):
    """spec_row_groups describes one block of each kind and renumbers its rows for the others:
    the rows equal those of the whole description (parameter_shapes: every block, every expert
    described), each name parsed on its own."""
    from inspector.spec.describe import parameter_shapes
    from inspector.vocab.canonical import expert_of, parse
    from inspector.vocab.roles import Role
    from inspector.vocab.rows import Row

    spec = load_spec(name)
    expected = []
    for tensor, shape in parameter_shapes(spec):
        role, layer, kind = parse(tensor)
        tied = Role.EMBEDDING if tensor == "unembed.weight" and spec.tied_embeddings else None
        expected.append(Row(tensor=tensor, role=role, layer=layer, kind=kind, shape=shape,
                            canonical=tensor, tied_to=tied, expert=expert_of(tensor)))
    assert spec_rows(spec) == expected


def test_gpt3_175b_weights_only_reproduces_the_seed_table():
    """The seed note counts matrices only and the unembedding again (d = 12288, L = 96, V = 50257):
    embedding = unembedding = 50257 x 12288 = 617,558,016
    query = key = value = output = 128 x 12288 x 96 heads x 96 layers = 14,495,514,624
    up = down = 4 x 12288 x 12288 x 96 = 57,982,058,496
    total 2 x 617,558,016 + 4 x 14,495,514,624 + 2 x 57,982,058,496 = 175,181,291,520."""
    result = run_cli("count", "gpt3-175b", "--weights-only", "--count-tied", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["total"] == 175_181_291_520
    assert {r["role"]: r["parameters"] for r in document["roles"]} == {
        "embedding": 617_558_016,
        "query": 14_495_514_624, "key": 14_495_514_624,
        "value": 14_495_514_624, "output": 14_495_514_624,
        "up": 57_982_058_496, "down": 57_982_058_496,
        "unembedding": 617_558_016,
    }
    assert result.stderr == ""


def test_count_warns_where_a_gpt3_spec_departs_from_its_source():
    """1.3b takes 16 heads where the paper prints 24 (24 x 128 = 3072 != 2048); 13b keeps d_model
    5140 with 40 x 128 = 5120 attention: both said on stderr. 125m agrees with its row: silent."""
    xl = run_cli("count", "gpt3-1.3b")
    assert xl.returncode == 0
    assert "warning: gpt3-1.3b: the source gives n_heads 24, this spec takes 16" in xl.stderr
    assert "warning" not in xl.stdout
    big = run_cli("count", "gpt3-13b")
    assert big.returncode == 0
    assert "warning: gpt3-13b: n_heads x d_head = 40 x 128 = 5,120 differs from d_model 5,140" \
        in big.stderr
    small = run_cli("count", "gpt3-125m")
    assert small.returncode == 0 and small.stderr == ""


def test_gpt3_readings_taken():
    """The two self-contradicting rows: literal 1.3b would be 1,517,123,584 (24 x 128 = 3072 wide
    attention: 102,926,336 + 4,194,304 + 24 x (4 x 2048 x 3072 + 3 x 3072 + 8 x 2048^2 + 20,480)
    + 4,096), 16.7% over 1.3B, so the spec takes 16 heads; 13b keeps the printed d_model 5140."""
    xl, big = load_spec("gpt3-1.3b"), load_spec("gpt3-13b")
    assert (xl.n_heads, xl.d_head, xl.d_model) == (16, 128, 2048)
    literal = 102_926_336 + 4_194_304 + 24 * (4 * 2048 * 3072 + 3 * 3072 + 8 * 2048**2 + 20_480) \
        + 4_096
    assert literal == 1_517_123_584 and literal / 1.3e9 - 1 > 0.16
    assert (big.n_heads, big.d_head, big.d_model, big.d_ff) == (40, 128, 5140, 20560)
    for spec in (xl, big):
        assert spec.attention_pattern == ("dense", "local") and spec.local_window == 256
        assert [spec.layer_attention(i) for i in range(4)] == ["dense", "local"] * 2


@pytest.mark.parametrize("name, config", [
    ("gpt3-125m", {"n_embd": 768, "n_layer": 12, "n_head": 12}),
    ("gpt3-1.3b", {"n_embd": 2048, "n_layer": 24, "n_head": 16}),
    ("gpt3-175b", {"n_embd": 12288, "n_layer": 96, "n_head": 96}),
])
def test_gpt3_equals_transformers_gpt2(name, config):
    """GPT-3 is GPT-2's block at n_ctx 2048: transformers' GPT2LMHeadModel (meta device) counts
    the same parameters, tied lm_head once.
    (13b cannot be built there: its d_head is not d_model / n_heads.)"""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    with torch.device("meta"):
        model = GPT2LMHeadModel(GPT2Config(n_positions=2048, **config))
    assert model.num_parameters() == total(spec_rows(load_spec(name)))


@pytest.mark.parametrize("name, config", [
    ("llama2-7b", {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                       "num_attention_heads": 32}),
    ("llama2-70b", {"hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
                        "num_attention_heads": 64, "num_key_value_heads": 8}),
    ("smollm2-135m", {"vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
                          "num_hidden_layers": 30, "num_attention_heads": 9,
                          "num_key_value_heads": 3,
                          "tie_word_embeddings": True}),
])
def test_llama_specs_equal_transformers(name, config):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**config))
    assert model.num_parameters() == total(spec_rows(load_spec(name)))


@pytest.mark.parametrize("name, config", [
    ("t5-small", {}),  # T5Config's defaults are t5-small's
    ("flan-t5-base", {"d_model": 768, "num_layers": 12, "num_heads": 12,
                      "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}),
])
def test_t5_specs_equal_transformers(name, config):
    """T5ForConditionalGeneration on the meta device. transformers 5 ties lm_head to `shared`
    whatever the config says, and unties it on loading a file that stores its own lm_head (as
    Flan-T5's does): the reference for an untied spec is the model with lm_head its own."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    with torch.device("meta"):
        model = T5ForConditionalGeneration(T5Config(**config))
        if config.get("tie_word_embeddings") is False:
            model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    assert model.num_parameters() == total(spec_rows(load_spec(name)))


# The config.json values of each spec's source (the hub repository), as transformers reads them.
LLAMA31 = {"vocab_size": 128256, "max_position_embeddings": 131072, "num_key_value_heads": 8,
           "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
           "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 8192}}
# google/gemma-2-2b, -9b and -27b: what their config.json files share, then their sizes.
GEMMA2 = {"vocab_size": 256000, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
          "hidden_activation": "gelu_pytorch_tanh", "sliding_window": 4096,
          "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
          "tie_word_embeddings": True, "rope_theta": 10000.0}
GEMMA2_SIZES = [
    ("2b", {"hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
            "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
            "query_pre_attn_scalar": 256}),
    ("9b", {"hidden_size": 3584, "intermediate_size": 14336, "num_hidden_layers": 42,
            "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256,
            "query_pre_attn_scalar": 256}),
    ("27b", {"hidden_size": 4608, "intermediate_size": 36864, "num_hidden_layers": 46,
             "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128,
             "query_pre_attn_scalar": 144}),
]
# config.json of deepseek-ai/DeepSeek-V3 (the keys transformers reads).
DEEPSEEK_V3 = {"vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
               "moe_intermediate_size": 2048, "num_hidden_layers": 61,
               "num_nextn_predict_layers": 1, "num_attention_heads": 128,
               "num_key_value_heads": 128, "n_shared_experts": 1, "n_routed_experts": 256,
               "routed_scaling_factor": 2.5, "kv_lora_rank": 512, "q_lora_rank": 1536,
               "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128,
               "n_group": 8, "topk_group": 4, "num_experts_per_tok": 8,
               "first_k_dense_replace": 3, "norm_topk_prob": True, "hidden_act": "silu",
               "max_position_embeddings": 163840, "rms_norm_eps": 1e-6, "rope_theta": 10000,
               "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0,
                                "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
                                "type": "yarn"},
               "tie_word_embeddings": False, "attention_bias": False}
# config.json of openai/gpt-oss-120b (without its quantization_config).
GPT_OSS_120B = {"num_hidden_layers": 36, "num_local_experts": 128, "vocab_size": 201088,
                "hidden_size": 2880, "intermediate_size": 2880, "head_dim": 64,
                "num_attention_heads": 64, "num_key_value_heads": 8, "sliding_window": 128,
                "max_position_embeddings": 131072, "experts_per_token": 4,
                "num_experts_per_tok": 4, "rope_theta": 150000, "attention_bias": True,
                "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0,
                                 "original_max_position_embeddings": 4096, "rope_type": "yarn",
                                 "truncate": False},
                "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
                "layer_types": ["sliding_attention", "full_attention"] * 18}
# config.json of moonshotai/Kimi-K2-Instruct (the keys transformers reads).
KIMI_K2 = {**DEEPSEEK_V3, "vocab_size": 163840, "num_attention_heads": 64,
           "num_key_value_heads": 64, "n_routed_experts": 384, "first_k_dense_replace": 1,
           "num_nextn_predict_layers": 0, "routed_scaling_factor": 2.827, "n_group": 1,
           "topk_group": 1, "max_position_embeddings": 131072, "rope_theta": 50000.0,
           "rope_scaling": {"beta_fast": 1.0, "beta_slow": 1.0, "factor": 32.0, "mscale": 1.0,
                            "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
                            "type": "yarn"}}
HUB_CONFIGS = [
    ("llama-3.1-8b", "llama", {**LLAMA31, "hidden_size": 4096, "intermediate_size": 14336,
                               "num_hidden_layers": 32, "num_attention_heads": 32}),
    ("llama-3.1-70b", "llama", {**LLAMA31, "hidden_size": 8192, "intermediate_size": 28672,
                                "num_hidden_layers": 80, "num_attention_heads": 64}),
    ("llama-3.1-405b", "llama", {**LLAMA31, "hidden_size": 16384, "intermediate_size": 53248,
                                 "num_hidden_layers": 126, "num_attention_heads": 128}),
    # Mistral-7B-v0.1 (v0.3's vocab_size 32768 would make 7,248,023,552).
    ("mistral-7b", "mistral", {"vocab_size": 32000, "hidden_size": 4096,
                               "intermediate_size": 14336, "num_hidden_layers": 32,
                               "num_attention_heads": 32, "num_key_value_heads": 8,
                               "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
                               "sliding_window": 4096, "tie_word_embeddings": False,
                               "rope_theta": 10000.0}),
    ("mixtral-8x7b", "mixtral", {"vocab_size": 32000, "hidden_size": 4096,
                                 "intermediate_size": 14336, "num_hidden_layers": 32,
                                 "num_attention_heads": 32, "num_key_value_heads": 8,
                                 "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
                                 "rope_theta": 1e6, "num_local_experts": 8,
                                 "num_experts_per_tok": 2, "tie_word_embeddings": False}),
    ("qwen3-30b-a3b", "qwen3_moe", {"vocab_size": 151936, "hidden_size": 2048,
                                    "intermediate_size": 6144, "num_hidden_layers": 48,
                                    "num_attention_heads": 32, "num_key_value_heads": 4,
                                    "head_dim": 128, "moe_intermediate_size": 768,
                                    "num_experts": 128, "num_experts_per_tok": 8,
                                    "norm_topk_prob": True, "max_position_embeddings": 40960,
                                    "rope_theta": 1e6, "rms_norm_eps": 1e-6,
                                    "tie_word_embeddings": False}),
    *[(f"gemma-2-{size}", "gemma2", {**GEMMA2, **sizes}) for size, sizes in GEMMA2_SIZES],
    ("qwen2.5-7b", "qwen2", {"vocab_size": 152064, "hidden_size": 3584,
                             "intermediate_size": 18944, "num_hidden_layers": 28,
                             "num_attention_heads": 28, "num_key_value_heads": 4,
                             "max_position_embeddings": 131072, "rms_norm_eps": 1e-6,
                             "rope_theta": 1000000.0, "tie_word_embeddings": False,
                             "use_sliding_window": False}),
    ("deepseek-v3", "deepseek_v3", DEEPSEEK_V3),
    ("kimi-k2", "deepseek_v3", KIMI_K2),
    ("gpt-oss-120b", "gpt_oss", GPT_OSS_120B),
    ("phi-3-mini", "phi3", {"vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
                            "num_hidden_layers": 32, "num_attention_heads": 32,
                            "num_key_value_heads": 32, "max_position_embeddings": 4096,
                            "original_max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
                            "rope_theta": 10000.0, "sliding_window": 2047,
                            "tie_word_embeddings": False}),
]


@pytest.mark.parametrize("name, model_type, config", HUB_CONFIGS, ids=[n for n, *_ in HUB_CONFIGS])
def test_hub_specs_equal_transformers(name, model_type, config, tmp_path):
    """Each spec's source config.json, built by transformers on the meta device, has exactly the
    spec's `inspector count` (the arithmetic is in OTHERS above); the config.json itself, read as a
    spec, counts the same role by role and is the spec in everything the forward pass reads:
    Llama 3.1's rotary scaling, Mistral 7B v0.1's sliding window (every layer local over 4096
    tokens), Gemma 2's alternating local and global layers, its scale and soft caps."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    hub = AutoConfig.for_model(model_type, **config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hub)
    counted = _count_json(name)
    assert counted["total"] == model.num_parameters()
    hub.save_pretrained(tmp_path)
    _same_counts(_count_json(str(tmp_path / "config.json")), counted)
    from inspector.spec.config_json import spec_from_config

    read = spec_from_config(json.loads((tmp_path / "config.json").read_text()))
    shipped = load_spec(name)
    for field in FORWARD_FIELDS:
        assert getattr(read, field) == getattr(shipped, field), field


def test_kimi_k2_total_and_active_equal_transformers_meta_count():
    """Kimi-K2 (config KIMI_K2), built by transformers on the meta device: d = 7168, vocab
    163840, untied, 61 layers (1 dense, 60 MoE), 64 heads of latent attention.
    Attention: q_a 1536d = 11,010,048, its norm 1,536, q_b 64 x 192 x 1536 = 18,874,368,
    kv_a (512 + 64)d = 4,128,768, its norm 512, kv_b 64 x (128 + 128) x 512 = 8,388,608,
    o d x 64 x 128 = 58,720,256: 101,124,096; two norms 14,336: 101,138,432 a layer.
    Dense MLP 3 x 18432d = 396,361,728. MoE: router 384d = 2,752,512, 384 experts of
    3 x 2048d = 44,040,192 (16,911,433,728), one shared of the same: 16,958,226,432.
    Total: 2 x 163840d + (101,138,432 + 396,361,728) + 60 x (101,138,432 + 16,958,226,432) + d
    = 2,348,810,240 + 497,500,160 + 1,023,561,891,840 + 7,168 = 1,026,408,209,408.
    Active (8 of 384 routed experts a token): the total less 60 x 376 x 44,040,192 =
    993,546,731,520 of idle experts: 32,861,477,888."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    hub = AutoConfig.for_model("deepseek_v3", **KIMI_K2)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hub)
    experts, k = hub.n_routed_experts, hub.num_experts_per_tok
    meta_total = meta_active = 0
    for name, p in model.named_parameters():
        meta_total += p.numel()
        routed = ".mlp.experts." in name  # the routed experts (shared ones: .shared_experts.)
        meta_active += p.numel() * k // experts if routed else p.numel()
    assert meta_total == 1_026_408_209_408
    assert meta_active == 32_861_477_888
    counted = _count_json("kimi-k2")
    assert (counted["total"], counted["active_parameters"]) == (meta_total, meta_active)


def test_command_r_plus_config_counts_as_transformers(tmp_path):
    """CohereForCausalLM/c4ai-command-r-plus's config.json (d 12,288, 64 layers, 96 heads and 8
    key/value heads of 128, d_ff 33,792, vocab 256,000, tied, use_qk_norm): transformers' meta
    count. Per layer: q 12,288 x 12,288 + k, v 1,024 x 12,288 each + o = 327,155,712; MLP
    3 x 33,792 x 12,288 = 1,245,708,288; input norm 12,288; q_norm 96 x 128 = 12,288 and k_norm
    8 x 128 = 1,024 (a gain per head): 1,572,889,600; x 64 = 100,664,934,400, + embedding
    256,000 x 12,288 = 3,145,728,000 + final norm 12,288 = 103,810,674,688."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = {"hidden_size": 12288, "intermediate_size": 33792, "num_hidden_layers": 64,
              "num_attention_heads": 96, "num_key_value_heads": 8, "vocab_size": 256000,
              "max_position_embeddings": 8192, "use_qk_norm": True, "tie_word_embeddings": True,
              "logit_scale": 0.8333333333333334, "rope_theta": 75000000.0}
    hub = AutoConfig.for_model("cohere", **config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hub)
    hub.save_pretrained(tmp_path)
    counted = _count_json(str(tmp_path / "config.json"))
    assert counted["total"] == model.num_parameters() == 103_810_674_688
    norms = {r["role"]: r["parameters"] for r in counted["roles"]}["norm"]
    assert norms == 64 * (12_288 + 12_288 + 1_024) + 12_288


# What the forward pass reads beyond the tensors, compared between a spec and its config.json.
FORWARD_FIELDS = ("rope_scaling", "rope_theta", "local_rope_theta", "attention_pattern",
                  "local_window", "attention_scale", "attention_softcap", "logit_softcap",
                  "embedding_scale", "norm_unit_offset", "norm_placement", "activation",
                  "norm_eps", "tied_embeddings")


# Phi-3-mini-128k-instruct's config.json: Phi-3-mini's tensors, a 131,072-token context by
# longrope rotary (its older name "su"; 48 factors each, one per rotated frequency of d_head 96;
# transformers 5 wants original_max_position_embeddings inside rope_scaling too).
PHI3_128K = {**HUB_CONFIGS[-1][2], "max_position_embeddings": 131072, "sliding_window": 262144,
             "rope_scaling": {"type": "su", "long_factor": [1.5] * 48, "short_factor": [1.0] * 48,
                              "original_max_position_embeddings": 4096}}


def test_longrope_counts_but_does_not_build(tmp_path):
    """Longrope changes no tensor: the 128k config.json counts as transformers' meta-device model
    does (phi-3-mini's 3,821,079,552). Inspector's model does not compute longrope, so building
    it refuses in one line (exit 2) rather than rotate positions otherwise."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from inspector.building.transformer import build_model
    from inspector.errors import UsageError
    from inspector.spec.config_json import spec_from_config

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "phi3", **PHI3_128K}))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model("phi3", **PHI3_128K))
    counted = _count_json(str(tmp_path / "config.json"))
    assert counted["total"] == model.num_parameters() == 3_821_079_552
    spec = spec_from_config({"model_type": "phi3", **PHI3_128K})
    assert spec.rope_scaling["rope_type"] == "longrope"
    with pytest.raises(UsageError, match="rope_type longrope"):
        build_model(spec)
    built = run_cli("build", str(tmp_path / "config.json"), "--out", str(tmp_path / "out"))
    assert built.returncode == 2
    assert built.stderr.count("\n") == 1 and "rope_type longrope" in built.stderr, built.stderr


def _count_json(spec: str) -> dict:
    result = run_cli("count", spec, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _same_counts(a: dict, b: dict) -> None:
    assert a["total"] == b["total"]
    assert a["roles"] == b["roles"]


def test_config_json_as_a_spec_gpt2(tmp_path):
    """transformers' default GPT2Config is GPT-2 small: counted from its config.json it is the
    gpt2-124m spec, role by role (124,439,808)."""
    from transformers import GPT2Config

    GPT2Config().save_pretrained(tmp_path)
    from_config = _count_json(str(tmp_path / "config.json"))
    assert from_config["total"] == 124_439_808
    _same_counts(from_config, _count_json("gpt2-124m"))


def test_config_json_as_a_spec_llama(tmp_path):
    """Llama-2-7b-hf's config.json, as the hub has it (transformers 4.x keys, rope_theta absent),
    and the same config as transformers 5 writes it (rope_parameters): both are llama2-7b."""
    hub = {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
           "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
           "intermediate_size": 11008, "max_position_embeddings": 4096, "model_type": "llama",
           "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
           "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
           "tie_word_embeddings": False, "torch_dtype": "float16",
           "transformers_version": "4.31.0.dev0", "use_cache": True, "vocab_size": 32000}
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "config.json").write_text(json.dumps(hub))
    expected = _count_json("llama2-7b")
    _same_counts(_count_json(str(tmp_path / "hub" / "config.json")), expected)

    from transformers import LlamaConfig

    LlamaConfig(max_position_embeddings=4096, rope_theta=10000.0).save_pretrained(tmp_path / "v5")
    written = json.loads((tmp_path / "v5" / "config.json").read_text())
    assert "rope_theta" not in written and written["rope_parameters"]["rope_theta"] == 10000.0
    _same_counts(_count_json(str(tmp_path / "v5" / "config.json")), expected)


def test_config_json_rope_theta_from_rope_parameters(tmp_path):
    """transformers 5 keeps rope_theta inside rope_parameters: SmolLM2's 100000 is read there."""
    from transformers import LlamaConfig

    from inspector.spec.config_json import spec_from_config

    LlamaConfig(rope_theta=100000.0).save_pretrained(tmp_path)
    spec = spec_from_config(json.loads((tmp_path / "config.json").read_text()))
    assert spec.rope_theta == 100000.0


# google/gemma-3-1b-pt's config.json as the hub has it (transformers 4.50's keys: rope_theta,
# rope_local_base_freq and rope_scaling at the top, sliding_window_pattern, no layer_types).
GEMMA3_1B = {"model_type": "gemma3_text", "vocab_size": 262144, "hidden_size": 1152,
             "intermediate_size": 6912, "num_hidden_layers": 26, "num_attention_heads": 4,
             "num_key_value_heads": 1, "head_dim": 256, "query_pre_attn_scalar": 256,
             "sliding_window": 512, "sliding_window_pattern": 6, "rope_theta": 1000000.0,
             "rope_local_base_freq": 10000.0, "rope_scaling": None,
             "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
             "hidden_activation": "gelu_pytorch_tanh", "attn_logit_softcapping": None,
             "final_logit_softcapping": None, "tie_word_embeddings": True}


@pytest.mark.parametrize("scaling", [None, {"factor": 8.0, "rope_type": "linear"}],
                         ids=["1b", "4b-linear"])
def test_config_json_as_a_spec_gemma3(scaling, tmp_path):
    """Gemma 3 1B's config.json (and with Gemma 3 4B's linear scaling of its global layers) as a
    spec: transformers' count on the meta device (262144 x 1152 + 26 x (2 x 1152 x 1024 +
    2 x 1152 x 256 + 3 x 1152 x 6912 + 4 x 1152 + 2 x 256) + 1152 = 301,989,888 + 26 x
    26,842,112 + 1,152 = 999,885,952), five local layers over 512 tokens to one global, the
    global layers at theta 1e6 (scaled), the local ones at 1e4; and the same config as
    transformers 5 writes it (rope_parameters per layer type, layer_types) reads as the same."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from inspector.spec.config_json import spec_from_config

    hub = {**GEMMA3_1B, "rope_scaling": scaling}
    config = AutoConfig.for_model(**hub)
    with torch.device("meta"):
        expected = AutoModelForCausalLM.from_config(config).num_parameters()
    assert expected == 999_885_952
    (tmp_path / "config.json").write_text(json.dumps(hub))
    assert _count_json(str(tmp_path / "config.json"))["total"] == expected
    spec = spec_from_config(hub)
    assert spec.attention_pattern == ("local",) * 5 + ("dense",) and spec.local_window == 512
    assert (spec.rope_theta, spec.local_rope_theta) == (1_000_000.0, 10_000.0)
    assert spec.rope_scaling == (scaling and {"rope_type": "linear", "factor": 8.0})
    assert (spec.attention_scale, spec.attention_softcap, spec.logit_softcap) == (1 / 16, None,
                                                                                 None)
    config.save_pretrained(tmp_path / "v5")
    written = json.loads((tmp_path / "v5" / "config.json").read_text())
    assert "full_attention" in written["rope_parameters"] and "layer_types" in written
    again = spec_from_config(written)
    assert [getattr(again, f) for f in FORWARD_FIELDS] == [getattr(spec, f) for f in FORWARD_FIELDS]


def test_mistral_sliding_window():
    """Mistral's sliding_window: 4096 (v0.1, and MistralConfig's default when the key is absent)
    makes every layer local over 4096 tokens; null (v0.2 on) makes every layer dense. Written
    back, each says the same."""
    from inspector.spec.config_json import config_from_spec, spec_from_config

    base = {"model_type": "mistral"}
    for config, pattern, window in [({**base, "sliding_window": 4096}, ("local",), 4096),
                                    (base, ("local",), 4096),
                                    ({**base, "sliding_window": None}, ("dense",), None)]:
        spec = spec_from_config(config)
        assert (spec.attention_pattern, spec.local_window) == (pattern, window)
        assert config_from_spec(spec)["sliding_window"] == window


@pytest.mark.parametrize("config, said", [
    ({"model_type": "gemma3_text", "attn_logit_softcapping": 50.0},
     "attn_logit_softcapping is set, but transformers' Gemma 3 never applies it"),
    ({"model_type": "gemma2", "use_bidirectional_attention": True},
     "use_bidirectional_attention (an encoder's mask) is not supported"),
    ({"model_type": "gemma3_text", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}},
     "full_attention: rope_type 'yarn' is not supported (default, llama3, linear)"),
    ({"model_type": "gemma2", "sliding_window": None},
     "layer_types has sliding_attention layers but sliding_window is null"),
    ({"model_type": "gemma2", "num_hidden_layers": 2, "layer_types": ["full_attention"]},
     "layer_types must give sliding_attention or full_attention for each of the 2 layers"),
])
def test_gemma_configs_refused_in_one_line(config, said, tmp_path):
    """What transformers would not run as the config says, or what inspector's model does not
    do, is one line and exit 2."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("count", str(tmp_path / "config.json"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and said in result.stderr, result.stderr


@needs_minilm
def test_config_json_as_a_spec_bert():
    """The real all-MiniLM-L6-v2 config.json counts as the all-minilm-l6-v2 spec (22,713,216)."""
    from_config = _count_json(str(MINILM_DIR / "config.json"))
    assert from_config["total"] == 22_713_216
    _same_counts(from_config, _count_json("all-minilm-l6-v2"))


def test_minilm_spec_equals_transformers_bert():
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                        num_attention_heads=12, intermediate_size=1536, max_position_embeddings=512)
    with torch.device("meta"):
        model = BertModel(config)
    assert model.num_parameters() == total(spec_rows(load_spec("all-minilm-l6-v2")))


def test_llama2_70b_grouped_query_roles():
    """64 query heads and 8 key/value heads of 128: query and output 8192 x 8192 x 80 =
    5,368,709,120; key and value 1024 x 8192 x 80 = 671,088,640; gate, up, down 28672 x 8192 x 80
    = 18,790,481,920 each; embedding and the untied unembedding 32000 x 8192 = 262,144,000."""
    roles = {r["role"]: r for r in role_table(spec_rows(load_spec("llama2-70b")))}
    assert roles["query"]["parameters"] == roles["output"]["parameters"] == 5_368_709_120
    assert roles["key"]["parameters"] == roles["value"]["parameters"] == 671_088_640
    for role in ("gate", "up", "down"):
        assert roles[role]["parameters"] == 18_790_481_920
    assert roles["embedding"]["parameters"] == roles["unembedding"]["parameters"] == 262_144_000
    assert roles["unembedding"]["tied_to"] is None
    assert all(r["biases"] == 0 for r in roles.values())


# The config.json files of google-t5/t5-small and google/flan-t5-base as the hub has them
# (transformers 4.x: no num_decoder_layers or tie_word_embeddings in t5-small's, so symmetric
# and tied; no scale_decoder_outputs in either), less task_specific_params.
T5_HUB = {"architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64,
          "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1,
          "initializer_factor": 1.0, "is_encoder_decoder": True, "layer_norm_epsilon": 1e-06,
          "model_type": "t5", "n_positions": 512, "output_past": True, "pad_token_id": 0,
          "relative_attention_num_buckets": 32, "vocab_size": 32128}
T5_HUB_CONFIGS = [
    ("t5-small", {**T5_HUB, "d_model": 512, "num_heads": 8, "num_layers": 6}),
    ("flan-t5-base", {**T5_HUB, "d_model": 768, "num_heads": 12, "num_layers": 12,
                      "num_decoder_layers": 12, "dense_act_fn": "gelu_new",
                      "feed_forward_proj": "gated-gelu", "is_gated_act": True,
                      "relative_attention_max_distance": 128, "tie_word_embeddings": False,
                      "transformers_version": "4.23.1"}),
]


@pytest.mark.parametrize("name, config", T5_HUB_CONFIGS, ids=[n for n, _ in T5_HUB_CONFIGS])
def test_t5_hub_config_is_the_shipped_spec(name, config):
    """Each T5 spec is its source's config.json, field by field: gating and activation from
    feed_forward_proj, the tie from tie_word_embeddings (absent: tied), the decoder's output
    scaled by 512^-0.5 only where tied (T5 v1.0)."""
    from dataclasses import asdict

    from inspector.spec.config_json import spec_from_config

    provenance = ("name", "source", "path", "published", "notes")
    read, shipped = asdict(spec_from_config(config)), asdict(load_spec(name))
    for key in provenance:
        read.pop(key), shipped.pop(key)
    assert read == shipped
