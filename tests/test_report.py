"""`inspector report`: Markdown for a pull request, with the verdict, costs and only the notes that
apply to the checkpoint, in its own numbers."""

import pytest
from conftest import MINILM_DIR, SMOLLM2_GGUF, needs_minilm, needs_smollm2, run_cli
from gpt2_files import write_gpt2

from inspector.checkpoint.inspection import inspect_source
from inspector.output.report import buffer_groups, notes


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """GPT-2 124M as the hub published it: 12 h.N.attn.bias masks, no lm_head (header only)."""
    return write_gpt2(tmp_path_factory.mktemp("published"), form="published")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """GPT-2 124M as new transformers saves it: `transformer.` prefix, no masks."""
    return write_gpt2(tmp_path_factory.mktemp("saved"))


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """GPT-2 124M whose MLP is 3000 wide instead of 3072."""
    return write_gpt2(tmp_path_factory.mktemp("wide"), n_inner=3000)


def test_published_gpt2_matches_with_its_surprises_explained(published):
    """Stored values 124,439,808 + 12 masks x 1024 x 1024 = 137,022,720; with the tied
    unembedding counted twice 124,439,808 + 50257 x 768 = 163,037,184."""
    result = run_cli("report", published, "--spec", "gpt2-124m")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith(f"## inspector: `{published}`")
    assert "**Verdict: match.** Every role matches spec `gpt2-124m` (124,439,808 parameters)." in md
    assert "| embedding | 38,597,376 | 0 | 38,597,376 | - | 38,597,376 | yes |" in md
    assert "| unembedding | 38,597,376 | 0 | 38,597,376 | embedding | 38,597,376 | yes |" in md
    assert ("- 137,022,720 stored values vs 124,439,808 parameters: 12 causal-mask buffers"
            " h.N.attn.bias of 1,048,576 values each are not parameters") in md
    assert "- 163,037,184 if the tied unembedding were counted twice" in md
    assert "| h.N.attn.bias | causal-mask | 12 | 1,048,576 | 12,582,912 | F32 |" in md
    assert "| KV cache per token fp16/bf16 | 36,864 | bytes |" in md
    assert "| forward per token | 266,181,120 | FLOPs |" in md


def test_only_the_notes_that_apply(saved, published):
    """transformers' form has no masks: no buffer note. Neither has grouped-query heads,
    quantized tensors or unmapped names. Both tie the unembedding and fuse c_attn."""
    saved_notes = notes(inspect_source(str(saved)))
    assert not any("stored values vs" in n for n in saved_notes)
    assert any(n.startswith("163,037,184 if the tied unembedding") for n in saved_notes)
    assert any(n.startswith("'transformer.h.N.attn.c_attn.weight' (12 tensors) is one stored"
                            " [768, 2304] tensor shown as 3 rows (query, key, value) of"
                            " [768, 768] each") for n in saved_notes)
    for absent in ("Grouped-query", "Quantized", "match no rule"):
        assert not any(absent in n for n in saved_notes + notes(inspect_source(str(published))))
    assert buffer_groups(inspect_source(str(saved))) == []


def test_mismatch_exits_1_with_the_problems(wide):
    """up: 12 x 3000 x 768 = 27,648,000 weights + 12 x 3000 = 36,000 biases = 27,684,000,
    expected 12 x (3072 x 768 + 3072) = 28,348,416."""
    result = run_cli("report", wide, "--spec", "gpt2-124m")
    assert result.returncode == 1
    md = result.stdout
    assert "**Verdict: MISMATCH** against spec `gpt2-124m`: roles up, down differ" in md
    assert "| up | 27,648,000 | 36,000 | 27,684,000 | - | 28,348,416 | NO |" in md
    assert ("- layers.0.mlp.up.weight (up): expected [3072, 768], found [3000, 768] in"
            " 'transformer.h.0.mlp.c_fc.weight'") in md
    # The cause first (issue 23): d_ff, then the 36 tensors it changes; 20 problems shown.
    assert "\n- d_ff: spec 3,072, checkpoint 3,000\n- layers.0.mlp.up.weight (up)" in md
    assert "<details><summary>17 more problems</summary>" in md
    # The checkpoint is described by its own config.json, not by the spec it fails.
    assert "d_ff 3,000" in md


def test_without_spec_exit_0_and_costs_from_config(wide):
    result = run_cli("report", wide)
    assert result.returncode == 0
    assert "Verdict" not in result.stdout
    assert "### Costs (from the config.json)" in result.stdout


def test_bad_input_is_one_line_exit_2(tmp_path):
    result = run_cli("report", tmp_path / "missing.safetensors")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "missing.safetensors" in result.stderr


@needs_minilm
def test_all_minilm_report():
    """22,713,216 parameters + the 512-value I64 position_ids buffer = 22,713,728 stored values.
    Lookup tables 11,720,448 + 196,608 + 768 = 11,917,824 = 52.5% of 22,713,216."""
    result = run_cli("report", MINILM_DIR, "--spec", "all-minilm-l6-v2")
    assert result.returncode == 0
    md = result.stdout
    assert ("22,713,728 stored values vs 22,713,216 parameters: 1 position-index buffer"
            " embeddings.position_ids of 512 values is not a parameter") in md
    assert "Embedding tables hold 52.5% of the parameters" in md
    assert "the model has 10,795,392" in md
    assert "tied unembedding" not in md and "Grouped-query" not in md
    assert "an encoder caches no keys or values" in md


@needs_smollm2
def test_smollm2_report():
    """9 query heads share 3 key-value heads: key = value = 30 x 192 x 576 = 3,317,760, a third
    of query 30 x 576 x 576 = 9,953,280. Tied: 134,515,008 + 49152 x 576 = 162,826,560."""
    result = run_cli("report", SMOLLM2_GGUF, "--spec", "smollm2-135m")
    assert result.returncode == 0
    md = result.stdout
    assert ("Grouped-query attention: 3 key-value heads serve 9 query heads, so key (3,317,760)"
            " and value (3,317,760) are each 1/3 the size of query (9,953,280)") in md
    assert "162,826,560 if the tied unembedding were counted twice" in md
    assert "- Quantized: " in md and "Q4_1 x210" in md
    assert "| KV cache per token fp16/bf16 | 23,040 | bytes |" in md  # 2 x 30 x 3 x 64 x 2
