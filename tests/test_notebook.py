"""docs/notebook.ipynb, executed as a reader would run it (nbclient and a Python kernel), in a
temporary folder so the committed notebook and the repository are never written. Its own cells
assert what must hold (the meta-built GPT-3's torch count equals the arithmetic; the checkpoint
matches its own config.json); here, the figures each cell shows."""

from __future__ import annotations

from conftest import REPO

NOTEBOOK = REPO / "docs" / "notebook.ipynb"


def _shown(cell) -> str:
    """What a code cell shows: its text outputs and printed lines."""
    parts = []
    for out in cell.outputs:
        assert out.output_type != "error", f"{out.ename}: {out.evalue}"
        if out.output_type == "stream" and out.name == "stdout":
            parts.append(out.text)
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def test_the_notebook_runs(tmp_path):
    """GPT-3 175B: 174,604,259,328 parameters, tied (Brown et al. 2020, Table 2.1; the
    unembedding once). Mixtral 8x7B: 46,702,792,704 and 12,879,925,248 active (see
    test_api). The notebook's GPT-2 (vocab 1000, n_ctx 64, d 64, 2 layers, d_ff 256):
    outside the blocks 1000 x 64 + 64 x 64 + (64 + 64) = 68,224; a block (64 + 64) x 2
    + (64 x 192 + 192) + (64 x 64 + 64) + (64 x 256 + 256) + (256 x 64 + 64) = 49,984;
    68,224 + 2 x 49,984 = 168,192; 204 problems against GPT-2 124M: first the 7 sizes that
    differ (n_layers, d_model, vocab_size, d_ff, n_heads, n_kv_heads, d_head), then 197 tensors
    (the shape of every one of its tensors but none it lacks). Its diagram page is written into the
    working folder."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "work"  # the kernel's folder: what the notebook writes goes here
    work.mkdir()
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    shown = [_shown(c) for c in notebook.cells if c.cell_type == "code"]
    assert "(174604259328, True)" in shown
    assert "46,702,792,704 parameters, 12,879,925,248 active a token\n" in shown
    assert "174,604,259,328\n" in shown
    assert any(s.startswith("(168192, 4, True, [])") for s in shown)
    assert "(False, 204)" in shown
    assert any("verdict: match" in s for s in shown)
    page = (work / "tiny-gpt2.html").read_text(encoding="utf-8")
    assert "168,192 parameters" in page
