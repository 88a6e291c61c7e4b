"""Text from files escaped for where it goes (issue 21, output): the terminal and every text format
(control, invisible and bidi characters shown as escapes), SVG and HTML (nothing XML forbids, so
a browser draws the picture), Markdown (a name is text in a pull-request comment, never markup or
an extra table cell); and an output failure named as output, not blamed on an input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from malformed_files import raw_safetensors

from inspector.output.markup import code_span, markdown_text, xml_text
from inspector.terminal import escape, printable

SVG = "{http://www.w3.org/2000/svg}"


def names_file(path: Path, names: list[str]) -> Path:
    """A safetensors file of one F32 value per name."""
    header = {n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
              for i, n in enumerate(names)}
    return raw_safetensors(path, header, bytes(4 * len(names)))


# --- the terminal and text formats ------------------------------------------------------------

@pytest.mark.parametrize("char, shown", [
    ("\u200b", "\\u200b"), ("\ufeff", "\\ufeff"), ("\u2060", "\\u2060"), ("\u00ad", "\\xad"),
    ("\u061c", "\\u061c"), ("\u200e", "\\u200e"), ("\u202e", "\\u202e"), ("\u2067", "\\u2067"),
    ("\x1b", "\\x1b"), ("\x85", "\\x85"), ("\u2028", "\\u2028"), ("\ud800", "\\ud800"),
    ("\ufffe", "\\ufffe"), ("\U000e0041", "\\U000e0041")])
def test_invisible_bidi_and_control_characters_are_shown_escaped(char, shown):
    assert escape(f"wte{char}.weight") == f"wte{shown}.weight"
    assert printable(f"a{char}\nb\t") == f"a{shown}\nb\t"  # the toolkit's own lines kept


def test_visible_text_of_any_script_is_kept():
    for text in ("中文.weight", "é", "a\xa0b", "model.layers.{i}.mlp", "x × y"):
        assert escape(text) == text == printable(text)


def test_a_zero_width_name_is_told_apart_in_table_csv_and_markdown(tmp_path):
    """`wte\u200b.weight` beside `wte.weight`: every text format shows the one that differs."""
    path = names_file(tmp_path / "model.safetensors", ["wte\u200b.weight", "a\u061cb"])
    for fmt in ("table", "csv", "markdown"):
        result = run_cli("inspect", path, "--by", "tensor", "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert "wte\\u200b.weight" in result.stdout and "a\\u061cb" in result.stdout
        assert "\u200b" not in result.stdout + result.stderr
        assert "\u061c" not in result.stdout + result.stderr
    # JSON escapes every non-ASCII character itself (\u200b): valid, lossless, nothing invisible
    result = run_cli("inspect", path, "--by", "tensor", "--format", "json")
    assert result.stdout.isascii()
    assert {r["tensor"] for r in json.loads(result.stdout)["tensor_rows"]} >= {"wte\u200b.weight"}


# --- SVG and HTML ------------------------------------------------------------------------------

def test_xml_text_holds_nothing_xml_forbids():
    text = "".join(map(chr, range(0x20))) + "\ud800\udfff\ufffe\uffff\x7f<&>\"'"
    shown = xml_text(text)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff<>]", shown)
    ET.fromstring(f'<t a="{shown}">{shown}</t>')  # well-formed, in content and in an attribute


@pytest.fixture(scope="module")
def hostile_config(tmp_path_factory) -> Path:
    """A GPT-2 config.json whose name holds what XML forbids, in a folder whose name does too."""
    folder = tmp_path_factory.mktemp("svg") / "m\x01dir"
    folder.mkdir()
    config = {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 32,
              "vocab_size": 100, "_name_or_path": "evil\x01\x1b[2J\ufffe\ud800\u202ename<&>"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "config.json"


def test_svg_and_page_are_well_formed_whatever_the_config_says(hostile_config, tmp_path):
    shown = "evil\\x01\\x1b[2J\\ufffe\\ud800\\u202ename<&>"
    svg, page = tmp_path / "x.svg", tmp_path / "x.html"
    for out in (svg, page):
        result = run_cli("diagram", hostile_config, "--out", out)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    title = ET.parse(svg).getroot().find(f"{SVG}title").text
    assert title.startswith(f"{shown}: ")
    html = page.read_text()
    ET.fromstring(re.search("<svg.*</svg>", html, re.DOTALL).group())
    assert "m\\x01dir" in html and "\x01" not in html and "\ufffe" not in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="no chromium: apt-get install -y chromium")
def test_chromium_draws_the_svg_without_a_parser_error(hostile_config, tmp_path):
    svg = tmp_path / "x.svg"
    assert run_cli("diagram", hostile_config, "--out", svg).returncode == 0
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", svg.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "parsererror" not in dom
    assert dom.startswith("<svg") and 'class="box' in dom


# --- Markdown -----------------------------------------------------------------------------------

HOSTILE_NAMES = ["<img src=x onerror=alert(1)>", "**FAKE: all checks passed**", "a | b | c",
                 "x`y``z", "@everyone see www.evil.example", "wte\u200b.weight"]


def test_code_span_survives_backticks_pipes_and_spaces():
    assert code_span("a`b") == "``a`b``"
    assert code_span("`a`") == "`` `a` ``"
    assert code_span("a | b", in_table=True) == "`a \\| b`"
    assert code_span(" a ") == "`  a  `"
    assert markdown_text("h.0.attn.c_attn.weight") == "h.0.attn.c_attn.weight"  # plain: as is
    assert markdown_text("model._orig") == "`model._orig`"  # an `_` that may open emphasis


def test_report_quotes_hostile_names_inertly(tmp_path):
    """The names are code spans in the notes; a check's problems quoting them are code spans
    whole; a table row keeps its cells; and the page made of the Markdown shows them as text."""
    from inspector.output.page import markdown_html

    path = names_file(tmp_path / "model.safetensors", HOSTILE_NAMES)
    result = run_cli("report", path, "--spec", "gpt2-124m")
    assert result.returncode == 1, result.stderr
    md = result.stdout
    assert ("- 6 tensors (6 values) match no generic name pattern: `<img src=x onerror=alert(1)>`,"
            " `**FAKE: all checks passed**`, `a | b | c` and 3 more; counted as 'unmapped'.") in md
    assert "- `'**FAKE: all checks passed**': no layout rule recognises this tensor`" in md
    assert "- ```'x`y``z': no layout rule recognises this tensor```" in md
    assert "- `'@everyone see www.evil.example': no layout rule recognises this tensor`" in md
    assert "- `'wte\\u200b.weight': no layout rule recognises this tensor`" in md
    html = markdown_html(md)
    assert "<img" not in html and "<strong>FAKE" not in html
    assert "<code>&#x27;x`y``z&#x27;: no layout rule recognises this tensor</code>" in html

    table = run_cli("inspect", path, "--by", "tensor", "--format", "markdown").stdout
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert "| `a \\| b \\| c` | unmapped |  | - | unmapped | 1 | F32 | 1 | 4 | - |" in rows
    assert "| ```x`y``z``` | unmapped |  | - | unmapped | 1 | F32 | 1 | 4 | - |" in rows
    cells = re.findall(r"<tr>(.*?)</tr>", markdown_html(table))
    assert {c.count("<td") for c in cells[1:]} == {cells[0].count("<th")}  # no extra cells
    assert any(c.startswith("<td><code>a | b | c</code></td>") for c in cells)


# --- output failures -----------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_stdout_is_named_as_the_output():
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "inspector", "count", "gpt2-124m"],
                              stdout=full, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr == "inspector: error: cannot write the output: No space left on device\n"


def test_a_closed_stdout_is_named_as_the_output():
    done = subprocess.run([sys.executable, "-m", "inspector", "specs"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                          preexec_fn=lambda: __import__("os").close(1))
    assert done.returncode == 2
    assert done.stderr == "inspector: error: cannot write the output: standard output is closed\n"


def test_what_the_output_encoding_cannot_hold_is_escaped(tmp_path):
    """stdout in latin-1 and a CJK name: printed as its escape (é, which latin-1 holds, as it is),
    as Python writes stderr."""
    path = names_file(tmp_path / "model.safetensors", ["中文.weight", "é"])
    done = subprocess.run([sys.executable, "-m", "inspector", "inspect", path, "--by", "tensor"],
                          capture_output=True, timeout=120, check=False,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                               "PYTHONIOENCODING": "latin-1"})
    stdout, stderr = done.stdout.decode("latin-1"), done.stderr.decode("latin-1")
    assert done.returncode == 0, stderr
    assert stderr.splitlines() == [
        (f"inspector: warning: {path}: 2 tensors (2 values) match no generic name pattern:"
        " '\\u4e2d\\u6587.weight', 'é'; counted as 'unmapped'")]
    lines = stdout.splitlines()
    rows = lines[lines.index(next(l for l in lines if l.startswith("tensor "))) + 2:][:2]
    assert rows[0].startswith("\\u4e2d\\u6587.weight ") and rows[1].startswith("é ")
