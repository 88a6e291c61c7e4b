"""HTML pages: one self-contained shell (inline CSS, a Content-Security-Policy that forbids every
fetch), and the Markdown the report writes turned into HTML.

The Markdown is the report's own small subset, so a page needs no Markdown library: headings
(`##`, `###`), bullets, pipe tables as `inspector.output.rendering.markdown` writes them, `**bold**`,
`` `code` ``, and the report's folded `<details><summary>` blocks. Everything else is text, and
all text is escaped (names come from files).
"""

from __future__ import annotations

import re
from html import escape

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #111; max-width: 1200px; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
td.n, th.n {{ text-align: right; }}
tr.mismatch {{ background: #fde8e8; }}
code {{ background: #f4f4f4; padding: 0 3px; }}
.summary dt {{ font-weight: 600; float: left; clear: left; width: 9em; }}
.summary dd {{ margin-left: 10em; }}
</style></head><body>
{body}
</body></html>
"""

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_DETAILS = re.compile(r"^<details><summary>(.*)</summary>$")


def html_page(title: str, body: str) -> str:
    """A page that asks the network for nothing: its CSS inline, its pictures inline SVG."""
    return SHELL.format(title=escape(title), body=body)


def inline(text: str) -> str:
    """One line of the report's Markdown: escaped, with its code spans and bold."""
    parts = _CODE.split(text)  # odd items are code spans: kept as they are, escaped
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
        else:
            out.append(_BOLD.sub(r"<strong>\1</strong>", escape(part)))
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().removeprefix("|").removesuffix("|").split(" | ")]


def _table(lines: list[str]) -> str:
    """A pipe table: its header, its alignment row (`---:` right-aligns a column), its rows."""
    head, align, *body = lines
    right = [' class="n"' if a.endswith(":") else "" for a in align.strip("| ").split("|")]

    def row(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}{n}>{inline(c)}</{tag}>"
                                for c, n in zip(cells, right)) + "</tr>"

    rows = "".join(row(_cells(line), "td") for line in body)
    return f"<table><thead>{row(_cells(head), 'th')}</thead><tbody>{rows}</tbody></table>"


def markdown_html(text: str) -> str:
    """The report's Markdown as HTML."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            out.append(_table(lines[start:i]))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append(f"<ul>{''.join(items)}</ul>")
            continue
        out.append(_line(line))
        i += 1
    return "\n".join(part for part in out if part)


def _line(line: str) -> str:
    heading = re.match(r"^(#{1,6}) (.*)$", line)
    if heading:
        level = len(heading.group(1))
        return f"<h{level}>{inline(heading.group(2))}</h{level}>"
    folded = _DETAILS.match(line)
    if folded:
        return f"<details><summary>{inline(folded.group(1))}</summary>"
    if line == "</details>":
        return line
    return f"<p>{inline(line)}</p>" if line.strip() else ""
