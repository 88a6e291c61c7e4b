"""`inspector diagram`: the boxes' counts, read back from the SVG it writes, and its contract.

Expected numbers are written from the architectures (GPT-2 124M: Radford et al. 2019 and
transformers' GPT2LMHeadModel; Mixtral: its config.json), the arithmetic in each docstring;
their totals are transformers' meta-device counts (tests/test_specs.py). The page in a real
browser is tests/test_diagram_browser.py's."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import run_cli
from family_cases.latent_and_sinks import CASES as LATENT_CASES

from inspector.spec.loading import load_spec, shipped_names

SVG = "{http://www.w3.org/2000/svg}"


def drawn_boxes(path) -> dict[str, dict]:
    """module -> the data attributes of its box in the SVG."""
    root = ET.parse(path).getroot()
    return {g.get("data-module"): {k.removeprefix("data-"): v for k, v in g.attrib.items()}
            for g in root.iter(f"{SVG}g") if "box" in g.get("class", "").split()}


def draw(tmp_path, *args: str, name: str = "out.svg"):
    out = tmp_path / name
    result = run_cli("diagram", *args, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return out


def test_gpt2_124m_boxes(tmp_path):
    """GPT-2 124M, d 768, 12 layers, vocab 50,257, 1,024 positions, MLP 3,072, biases everywhere:
    embedding 50,257 x 768 = 38,597,376; positions 1,024 x 768 = 786,432; Q, K, V and the output
    each 12 x (768 x 768 + 768) = 12 x 590,592 = 7,087,104; up 12 x (3,072 x 768 + 3,072) =
    28,348,416; down 12 x (768 x 3,072 + 768) = 28,320,768; each block norm 12 x 1,536 = 18,432;
    final norm 1,536; the unembedding is the embedding (tied): shown at 38,597,376, counted 0.
    Counted: 39,383,808 + 12 x 7,087,872 + 1,536 = 124,439,808."""
    boxes = drawn_boxes(draw(tmp_path, "gpt2-124m"))
    expected = {
        "embed": 38_597_376, "pos": 786_432,
        "layers.{i}.attn_norm": 18_432, "layers.{i}.attn.query": 7_087_104,
        "layers.{i}.attn.key": 7_087_104, "layers.{i}.attn.value": 7_087_104,
        "layers.{i}.attn.output": 7_087_104, "layers.{i}.mlp_norm": 18_432,
        "layers.{i}.mlp.up": 28_348_416, "layers.{i}.mlp.down": 28_320_768,
        "final_norm": 1_536, "unembed": 38_597_376,
    }
    assert {k: int(b["params"]) for k, b in boxes.items()} == expected
    assert boxes["unembed"]["tied"] == "embedding" and boxes["unembed"]["counted"] == "0"
    assert sum(int(b["counted"]) for b in boxes.values()) == 124_439_808


def test_mixtral_experts_are_one_box_per_projection(tmp_path):
    """Mixtral 8x7B: 32 layers of 8 experts of 14,336 (d 4,096, no biases): each projection
    8 x 32 x 14,336 x 4,096 = 256 x 58,720,256 = 15,032,385,536; the router 32 x 8 x 4,096 =
    1,048,576; K and V 32 x 1,024 x 4,096 = 134,217,728 (8 kv heads of 128). Counted total
    46,702,792,704."""
    out = draw(tmp_path, "mixtral-8x7b")
    boxes = drawn_boxes(out)
    for part in ("gate", "up", "down"):
        assert int(boxes[f"layers.{{i}}.mlp.experts.{{e}}.{part}"]["params"]) == 15_032_385_536
    assert int(boxes["layers.{i}.mlp.router"]["params"]) == 1_048_576
    assert int(boxes["layers.{i}.attn.key"]["params"]) == 134_217_728
    assert sum(int(b["counted"]) for b in boxes.values()) == 46_702_792_704
    text = out.read_text()
    assert "58,720,256 each" in text and "× 8 experts × 32 layers =" in text
    assert "top 2 of 8 experts per token" in text
    assert "8 kv heads of 128" in text and "one per 4 Q heads (GQA)" in text


def test_the_layer_pattern_is_drawn_and_said(tmp_path):
    """GPT-3 175B alternates dense and locally banded layers (Brown et al. 2020, section 2.1)."""
    text = draw(tmp_path, "gpt3-175b").read_text()
    assert text.count('class="cell dense"') == 48 and text.count('class="cell local"') == 48
    assert "attention: dense / local (window 256), alternating" in text
    assert "96 heads of 128" in text


def test_html_page_is_self_contained(tmp_path):
    page = draw(tmp_path, "llama2-70b", name="llama.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "default-src 'none'" in page  # the browser itself refuses any fetch
    for outside in ("http://", "https://", "src=", "href=", "@import", "url(http"):
        assert outside not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert '<tr data-role="query" data-params="5368709120">' in page


def test_a_checkpoint_s_buffers_are_drawn_apart(tmp_path):
    """GPT-2 124M as the hub published it: 12 causal masks `h.N.attn.bias` of 1 x 1 x 1,024 x
    1,024 = 1,048,576 values (12,582,912 in all), buffers, not parameters; the parameters still
    124,439,808, and checked against gpt2-124m nothing is marked."""
    from gpt2_files import write_gpt2

    folder = write_gpt2(tmp_path / "gpt2", "published")
    page = draw(tmp_path, str(folder), "--spec", "gpt2-124m", name="gpt2.html").read_text()
    assert ('data-buffer="h.N.attn.bias" data-values="12582912"' in page
            and "h.N.attn.bias: 12 tensors, 12,582,912 values" in page)
    assert "12 tensors, 12,582,912 values (not parameters)" in page
    assert "gpt2-124m: match" in page and "MISMATCH" not in page
    svg = draw(tmp_path, str(folder), name="gpt2.svg")
    assert sum(int(b["counted"]) for b in drawn_boxes(svg).values()) == 124_439_808


def test_a_checkpoint_checked_against_another_spec(tmp_path, tiny_gpt2_dir):
    """The tiny GPT-2 (2 layers, d 32, 4 heads, vocab 100, 16 positions), as transformers saved
    it: embedding 100 x 32 = 3,200, positions 16 x 32 = 512, Q 2 x (32 x 32 + 32) = 2,112.
    Checked against gpt2-124m, every role differs and each box says by how much: the embedding
    3,200 against 38,597,376 is -38,594,176."""
    out = draw(tmp_path, str(tiny_gpt2_dir), "--spec", "gpt2-124m", name="tiny.html")
    page = out.read_text()
    assert ("MISMATCH (all embedding): spec 38,597,376 found 3,200 difference -38,594,176"
            in page)  # the role table's note
    assert ">difference -38,594,176</text>" in page  # and the embedding's box
    assert 'class="box embedding mismatch"' in page
    svg = draw(tmp_path, str(tiny_gpt2_dir), name="tiny.svg")
    boxes = drawn_boxes(svg)
    assert int(boxes["embed"]["params"]) == 3_200 and int(boxes["pos"]["params"]) == 512
    assert int(boxes["layers.{i}.attn.query"]["params"]) == 2_112
    assert "MISMATCH" not in svg.read_text()


@pytest.mark.parametrize("args", [
    ("gpt2-124m", "--out", "picture.png"),
    ("no-such-spec", "--out", "x.html"),
    ("gpt2-124m", "--spec", "gpt2-124m", "--out", "x.html"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args):
    result = run_cli("diagram", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not list(tmp_path.iterdir())


def test_report_as_one_html_page(tmp_path):
    """`report --format html`: the Markdown report's content and the diagram, one page. GPT-2
    124M as published matches gpt2-124m: the verdict in bold, the role table's query row
    7,077,888 weights + 9,216 biases = 7,087,104 (12 x 590,592), and the diagram's Q box."""
    from gpt2_files import write_gpt2

    folder = write_gpt2(tmp_path / "gpt2", "published")
    result = run_cli("report", folder, "--spec", "gpt2-124m", "--format", "html")
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert page.startswith("<!doctype html>") and "default-src 'none'" in page
    assert "<strong>Verdict: match.</strong>" in page
    assert ('<tr><td>query</td><td class="n">7,077,888</td><td class="n">9,216</td>'
            '<td class="n">7,087,104</td>') in page
    assert 'data-module="layers.{i}.attn.query" data-params="7087104"' in page
    assert "<h3>Architecture</h3>" in page
    markdown = run_cli("report", folder, "--spec", "gpt2-124m").stdout
    assert markdown.startswith("## inspector: ")  # Markdown stays the default


def test_markdown_html_escapes_what_files_say():
    """A name from a file is text on the page, never markup."""
    from inspector.output.page import markdown_html

    html = markdown_html("## a `<b>` **<i>**\n\n| name | n |\n|---|---:|\n| <script> | 1 |\n"
                         "- x & y")
    assert html == ("<h2>a <code>&lt;b&gt;</code> <strong>&lt;i&gt;</strong></h2>\n"
                    '<table><thead><tr><th>name</th><th class="n">n</th></tr></thead><tbody>'
                    '<tr><td>&lt;script&gt;</td><td class="n">1</td></tr></tbody></table>\n'
                    "<ul><li>x &amp; y</li></ul>")


def test_a_role_the_checkpoint_lacks_is_listed(tmp_path):
    """SmolLM2-135M (rotary: no position table) checked against gpt2-124m, whose learned
    positions are 1,024 x 768 = 786,432: the role table lists position as absent, found 0."""
    from inspector.building.hole_files import write_hole_checkpoint
    from inspector.spec.loading import load_spec

    folder = write_hole_checkpoint(tmp_path / "smol", load_spec("smollm2-135m"), "BF16")
    page = draw(tmp_path, str(folder), "--spec", "gpt2-124m", name="smol.html").read_text()
    assert ('<tr class="mismatch"><td>position</td><td class="n">0</td><td></td><td>absent:'
            " MISMATCH (all position): spec 786,432 found 0 difference -786,432</td></tr>") in page


def test_deepseek_v3_latent_attention_boxes(tmp_path):
    """DeepSeek-V3's multi-head latent attention, each module a box (config.json of
    deepseek-ai/DeepSeek-V3: d 7,168, 61 layers, 128 heads, q_lora_rank 1,536, kv_lora_rank 512,
    qk_nope 128, qk_rope 64, v_head 128, no biases):
    Q down 1,536 x 7,168 = 11,010,048, x 61 = 671,612,928; its norm 61 x 1,536 = 93,696;
    Q up 128 x (128 + 64) = 24,576 rows of 1,536 = 37,748,736, x 61 = 2,302,672,896;
    KV down (512 + 64) x 7,168 = 4,128,768, x 61 = 251,854,848; its norm 61 x 512 = 31,232;
    kv_b_proj's 128 x (128 + 128) rows of 512, cut per head: K up 128 x 128 = 16,384 rows,
    16,384 x 512 = 8,388,608, x 61 = 511,705,088, and V up the same 511,705,088;
    output 7,168 x 128 x 128 = 117,440,512, x 61 = 7,163,871,232.
    All boxes add up to transformers' 671,026,404,352 (tests/test_specs.py)."""
    out = draw(tmp_path, "deepseek-v3")
    boxes = drawn_boxes(out)
    attention = {k.removeprefix("layers.{i}.attn."): int(b["params"]) for k, b in boxes.items()
                 if k.startswith("layers.{i}.attn.")}
    assert attention == {
        "q_down": 671_612_928, "q_down_norm": 93_696, "q_up": 2_302_672_896,
        "kv_down": 251_854_848, "kv_down_norm": 31_232,
        "key_up": 511_705_088, "value_up": 511_705_088, "output": 7_163_871_232}
    assert sum(int(b["counted"]) for b in boxes.values()) == 671_026_404_352
    labels = {g.get("data-module"): g.get("aria-label") for g in ET.parse(out).getroot().iter()
              if g.get("data-module")}
    assert labels["layers.{i}.attn.q_up"] == (
        "Q up-projection; latent 1,536 → 128 heads; Q: nope 128 + rope 64 a head;"
        " 24,576 × 1,536; 37,748,736 each; × 61 layers =; 2,302,672,896 (0.34%)")
    assert labels["layers.{i}.attn.kv_down"].startswith(
        "KV down-projection; d 7,168 → latent 512 + rope 64;"
        " rope 64: one key part all heads share; 576 × 7,168; 4,128,768 each")
    assert "K: nope 128 + shared rope 64; 16,384 × 512" in labels["layers.{i}.attn.key_up"]
    assert "V: 128 a head; 16,384 × 512" in labels["layers.{i}.attn.value_up"]
    assert labels["layers.{i}.attn.output"].startswith(
        "output projection; 128 heads × V 128 → d 7,168; 7,168 × 16,384")
    text = out.read_text()
    assert "K = [nope 128 | rotary rope 64, shared]" in text and "√192" in text
    # the first three layers dense (first_k_dense_replace 3), then 58 mixture-of-experts layers
    assert text.count('class="cell dense"') == 3 and text.count('class="cell dense moe"') == 58
    assert "MoE in every layer but 0, 1, 2 (dense MLP)" in text
    assert "× 3 layers =" in labels["layers.{i}.mlp.up"]
    assert "× 58 layers =" in labels["layers.{i}.mlp.router"]


def transformers_attention(model, config) -> dict[str, int]:
    """transformers' DeepseekV3Attention parameters summed over the layers, under inspector's
    module names; kv_b_proj viewed [heads, nope + v, rank] as its forward views its output:
    each head's first qk_nope rows are key_up's, the other v_head value_up's."""
    names = {"q_a_proj": "q_down", "q_a_layernorm": "q_down_norm", "q_b_proj": "q_up",
             "q_proj": "query", "kv_a_proj_with_mqa": "kv_down",
             "kv_a_layernorm": "kv_down_norm", "o_proj": "output"}
    nope = config.qk_nope_head_dim
    sums: dict[str, int] = {}
    for name, p in model.named_parameters():
        if ".self_attn." not in name:
            continue
        module = name.split(".self_attn.")[1].rsplit(".", 1)[0]
        if module == "kv_b_proj":
            heads = p.view(config.num_attention_heads, nope + config.v_head_dim, -1)
            parts = {"key_up": heads[:, :nope].numel(), "value_up": heads[:, nope:].numel()}
        else:
            parts = {names[module]: p.numel()}
        for key, n in parts.items():
            sums[key] = sums.get(key, 0) + n
    return sums


def meta_model(case):
    import warnings

    import torch
    import transformers

    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.AutoModelForCausalLM.from_config(config), config


DEEPSEEK_CASES = [case for case in LATENT_CASES if case.model_type == "deepseek_v3"]


@pytest.mark.parametrize("case", DEEPSEEK_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("source", ["config.json", "checkpoint"])
def test_latent_attention_boxes_equal_transformers_modules(tmp_path, case, source):
    """A small DeepSeek-V3 (d 32, 2 layers, 4 heads, q_lora_rank 24 (or none: one q_proj, with
    attention biases), kv_lora_rank 16, nope 8, rope 4, v 6), drawn from its config.json and from
    a header-only checkpoint of transformers' tensors: each latent-attention box holds what
    transformers' module of that name holds, summed over layers (q_a_proj 2 x 24 x 32 = 1,536,
    kv_b_proj 2 x 4 x (8 + 6) x 16 = 1,792 = K up 1,024 + V up 768), and the boxes add up to
    num_parameters()."""
    from quantized_files import write_safetensors

    model, config = meta_model(case)
    folder = tmp_path / "model"
    config.save_pretrained(folder)
    if source == "checkpoint":
        write_safetensors(folder / "model.safetensors",
                          {n: ("F32", tuple(p.shape)) for n, p in model.state_dict().items()})
        drawn = draw(tmp_path, str(folder))
    else:
        drawn = draw(tmp_path, str(folder / "config.json"))
    boxes = drawn_boxes(drawn)
    attention = {k.removeprefix("layers.{i}.attn."): int(b["params"]) for k, b in boxes.items()
                 if k.startswith("layers.{i}.attn.")}
    assert attention == transformers_attention(model, config)
    if case.config["q_lora_rank"]:
        assert attention["q_down"] == 1_536 and attention["key_up"] + attention["value_up"] == 1_792
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters()


def test_deepseek_multi_token_prediction_is_a_box_apart(tmp_path):
    """The published files' multi-token-prediction module, stored as layer num_hidden_layers (2
    here): a decoder layer (transformers' layer 1's parameters), enorm, hnorm, shared_head.norm
    (d each), eh_proj (d x 2d), shared_head.head and embed_tokens (vocab x d each). It is one box
    beside the language model, of layer_one + 3d + 2d^2 + 2vd, and the blocks stay 2 layers."""
    from quantized_files import write_safetensors

    model, config = meta_model(DEEPSEEK_CASES[0])
    d, v = config.hidden_size, config.vocab_size
    state = {n: ("F32", tuple(p.shape)) for n, p in model.state_dict().items()}
    own = {"enorm.weight": (d,), "hnorm.weight": (d,), "eh_proj.weight": (d, 2 * d),
           "shared_head.norm.weight": (d,), "shared_head.head.weight": (v, d),
           "embed_tokens.weight": (v, d)}
    mtp = {**{n.replace("layers.1.", "layers.2."): s for n, s in state.items()
              if n.startswith("model.layers.1.")},
           **{f"model.layers.2.{n}": ("F32", s) for n, s in own.items()}}
    folder = tmp_path / "model"
    config.save_pretrained(folder)
    write_safetensors(folder / "model.safetensors", {**state, **mtp})
    boxes = drawn_boxes(draw(tmp_path, str(folder)))
    layer_one = sum(p.numel() for n, p in model.named_parameters() if ".layers.1." in n)
    in_mtp = layer_one + 3 * d + 2 * d * d + 2 * v * d
    assert (int(boxes["component:mtp"]["params"]), boxes["component:mtp"]["role"]) == (in_mtp,
                                                                                      "mtp")
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters() + in_mtp
    q_down = config.q_lora_rank * d
    assert int(boxes["layers.{i}.attn.q_down"]["params"]) == 2 * q_down  # 2 layers, not 3


def test_a_multimodal_checkpoint_s_towers_are_boxes_apart(tmp_path):
    """LLaVA of tests/test_components.py (a 2-layer Llama text model of width 32 beside a 2-layer
    CLIP vision tower and a projector), as save_pretrained writes it: the blocks are the text
    model's 2 layers (Q 2 x 32 x 32 = 2,048), the vision tower and the projector one box each of
    transformers' model.vision_tower and model.multi_modal_projector parameters, and all boxes
    add up to num_parameters()."""
    from test_components import _component_counts, _saved

    model = _saved("llava", tmp_path / "llava")
    boxes = drawn_boxes(draw(tmp_path, str(tmp_path / "llava")))
    expected = _component_counts(model, "llava")
    assert [k for k in boxes if k.startswith("component:")] == ["component:vision",
                                                               "component:projector"]
    assert int(boxes["component:vision"]["params"]) == expected["vision"]
    assert int(boxes["component:projector"]["params"]) == expected["projector"]
    assert int(boxes["layers.{i}.attn.query"]["params"]) == 2_048
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters()
    # the page's role table: one row per component and role, the component named
    import re

    page = draw(tmp_path, str(tmp_path / "llava"), name="llava.html").read_text(encoding="utf-8")
    table = page[page.index('<table class="roles">'):]
    assert "<th>component</th><th>role</th>" in table
    by_part: dict[str, int] = {}
    for part, params in re.findall(r'data-component="(\w+)" data-params="(\d+)"', table):
        by_part[part] = by_part.get(part, 0) + int(params)
    assert by_part["vision"] == expected["vision"]
    assert by_part["projector"] == expected["projector"]


@pytest.mark.parametrize("name", shipped_names())
def test_every_box_with_weights_is_drawn(name):
    """Every shipped spec: each module with learned weights is a box in the picture, and the
    boxes' counted parameters add up to the spec's total (the sum of its analytic rows, which
    tests/test_specs.py checks against transformers' num_parameters() for every shipped spec):
    T5's cross-attention, position biases and encoder norm, gpt-oss's attention sinks
    included."""
    from inspector.output import diagram
    from inspector.spec.describe import spec_rows
    from inspector.vocab.tables import total

    spec = load_spec(name)
    rows = spec_rows(spec)
    d = diagram.drawing(rows, diagram.model_of_spec(spec))
    root = ET.fromstring(diagram.svg(d, name))
    drawn = {g.get("data-module"): int(g.get("data-counted")) for g in root.iter(f"{SVG}g")
             if "box" in g.get("class", "").split()}
    assert set(drawn) == set(d.boxes)
    assert sum(drawn.values()) == total(rows)


def t5_modules(model) -> tuple[dict[str, int], dict[str, int]]:
    """transformers' T5 parameters summed over blocks, under the diagram's module names (the
    decoder's EncDecAttention q, k, v, o and its norm, the relative_attention_bias tables, both
    final norms), and each stack's blocks summed."""
    modules: dict[str, int] = {}
    stacks: dict[str, int] = {}
    cross = {"q": "query", "k": "key", "v": "value", "o": "output"}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = None
        if ".EncDecAttention." in name:
            key = f"layers.{{i}}.cross_attn.{cross[parts[-2]]}"
        elif name.startswith("decoder.block.") and ".layer.1.layer_norm." in name:
            key = "layers.{i}.cross_attn_norm"
        elif "relative_attention_bias" in name:
            key = "layers.{i}.attn.rel_bias"
        elif name.endswith("final_layer_norm.weight"):
            key = {"encoder": "encoder_norm", "decoder": "final_norm"}[parts[0]]
        if key:
            modules[key] = modules.get(key, 0) + p.numel()
        if ".block." in name:
            stacks[parts[0]] = stacks.get(parts[0], 0) + p.numel()
    return modules, stacks


@pytest.mark.parametrize("source", ["config.json", "names alone"])
def test_t5_encoder_decoder_boxes_equal_transformers_modules(tmp_path, source):
    """A tiny T5 (tests/test_layouts.py: d 32, 4 heads of 6 (inner 24), MLP 64, 8 buckets,
    vocab 100) with 2 encoder and 3 decoder blocks, saved by transformers, drawn with its
    config.json and from the tensor names alone. Each box holds what transformers' modules of
    that name hold: cross-attention Q, K, V 3 x 24 x 32 = 2,304 each, its output 3 x 32 x 24 =
    2,304, its norm 3 x 32 = 96 (EncDecAttention and layer.1.layer_norm of the decoder blocks);
    the relative position bias 2 x 8 x 4 = 64 (each stack's first block); the encoder's and
    the decoder's final norms 32 each. The stacks: encoder blocks 2 x (2 x 32 + 4 x 768 +
    2 x 2,048) + 32 = 14,496, decoder blocks 3 x (3 x 32 + 8 x 768 + 2 x 2,048) + 32 = 31,040.
    All boxes add up to num_parameters() (48,800)."""
    from test_layouts import tiny_t5

    model = tiny_t5(num_decoder_layers=3)
    model.save_pretrained(tmp_path / "t5")
    if source == "names alone":
        (tmp_path / "t5" / "config.json").unlink()
    out = draw(tmp_path, str(tmp_path / "t5"))
    boxes = drawn_boxes(out)
    modules, blocks = t5_modules(model)
    drawn = {k: int(boxes[k]["params"]) for k in modules if k in boxes}
    assert drawn == modules
    assert drawn["layers.{i}.cross_attn.query"] == 2_304 and drawn["layers.{i}.attn.rel_bias"] == 64
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters() == 48_800
    stacks = {g.get("data-part"): int(g.get("data-params"))
              for g in ET.parse(out).getroot().iter(f"{SVG}g") if g.get("class") == "stack"}
    assert stacks == blocks == {"encoder": 14_496, "decoder": 31_040}
    text = out.read_text()
    assert "one block: encoder × 2, decoder × 3" in text
    assert "decoder blocks only (× 3): attending to the encoder&#x27;s output" in text
    assert "8 distance buckets × 4 heads," in text and "decoder final norm" in text


@pytest.mark.parametrize("case", [c for c in LATENT_CASES if c.model_type == "gpt_oss"],
                         ids=lambda c: c.name)
def test_gpt_oss_sinks_box_equals_transformers(tmp_path, case):
    """gpt-oss's attention sinks (self_attn.sinks, one logit per head): a box of transformers'
    sinks summed over layers, 2 layers x 4 heads = 8 here, and all boxes add up to
    num_parameters(). The published 120B: 36 layers x 64 heads = 2,304."""
    from quantized_files import write_safetensors

    model, config = meta_model(case)
    folder = tmp_path / "model"
    config.save_pretrained(folder)
    write_safetensors(folder / "model.safetensors",
                      {n: ("F32", tuple(p.shape)) for n, p in model.state_dict().items()})
    boxes = drawn_boxes(draw(tmp_path, str(folder)))
    sinks = sum(p.numel() for n, p in model.named_parameters() if n.endswith(".sinks"))
    assert int(boxes["layers.{i}.attn.sinks"]["params"]) == sinks == 8
    assert sum(int(b["counted"]) for b in boxes.values()) == model.num_parameters()
    assert int(drawn_boxes(draw(tmp_path, "gpt-oss-120b"))["layers.{i}.attn.sinks"]["params"]) \
        == 2_304


def test_the_readme_picture_is_current(tmp_path):
    """docs/gpt3-175b.svg, shown in the README, is what `inspector diagram gpt3-175b` draws
    today (regenerate it with that command when the drawing changes)."""
    from conftest import REPO

    drawn = draw(tmp_path, "gpt3-175b", name="gpt3-175b.svg").read_text(encoding="utf-8")
    assert (REPO / "docs" / "gpt3-175b.svg").read_text(encoding="utf-8") == drawn
    assert "174,604,259,328" in drawn
