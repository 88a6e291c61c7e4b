"""The diagram page in a real headless browser (Debian's `chromium` with `chromedriver`, driven by
selenium): every role's boxes are on the rendered page and add up to that role's exact count,
the page asks the network for nothing, and a screenshot is saved.

The expected counts are transformers' (meta device, `num_parameters()`), the same numbers
tests/test_specs.py asserts for these shipped specs; each role's share is the role table's.
Skipped, saying why, when no chromium, chromedriver or selenium is installed (`.ci/run` installs
them, so CI always runs these)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import run_cli

from inspector.spec.describe import spec_rows
from inspector.spec.loading import load_spec
from inspector.vocab.tables import role_table

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    SELENIUM = True
except ImportError:
    SELENIUM = False

MISSING = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER),
                                    ("selenium", SELENIUM)) if not found]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"no headless browser ({', '.join(MISSING)} not installed): apt-get install -y"
           " chromium chromium-driver, and pip install -e '.[test]' (selenium); .ci/run does both")

# spec -> transformers' num_parameters() on the meta device (tests/test_specs.py's table):
# the counted total the page's boxes must add up to.
EXPECTED_TOTALS = {
    "gpt2-124m": 124_439_808,  # 50257 x 768 + 1024 x 768 + 12 x 7,087,872 + 2 x 768, tied head
    "gpt3-175b": 174_604_259_328,
    "llama2-70b": 68_976_648_192,
    "mixtral-8x7b": 46_702_792_704,
    "deepseek-v3": 671_026_404_352,  # latent attention: every one of its modules a box
    # an encoder-decoder: two stacks, the decoder's cross-attention and T5's position biases
    "t5-small": 60_506_624,
    "gpt-oss-120b": 116_829_156_672,  # attention sinks: one logit per head and layer
}


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def requests_made(driver) -> list[str]:
    """Every URL the page asked for, from the DevTools network log (the page itself aside)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def open_page(driver, path):
    driver.get_log("performance")  # forget the previous page's requests
    driver.get(path.as_uri())
    return driver


def boxes(driver) -> list[dict]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('g.box')).map(g => ({"
        " role: g.dataset.role, module: g.dataset.module, params: g.dataset.params,"
        " counted: g.dataset.counted, text: g.textContent,"
        " shown: g.getBoundingClientRect().width > 0}));")


@pytest.mark.parametrize("name", list(EXPECTED_TOTALS))
def test_every_role_box_with_its_exact_count(browser, tmp_path, name):
    out = tmp_path / f"{name}.html"
    assert run_cli("diagram", name, "--out", out).returncode == 0
    driver = open_page(browser, out)
    found = boxes(driver)
    assert all(b["shown"] for b in found)
    roles = role_table(spec_rows(load_spec(name)))
    for role in roles:
        mine = [b for b in found if b["role"] == role["role"]]
        assert mine, f"no box of role {role['role']}"
        assert sum(int(b["params"]) for b in mine) == role["parameters"], role
        for b in mine:  # the count is on the page as text, not only in an attribute
            assert f"{int(b['params']):,}" in b["text"], b
    assert sum(int(b["counted"]) for b in found) == EXPECTED_TOTALS[name]
    page_text = driver.find_element("tag name", "body").text
    assert f"{EXPECTED_TOTALS[name]:,} parameters" in page_text
    table = driver.execute_script(
        "return Array.from(document.querySelectorAll('table.roles tr[data-role]'))"
        ".map(r => [r.dataset.role, r.cells[1].textContent]);")
    assert table == [[r["role"], f"{r['parameters']:,}"] for r in roles]
    assert [u for u in requests_made(driver) if u != out.as_uri()] == []
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_the_pattern_and_the_experts_are_drawn(browser, tmp_path):
    """GPT-3: 96 layers alternating dense and local; Mixtral: 2 of 8 experts, 32 MoE layers."""
    gpt3, mixtral = tmp_path / "gpt3.html", tmp_path / "mixtral.html"
    run_cli("diagram", "gpt3-175b", "--out", gpt3)
    run_cli("diagram", "mixtral-8x7b", "--out", mixtral)
    driver = open_page(browser, gpt3)
    kinds = driver.execute_script(
        "return Array.from(document.querySelectorAll('.stack rect.cell'))"
        ".map(c => c.getAttribute('class'));")
    assert kinds == ["cell dense", "cell local"] * 48
    assert "96 heads of 128" in driver.find_element("tag name", "body").text
    driver = open_page(browser, mixtral)
    text = driver.find_element("tag name", "body").text
    assert "top 2 of 8 experts per token" in text
    assert "8 kv heads of 128" in text and "one per 4 Q heads (GQA)" in text
    assert driver.execute_script("return document.querySelectorAll('.cell.moe').length") == 32


def test_deepseek_latent_attention_and_dense_first_layers(browser, tmp_path):
    """DeepSeek-V3: the latent path's seven boxes and the output, in the order a token meets
    them (Q down and KV down side by side, their norms, Q / K / V up); the first three of 61
    layers dense, 58 mixture-of-experts (first_k_dense_replace 3)."""
    page = tmp_path / "deepseek.html"
    run_cli("diagram", "deepseek-v3", "--out", page)
    driver = open_page(browser, page)
    attention = [b for b in boxes(driver) if ".attn." in b["module"]]
    assert [b["module"].removeprefix("layers.{i}.attn.") for b in attention] == [
        "q_down", "kv_down", "q_down_norm", "kv_down_norm", "q_up", "key_up", "value_up",
        "output"]
    moe = driver.execute_script(
        "return Array.from(document.querySelectorAll('.stack rect.cell'))"
        ".map(c => c.classList.contains('moe'));")
    assert moe == [False] * 3 + [True] * 58
    text = driver.find_element("tag name", "body").text
    assert "multi-head latent attention" in text and "K: nope 128 + shared rope 64" in text


def test_t5_encoder_decoder_is_drawn_as_such(browser, tmp_path):
    """T5-Small: an encoder stack of 6 blocks (layers 0 to 5) and a decoder stack of 6 (6 to
    11); the block's boxes in the order a token meets them, the decoder's cross-attention (its
    norm, Q, K, V, output) after the self-attention and its position bias; both final norms."""
    page = tmp_path / "t5.html"
    run_cli("diagram", "t5-small", "--out", page)
    driver = open_page(browser, page)
    stacks = driver.execute_script(
        "return Array.from(document.querySelectorAll('g.stack'), g =>"
        " [g.dataset.part, g.querySelectorAll('rect.cell').length]);")
    assert stacks == [["encoder", 6], ["decoder", 6]]
    modules = [b["module"].removeprefix("layers.{i}.") for b in boxes(driver)]
    assert modules == [
        "embed", "encoder_norm", "final_norm", "unembed", "attn_norm", "attn.query", "attn.key",
        "attn.value", "attn.rel_bias", "attn.output", "cross_attn_norm", "cross_attn.query",
        "cross_attn.key", "cross_attn.value", "cross_attn.output", "mlp_norm", "mlp.up",
        "mlp.down"]
    text = driver.find_element("tag name", "body").text
    assert "one block: encoder × 6, decoder × 6" in text
    assert "decoder blocks only (× 6): attending to the encoder's output" in text
    assert "32 distance buckets × 8 heads," in text and "positions: relative" in text


# Every text of the picture with the rectangle it is drawn in (a box's, an operation's, a
# buffer's, the stack's), and every box's rectangle: as laid out by the browser.
LAYOUT = """
const svg = document.querySelector('svg.inspector-diagram');
const rect = e => { const r = e.getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom]; };
const texts = [];
for (const g of svg.querySelectorAll('g.box, g.op, g.buffer, g.stack')) {
  const frame = rect(g.querySelector('rect'));
  for (const t of g.querySelectorAll('text')) texts.push([t.textContent, rect(t), frame]);
}
return {texts: texts,
        boxes: Array.from(svg.querySelectorAll('g.box > rect'), r =>
          [r.parentNode.dataset.module, rect(r)])};
"""


@pytest.mark.parametrize("name", list(EXPECTED_TOTALS))
def test_no_text_leaves_its_box_and_no_boxes_overlap(browser, tmp_path, name):
    """Readable as laid out by a real browser's fonts: each line of text inside the rectangle
    it belongs to, and no two boxes on top of each other."""
    out = tmp_path / f"{name}.html"
    assert run_cli("diagram", name, "--out", out).returncode == 0
    layout = open_page(browser, out).execute_script(LAYOUT)
    outside = [(text, box, frame) for text, box, frame in layout["texts"]
               if box[0] < frame[0] or box[2] > frame[2] or box[1] < frame[1]
               or box[3] > frame[3]]
    assert outside == []
    drawn = layout["boxes"]
    overlapping = [(a, b) for i, (a, ra) in enumerate(drawn) for b, rb in drawn[i + 1:]
                   if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]]
    assert overlapping == []


@pytest.mark.parametrize("name", ["mixtral-8x7b", "deepseek-v3", "t5-small", "gpt-oss-120b"])
def test_screenshot(browser, tmp_path_factory, name):
    """A full-page PNG of a diagram, kept in pytest's temporary folder to look at."""
    out = tmp_path_factory.mktemp("screenshots")
    page = out / f"{name}.html"
    run_cli("diagram", name, "--out", page)
    driver = open_page(browser, page)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, height + 100)
    png = out / f"{name}.png"
    assert driver.save_screenshot(str(png))
    assert png.stat().st_size > 10_000
    print(f"screenshot: {png}")
    driver.set_window_size(1200, 900)
    assert os.path.getsize(png) > 0


def test_the_report_page(browser, tmp_path):
    """`report --format html` of GPT-2 124M as published: its role table and its diagram render,
    and nothing is fetched; the diagram's boxes add up to 124,439,808."""
    from gpt2_files import write_gpt2

    folder = write_gpt2(tmp_path / "gpt2", "published")
    result = run_cli("report", folder, "--spec", "gpt2-124m", "--format", "html")
    page = tmp_path / "report.html"
    page.write_text(result.stdout)
    driver = open_page(browser, page)
    assert sum(int(b["counted"]) for b in boxes(driver)) == EXPECTED_TOTALS["gpt2-124m"]
    assert "Verdict: match." in driver.find_element("tag name", "body").text
    assert [u for u in requests_made(driver) if u != page.as_uri()] == []
