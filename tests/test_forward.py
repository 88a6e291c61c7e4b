"""Forward equivalence: checkpoints loaded into the model `build` makes give transformers' outputs.

transformers is the reference every time (never our own output): its model is built or loaded from
the same file, run on the same tokens, and the largest absolute difference must be <= 1e-4 in fp32.
Run with `-s` to see the differences measured.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import MINILM_DIR, SMOLLM2_GGUF, needs_minilm, needs_smollm2, tiny_gpt2_config
from reference_models import (
    FORWARD_TOLERANCE,
    max_diff,
    published_gpt2_state,
    report,
    save_state,
    scramble,
    tiny_bert_config,
    tiny_llama_config,
)

from inspector.building.weights import load_model
from inspector.spec.config_json import spec_from_config
from inspector.spec.loading import load_spec


def tokens(vocab: int, shape=(2, 16), seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


def assert_close(what: str, ours: torch.Tensor, theirs: torch.Tensor) -> None:
    diff = max_diff(ours, theirs)
    report(what, diff, theirs.abs().max().item())
    assert diff <= FORWARD_TOLERANCE, f"{what}: largest difference {diff:.3e}"


# ---- GPT-2: both forms, and a pickle ---------------------------------------------------------

@pytest.fixture(scope="module")
def gpt2_reference():
    from transformers import GPT2LMHeadModel

    return scramble(GPT2LMHeadModel(tiny_gpt2_config()), seed=1)


def gpt2_spec():
    return spec_from_config(tiny_gpt2_config().to_dict(), name="tiny-gpt2")


def test_gpt2_as_transformers_saves_it(tiny_gpt2_dir):
    """The conftest checkpoint (`transformer.` prefix, no lm_head, transformers' own init)."""
    from transformers import GPT2LMHeadModel

    reference = GPT2LMHeadModel.from_pretrained(tiny_gpt2_dir).eval()
    ids = tokens(100)
    with torch.no_grad():
        assert_close("tiny GPT-2, transformers form", load_model(tiny_gpt2_dir, gpt2_spec())(ids),
                     reference(ids).logits)


def test_gpt2_scrambled_both_forms(gpt2_reference, tmp_path):
    """Every bias and gain random: the transformers form, and the published form (no prefix,
    h.N.attn.bias masks [1, 1, 16, 16], no lm_head) written from the same state dict."""
    gpt2_reference.save_pretrained(tmp_path / "saved")
    published = save_state(published_gpt2_state(gpt2_reference.state_dict(), 2, 16),
                           tmp_path / "published" / "model.safetensors")
    ids = tokens(100)
    with torch.no_grad():
        expected = gpt2_reference(ids).logits
        assert_close("tiny GPT-2 scrambled, transformers form",
                     load_model(tmp_path / "saved", gpt2_spec())(ids), expected)
        assert_close("tiny GPT-2 scrambled, published form",
                     load_model(published, gpt2_spec())(ids), expected)


def test_gpt2_pytorch_bin_with_tied_storage(gpt2_reference, tmp_path):
    """A .bin as older transformers wrote it: lm_head.weight saved beside wte, one storage."""
    state = dict(gpt2_reference.state_dict())
    assert state["lm_head.weight"].data_ptr() == state["transformer.wte.weight"].data_ptr()
    torch.save(state, tmp_path / "pytorch_model.bin")
    ids = tokens(100)
    with torch.no_grad():
        assert_close("tiny GPT-2 scrambled, pytorch_model.bin",
                     load_model(tmp_path / "pytorch_model.bin", gpt2_spec())(ids),
                     gpt2_reference(ids).logits)


def test_gpt2_padding_mask_matches(gpt2_reference, tmp_path):
    """A right-padded batch: the real tokens' logits agree with transformers given the mask."""
    gpt2_reference.save_pretrained(tmp_path)
    ids = tokens(100)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    with torch.no_grad():
        ours = load_model(tmp_path, gpt2_spec())(ids, attention_mask=mask)
        theirs = gpt2_reference(ids, attention_mask=mask).logits
    assert_close("tiny GPT-2 scrambled, padded batch", ours[1, :10], theirs[1, :10])


# ---- Llama (grouped-query, d_head apart from d_model) and BERT -------------------------------

def test_llama_grouped_query(tmp_path):
    from transformers import LlamaForCausalLM

    reference = scramble(LlamaForCausalLM(tiny_llama_config()), seed=2)
    reference.save_pretrained(tmp_path)
    spec = load_spec(str(tmp_path / "config.json"))
    assert (spec.n_heads, spec.n_kv_heads, spec.d_head, spec.rope_theta) == (4, 2, 16, 500000.0)
    ids = tokens(120, (2, 24))
    with torch.no_grad():
        assert_close("tiny Llama (GQA 4/2, d_head 16)", load_model(tmp_path, spec)(ids),
                     reference(ids).logits)


def test_bert_hidden_states_and_pooler(tmp_path):
    from transformers import BertModel

    reference = scramble(BertModel(tiny_bert_config()), seed=3)
    reference.save_pretrained(tmp_path)
    spec = load_spec(str(tmp_path / "config.json"))
    ids = tokens(90, (2, 20))
    mask = torch.ones_like(ids)
    mask[1, 15:] = 0
    types = torch.zeros_like(ids)
    types[:, 8:] = 1
    with torch.no_grad():
        hidden, pooled = load_model(tmp_path, spec)(ids, attention_mask=mask,
                                                    token_type_ids=types)
        theirs = reference(input_ids=ids, attention_mask=mask, token_type_ids=types)
    assert_close("tiny BERT last_hidden_state", hidden, theirs.last_hidden_state)
    assert_close("tiny BERT pooler_output", pooled, theirs.pooler_output)


# ---- real weights no one here wrote ----------------------------------------------------------

@needs_minilm
def test_all_minilm_l6_v2_real_weights():
    from transformers import BertModel

    spec = load_spec("all-minilm-l6-v2")
    reference = BertModel.from_pretrained(MINILM_DIR).eval()
    ids = tokens(spec.vocab_size, (2, 48))
    mask = torch.ones_like(ids)
    mask[1, 40:] = 0
    types = torch.zeros_like(ids)
    types[:, 24:] = 1
    with torch.no_grad():
        hidden, pooled = load_model(MINILM_DIR, spec)(ids, attention_mask=mask,
                                                      token_type_ids=types)
        theirs = reference(input_ids=ids, attention_mask=mask, token_type_ids=types)
    assert_close("all-MiniLM-L6-v2 last_hidden_state", hidden, theirs.last_hidden_state)
    assert_close("all-MiniLM-L6-v2 pooler_output", pooled, theirs.pooler_output)


@pytest.mark.slow
@needs_smollm2
def test_smollm2_135m_from_gguf():
    """Q4_1/Q8_0 dequantized by the gguf package, Q and K rows un-permuted from llama.cpp's
    order; transformers loads the same file with gguf_file= (its own dequantization)."""
    from transformers import AutoModelForCausalLM

    spec = load_spec("smollm2-135m")
    ids = tokens(spec.vocab_size, (1, 40))
    with torch.no_grad():
        ours = load_model(SMOLLM2_GGUF, spec)(ids)
        reference = AutoModelForCausalLM.from_pretrained(
            SMOLLM2_GGUF.parent, gguf_file=SMOLLM2_GGUF.name, dtype=torch.float32).eval()
        assert_close("SmolLM2-135M GGUF logits", ours, reference(ids).logits)


@pytest.mark.slow
def test_gpt2_124m_full_size_published_form(tmp_path):
    """The real shapes (12 layers, d_model 768, vocab 50,257, n_ctx 1024) in the published form,
    with transformers' own initialisation and biases/gains scrambled small."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(4)
    reference = GPT2LMHeadModel(GPT2Config()).eval()
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn(p.shape) * 0.02)
    state = published_gpt2_state(reference.state_dict(), 12, 1024)
    save_state(state, tmp_path / "model.safetensors")
    del state
    spec = load_spec("gpt2-124m")
    ids = tokens(spec.vocab_size, (1, 64))
    with torch.no_grad():
        assert_close("gpt2-124m full size, published form",
                     load_model(tmp_path / "model.safetensors", spec)(ids), reference(ids).logits)


# ---- `build --out`: transformers loads what we write -----------------------------------------

AUTO_CLASSES = {"gpt2": "GPT2LMHeadModel", "gpt3": "GPT2LMHeadModel", "llama": "LlamaForCausalLM",
                "bert": "BertModel"}


def _compare_with_transformers(what: str, folder, ours, spec) -> None:
    """from_pretrained(folder) with no missing, unexpected or mismatched key; same outputs."""
    from transformers import AutoModel, AutoModelForCausalLM

    auto = AutoModel if spec.architecture == "encoder" else AutoModelForCausalLM
    reference, info = auto.from_pretrained(folder, output_loading_info=True)
    assert {k: v for k, v in info.items() if v} == {}
    reference.eval()
    ids = tokens(spec.vocab_size, (2, 12))
    with torch.no_grad():
        if spec.architecture == "encoder":
            hidden, pooled = ours(ids)
            theirs = reference(ids)
            assert_close(f"{what} hidden", hidden, theirs.last_hidden_state)
            assert_close(f"{what} pooled", pooled, theirs.pooler_output)
        else:
            assert_close(what, ours(ids), reference(ids).logits)


@pytest.mark.parametrize("family", ["gpt2", "gpt3", "llama", "bert"])
def test_build_out_round_trip(family, tmp_path):
    """`build --out` (write_checkpoint): transformers loads the folder, and our model loaded from
    the same folder gives its outputs."""
    from inspector.building.checkpoint_writer import write_checkpoint

    spec = SPECS[family](tmp_path)
    written = write_checkpoint(spec, tmp_path / "out", seed=5)
    assert [p.name for p in written.files] == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architectures"] == [AUTO_CLASSES[family]]
    _compare_with_transformers(f"build --out round trip ({family})", tmp_path / "out",
                               load_model(tmp_path / "out", spec), spec)


@pytest.mark.parametrize("family", ["gpt2", "gpt3", "llama", "bert"])
def test_written_names_carry_every_value(family, tmp_path):
    """A model whose every parameter is random (biases, gains: nothing at its init value),
    written in hub layout: transformers' outputs equal this model's, so each value went to the
    right name, split and orientation."""
    from inspector.building.checkpoint_writer import write_model
    from inspector.building.transformer import build_model

    spec = SPECS[family](tmp_path)
    ours = scramble(build_model(spec, device="cpu"), seed=6)
    write_model(ours, tmp_path / "out")
    _compare_with_transformers(f"scrambled model written ({family})", tmp_path / "out", ours, spec)


def _spec_yaml(tmp_path, **fields):
    import yaml

    from inspector.spec.validation import spec_from_dict

    path = tmp_path / f"{fields['name']}.yaml"
    path.write_text(yaml.safe_dump(fields))
    return spec_from_dict(yaml.safe_load(path.read_text()), origin=str(path))


# Tiny specs of each family, with dense-only attention where transformers is the reference.
SPECS = {
    "gpt2": lambda tmp: _spec_yaml(
        tmp, name="tiny-gpt2", family="gpt2", source="test", vocab_size=100, n_ctx=16, d_model=32,
        n_layers=2, n_heads=4, d_ff=96, tied_embeddings=True,
        biases={"qkv": True, "attn_output": True, "mlp": True, "norm": True}),
    "gpt3": lambda tmp: _spec_yaml(
        tmp, name="tiny-gpt3", family="gpt3", source="test", vocab_size=100, n_ctx=32, d_model=48,
        n_layers=2, n_heads=4, d_head=12, d_ff=192, biases={"qkv": True, "attn_output": True,
                                                           "mlp": True, "norm": True},
        tied_embeddings=True),
    "llama": lambda tmp: _spec_yaml(
        tmp, name="tiny-llama", family="llama", source="test", vocab_size=120, n_ctx=64,
        d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_head=16, d_ff=80, activation="silu",
        gated_mlp=True, norm="rmsnorm", norm_eps=1e-6, position="rotary", rope_theta=500000.0,
        biases=False, tied_embeddings=False),
    "bert": lambda tmp: _spec_yaml(
        tmp, name="tiny-bert", family="bert", source="test", architecture="encoder",
        vocab_size=90, n_ctx=40, d_model=32, n_layers=2, n_heads=4, d_ff=64, activation="gelu",
        norm_placement="post", norm_eps=1e-12, embedding_norm=True, final_norm=False,
        type_vocab_size=2, pooler=True, biases=True),
}
