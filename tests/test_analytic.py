"""Analytic counts of the GPT-2 specs, exact, with the arithmetic written out; and the same
counts from transformers' own models (built on the meta device) as the reference."""

import pytest

from inspector.spec.describe import spec_rows
from inspector.spec.loading import load_spec
from inspector.vocab.tables import layer_table, role_table, total


def roles(name, **kw):
    return {r["role"]: r for r in role_table(spec_rows(load_spec(name)), **kw)}


def test_gpt2_124m_per_role():
    """d=768, L=12, V=50257, n_ctx=1024, d_ff=3072.

    embedding 50257 x 768 = 38,597,376 (the seed note's 38,596,416 multiplies wrongly)
    position 1024 x 768 = 786,432
    query/key/value/output: weights 768 x 768 x 12 = 7,077,888; biases 768 x 12 = 9,216
    up: 768 x 3072 x 12 = 28,311,552 + biases 3072 x 12 = 36,864
    down: 3072 x 768 x 12 = 28,311,552 + biases 768 x 12 = 9,216
    norm: (ln_1 + ln_2) x 12 + ln_f = 25 norms: 25 x 768 = 19,200 weights and 19,200 biases
    unembedding: tied to the embedding, shown (38,597,376) but not added.
    total 38,597,376 + 786,432 + 4 x 7,087,104 + 28,348,416 + 28,320,768 + 38,400 = 124,439,808
    """
    r = roles("gpt2-124m")
    assert r["embedding"]["weights"] == 38_597_376 == 50257 * 768
    assert r["position"]["weights"] == 786_432
    for role in ("query", "key", "value", "output"):
        assert (r[role]["weights"], r[role]["biases"]) == (7_077_888, 9_216)
    assert (r["up"]["weights"], r["up"]["biases"]) == (28_311_552, 36_864)
    assert (r["down"]["weights"], r["down"]["biases"]) == (28_311_552, 9_216)
    assert (r["norm"]["weights"], r["norm"]["biases"]) == (19_200, 19_200)
    assert r["unembedding"]["parameters"] == 38_597_376
    assert r["unembedding"]["tied_to"] == "embedding"
    assert "gate" not in r
    assert total(spec_rows(load_spec("gpt2-124m"))) == 124_439_808


@pytest.mark.parametrize("name, expected", [
    # 50257d + 1024d + L(12d^2 + 13d) + 2d, d_ff = 4d:
    ("gpt2-124m", 124_439_808),    # d=768,  L=12
    ("gpt2-355m", 354_823_168),    # d=1024, L=24: 51,463,168 + 1,048,576 + 24 x 12,596,224 + 2,048
    ("gpt2-774m", 774_030_080),    # d=1280, L=36: 64,328,960 + 1,310,720 + 36 x 19,676,160 + 2,560
    ("gpt2-1558m", 1_557_611_200), # d=1600, L=48: 80,411,200 + 1,638,400 + 48 x 30,740,800 + 3,200
])
def test_gpt2_totals(name, expected):
    assert total(spec_rows(load_spec(name))) == expected


@pytest.mark.parametrize("name, config", [
    ("gpt2-124m", {}),
    ("gpt2-355m", {"n_embd": 1024, "n_layer": 24, "n_head": 16}),
    ("gpt2-774m", {"n_embd": 1280, "n_layer": 36, "n_head": 20}),
    ("gpt2-1558m", {"n_embd": 1600, "n_layer": 48, "n_head": 25}),
])
def test_totals_equal_transformers(name, config):
    """transformers' GPT2LMHeadModel on the meta device: num_parameters() counts the tied
    lm_head once, exactly as our default does."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    with torch.device("meta"):
        model = GPT2LMHeadModel(GPT2Config(**config))
    assert total(spec_rows(load_spec(name))) == model.num_parameters()


def test_count_tied_adds_the_unembedding_again():
    """124,439,808 + 38,597,376 = 163,037,184: the '163M' a double count produces."""
    assert total(spec_rows(load_spec("gpt2-124m")), count_tied=True) == 163_037_184


def test_weights_only():
    """Matrices only: embedding 38,597,376 + 12 x (4 x 589,824 + 2 x 2,359,296) = 123,532,032;
    with --count-tied the unembedding is added again: 162,129,408."""
    rows = spec_rows(load_spec("gpt2-124m"))
    assert total(rows, weights_only=True) == 38_597_376 + 12 * (4 * 589_824 + 2 * 2_359_296)
    assert total(rows, weights_only=True) == 123_532_032
    assert total(rows, count_tied=True, weights_only=True) == 162_129_408
    r = {x["role"]: x for x in role_table(rows, weights_only=True)}
    assert "norm" not in r and "position" not in r
    assert all(x["biases"] == 0 for x in r.values())


def test_by_layer():
    """Each block: 2 x 1,536 norms + 2,362,368 c_attn + 590,592 c_proj + 2,362,368 c_fc
    + 590,592 mlp c_proj = 7,087,872. Outside the blocks: 38,597,376 + 786,432 + 1,536 =
    39,385,344. 39,385,344 + 12 x 7,087,872 = 124,439,808."""
    layers = layer_table(spec_rows(load_spec("gpt2-124m")))
    assert layers[0] == {"layer": None, "weights": 39_384_576, "biases": 768,
                         "parameters": 39_385_344}
    assert [x["layer"] for x in layers[1:]] == list(range(12))
    assert all(x["parameters"] == 7_087_872 for x in layers[1:])
