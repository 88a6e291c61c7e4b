"""The model `build` makes: its parameters are the analytic rows, name by name and shape by shape,
for every shipped spec; masks are buffers, never parameters; local layers see only their band; the
layout rules read values in and write them out as exact inverses."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from conftest import tiny_spec_yaml

from inspector.building.transformer import Transformer, build_model
from inspector.building.weights import from_stored, permute_rotary, to_stored, unpermute_rotary
from inspector.errors import UsageError
from inspector.families import all_layouts
from inspector.spec.describe import spec_rows
from inspector.spec.loading import load_spec, shipped_names
from inspector.spec.validation import spec_from_dict
from inspector.vocab.canonical import parse
from inspector.vocab.roles import Role
from inspector.vocab.tables import role_table


def by_role(model) -> dict[str, int]:
    """Parameters of the model summed by role, each Parameter once (a tied one under its first
    name, the embedding)."""
    sums: Counter = Counter()
    for name, p in model.named_parameters():
        sums[parse(name)[0].value] += p.numel()
    return dict(sums)


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_spec_builds_its_analytic_rows(name):
    """Names, shapes and order of the meta model's parameters are spec_rows'; grouped by role
    they equal the analytic counts (a tied unembedding: the embedding's Parameter, counted once).
    A spec build refuses (latent attention, attention sinks: counted, not computed) is still
    made module by module on the meta device, as build_model would, to show the same."""
    spec = load_spec(name)
    try:
        model = build_model(spec)
    except UsageError:
        with torch.device("meta"):
            model = Transformer(spec)
    rows = spec_rows(spec)
    params = list(model.named_parameters(remove_duplicate=False))
    assert [(n, tuple(p.shape)) for n, p in params] == [(r.canonical, r.shape) for r in rows]
    assert all(p.is_meta for _, p in params)
    expected = {r["role"]: r["parameters"] for r in role_table(rows) if r["tied_to"] is None}
    assert by_role(model) == expected
    tied = spec.tied_embeddings and spec.has_unembedding
    assert (getattr(model, "unembed", None) is not None
            and model.unembed.weight is model.embed.weight) == tied


def test_gpt2_124m_parameters_exactly():
    """embedding 50257 x 768 = 38,597,376; position 1024 x 768 = 786,432; per layer: two norms
    2 x (768 + 768) = 3,072, query/key/value 3 x (768 x 768 + 768) = 1,771,776, output
    768 x 768 + 768 = 590,592, up 768 x 3072 + 3072 = 2,362,368, down 3072 x 768 + 768 =
    2,360,064, together 7,087,872, x 12 = 85,054,464; ln_f 1,536; the tied unembedding adds 0.
    38,597,376 + 786,432 + 85,054,464 + 1,536 = 124,439,808."""
    model = build_model(load_spec("gpt2-124m"))
    assert sum(p.numel() for p in model.parameters()) == 124_439_808
    assert by_role(model)["embedding"] == 38_597_376


def test_smollm2_grouped_query_parameters_exactly():
    """embedding 49152 x 576 = 28,311,552 (tied: the unembedding adds 0); per layer: two RMSNorms
    2 x 576 = 1,152, query 576 x 576 = 331,776, key and value 2 x (3 x 64) x 576 = 221,184,
    output 331,776, gate/up/down 3 x 576 x 1536 = 2,654,208, together 3,540,096, x 30 =
    106,202,880; final norm 576. 28,311,552 + 106,202,880 + 576 = 134,515,008."""
    model = build_model(load_spec("smollm2-135m"))
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tuple(model.layers[0].attn.key.weight.shape) == (192, 576)
    assert not hasattr(model, "pos")


def test_masks_are_buffers_never_parameters_nor_saved():
    spec = load_spec("gpt3-125m")  # dense and local layers: two masks
    model = build_model(spec)
    assert sorted(dict(model.named_buffers())) == ["causal_mask", "local_mask"]
    assert list(model.state_dict()) == [n for n, _ in
                                        model.named_parameters(remove_duplicate=False)]
    assert model.causal_mask.shape == (2048, 2048) and model.causal_mask.dtype == torch.bool


def local_spec(tmp_path, pattern, window=3):
    return load_spec(str(tiny_spec_yaml(tmp_path / "local.yaml", family="gpt3", n_layers=1,
                                        attention_pattern=pattern, local_window=window)))


def test_local_layer_mask_is_the_band(tmp_path):
    """A local layer with window 3 lets query i see keys j with 0 <= i - j < 3; dense: j <= i."""
    model = build_model(local_spec(tmp_path, ["dense", "local"]), device="cpu")
    n = 6
    want_local = torch.tensor([[0 <= i - j < 3 for j in range(n)] for i in range(n)])
    want_dense = torch.tensor([[j <= i for j in range(n)] for i in range(n)])
    assert torch.equal(model.attention_mask(1, n), want_local)
    assert torch.equal(model.attention_mask(0, n), want_dense)
    assert torch.equal(model.attention_mask(2, n), want_dense)  # the pattern cycles


def test_local_layer_forgets_tokens_outside_its_window(tmp_path):
    """One local layer, window 3: position t >= 3 cannot be affected by token 0; position 2 is.
    Learned positions and the causal band are the only paths, so this is the band at work."""
    model = build_model(local_spec(tmp_path, ["local"]), device="cpu", seed=1).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12]])
    changed = ids.clone()
    changed[0, 0] = 50
    with torch.no_grad():
        diff = (model(ids) - model(changed)).abs().amax(dim=-1)[0]
    assert diff[2] > 0
    assert torch.all(diff[3:] == 0)


def test_cpu_build_is_seeded_and_tied(tmp_path):
    spec = load_spec(str(tiny_spec_yaml(tmp_path / "tiny.yaml")))
    a, b, c = (build_model(spec, device="cpu", seed=s) for s in (7, 7, 8))
    assert a.unembed.weight is a.embed.weight
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.embed.weight, c.embed.weight)
    assert torch.all(a.layers[0].attn.query.bias == 0) and torch.all(a.final_norm.weight == 1)
    half = build_model(spec, device="cpu", dtype=torch.bfloat16, seed=7)
    assert half.embed.weight.dtype == torch.bfloat16 and half.unembed.weight is half.embed.weight
    assert half.causal_mask.dtype == torch.bool


def test_sinusoidal_and_no_positions_have_no_position_table(tmp_path):
    """Only a learned table is a parameter; sinusoidal positions are computed, `none` adds none."""
    for position in ("sinusoidal", "none"):
        spec = load_spec(str(tiny_spec_yaml(tmp_path / f"{position}.yaml", position=position)))
        model = build_model(spec, device="cpu").eval()
        assert "pos.weight" not in dict(model.named_parameters())
        with torch.no_grad():
            assert model(torch.tensor([[1, 2, 3]])).shape == (1, 3, 100)


def test_sinusoid_table_is_vaswanis():
    """Vaswani et al. 2017, section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)) and
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), here with d = 8."""
    import math

    from inspector.building.positions import sinusoid_table

    table = sinusoid_table(torch.arange(5), 8)
    for pos in range(5):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert math.isclose(table[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


@pytest.mark.parametrize("layout_name", sorted(all_layouts()))
def test_layout_rules_read_and_write_as_inverses(layout_name):
    """For every rule with targets: to_stored then from_stored gives back each canonical tensor
    exactly (GPT-2's fused, transposed c_attn; Falcon's grouped query_key_value: 2 groups of 2
    query heads, a key and a value head; GGUF's rotary-permuted attn_q/attn_k), or within fp32's
    rounding of w + 1 where llama.cpp stores a Gemma norm's gain (|w| < 8: one ulp of 8)."""
    spec = spec_from_dict({"name": "t", "family": "llama", "source": "test", "vocab_size": 10,
                           "n_ctx": 8, "d_model": 16, "n_layers": 1, "n_heads": 4,
                           "n_kv_heads": 2, "d_ff": 24})
    generator = torch.Generator().manual_seed(0)
    shapes = {
        Role.QUERY: (16, 16), Role.KEY: (8, 16), Role.VALUE: (8, 16), Role.OUTPUT: (16, 16),
    }
    for rule in all_layouts()[layout_name].rules:
        if rule.is_buffer:
            continue
        names = [t.replace("{i}", "0") for t in rule.targets]
        expert = None
        if rule.experts:  # a layer's experts in one tensor: two experts' parts, stacked
            names, expert = [n.replace("{e}", str(e)) for e in range(2) for n in names], 2
        elif "{e}" in rule.pattern:  # one expert's tensor
            names, expert = [n.replace("{e}", "1") for n in names], 1
        roles = [parse(n)[0] for n in names]
        if rule.split_axis is not None:  # fused parts: the sizes the rule names, else equal
            rows = [getattr(spec, a) for a in rule.split_sizes or ()] or [16] * len(names)
            shapes_here = [(r, 16) if parse(n)[2] == "weight" else (r,)
                           for n, r in zip(names, rows)]
        else:
            shapes_here = [shapes.get(r, (12, 16)) if parse(n)[2] == "weight" else (12,)
                           for n, r in zip(names, roles)]
        values = [torch.randn(s, generator=generator) for s in shapes_here]
        back = from_stored(to_stored(values, rule, 0, spec), rule, 0, spec,
                           None if rule.experts else expert)
        assert [n for n, _ in back] == names
        tolerance = 2.0 ** -20 if rule.value_offset else 0.0
        assert all(torch.allclose(v, b, rtol=0, atol=tolerance) for v, (_, b) in zip(values, back))


def test_rotary_unpermute_is_transformers_gguf_reversal():
    """transformers' GGUF loader undoes llama.cpp's permute with its own function; ours agrees,
    for query rows (9 heads) and grouped key rows (3 heads) of SmolLM2's shapes."""
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    processor = LlamaTensorProcessor(config={})
    for rows, heads in ((576, 9), (192, 3)):
        w = torch.randn(rows, 576, generator=torch.Generator().manual_seed(rows))
        theirs = processor._reverse_permute_weights(w.numpy(), heads, heads)
        assert torch.equal(unpermute_rotary(w, heads), torch.from_numpy(theirs))
        assert torch.equal(unpermute_rotary(permute_rotary(w, heads), heads), w)
