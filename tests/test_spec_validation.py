"""Spec validation: one clear message per problem, all problems on one line."""

import pytest

from inspector.errors import SpecError
from inspector.spec.loading import load_spec
from inspector.spec.validation import spec_from_dict

BASE = {"name": "t", "family": "gpt2", "source": "test", "vocab_size": 10, "n_ctx": 8,
        "d_model": 8, "n_layers": 1, "n_heads": 2, "d_ff": 32}


def problem(**changes):
    data = {**BASE, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        data.pop(key)
    with pytest.raises(SpecError) as e:
        spec_from_dict(data, origin="bad.yaml")
    return str(e.value)


def test_a_valid_spec_derives_d_head_and_kv_heads():
    spec = spec_from_dict(dict(BASE))
    assert (spec.d_head, spec.n_kv_heads) == (4, 2)


def test_unknown_key_names_the_closest():
    msg = problem(n_layer=12)
    assert msg.startswith("bad.yaml: ")
    assert "unknown key 'n_layer' (did you mean 'n_layers'?)" in msg


def test_missing_key():
    assert "missing key 'd_ff'" in problem(d_ff=None)


@pytest.mark.parametrize("key", ["vocab_size", "n_ctx", "d_model", "n_layers", "n_heads", "d_ff"])
def test_non_positive_size(key):
    assert f"'{key}' must be positive, got 0" in problem(**{key: 0})


def test_heads_must_divide_d_model_without_d_head():
    assert "n_heads 3 does not divide d_model 8; give d_head explicitly" in problem(n_heads=3)
    spec = spec_from_dict({**BASE, "n_heads": 3, "d_head": 4})
    assert spec.attn_width == 12 and spec.warnings()


def test_kv_heads_must_divide_heads():
    assert "n_kv_heads 3 does not divide n_heads 2" in problem(n_kv_heads=3)


def test_wrong_types_and_choices():
    assert "'d_model' must be an integer, got str '8'" in problem(d_model="8")
    assert "'n_layers' must be an integer, got True" in problem(n_layers=True)
    assert "'norm' must be one of layernorm, rmsnorm; got 'batchnorm'" in problem(norm="batchnorm")
    assert "unknown key 'biases.ffn'" in problem(biases={"ffn": True})


def test_every_problem_is_reported_at_once():
    msg = problem(n_layer=1, d_model=0, norm="x")
    assert msg.count(";") >= 2 and "\n" not in msg


def test_unknown_shipped_name_suggests():
    with pytest.raises(SpecError, match="did you mean 'gpt2-124m'"):
        load_spec("gpt2-124")


def test_rotary_variants_are_checked():
    """The forward-only rotary fields: a share in (0, 1], a 0/1 flag per layer, and Llama 3.1's
    five rope_scaling keys with positive values."""
    assert "'rotary_fraction' must be in (0, 1], got 1.5" in problem(rotary_fraction=1.5)
    assert "'rotary_layers' has 2 entries for 1 layers" in problem(rotary_layers=[1, 0])
    assert "'rotary_layers' entries must be 1 (rotary) or 0 (none)" in problem(rotary_layers=[2])
    assert "'rope_scaling' must give rope_type: llama3" in problem(rope_scaling={"factor": 8.0})
    llama3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 0}
    assert "'rope_scaling' values must be positive" in problem(rope_scaling=llama3)
    spec = spec_from_dict({**BASE, "rope_scaling": {**llama3,
                                                    "original_max_position_embeddings": 8192}})
    assert spec.rope_scaling["factor"] == 8.0
