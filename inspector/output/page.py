r"""HTML pages: one self-contained shell (inline CSS, a Content-Security-Policy that forbids every
fetch), and the Markdown the report writes turned into HTML.

The Markdown is the report's own small subset, so a page needs no Markdown library: headings
(`##`, `###`), bullets, pipe tables as `inspector.output.rendering.markdown` writes them (a `\|`
in a cell is a `|`), `**bold**`, code spans (`` `code` ``, fenced by as many backticks as
inspector.output.markup needs), and the report's folded `<details><summary>` blocks. Everything
else is text, and all text is escaped (names come from files), as XML allows.
"""

from __future__ import annotations

import re

from inspector.output.markup import xml_text

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

# A code span: a run of backticks, then the shortest text up to a run of exactly as many.
_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_DETAILS = re.compile(r"^<details><summary>(.*)</summary>$")


def html_page(title: str, body: str) -> str:
    """A page that asks the network for nothing: its CSS inline, its pictures inline SVG."""
    return SHELL.format(title=xml_text(title), body=body)


def inline(text: str) -> str:
    """One line of the report's Markdown: escaped, with its code spans and bold."""
    out, at = [], 0
    for span in _CODE.finditer(text):
        out.append(_BOLD.sub(r"<strong>\1</strong>", xml_text(text[at:span.start()])))
        out.append(f"<code>{xml_text(_code_text(span.group(2)))}</code>")
        at = span.end()
    out.append(_BOLD.sub(r"<strong>\1</strong>", xml_text(text[at:])))
    return "".join(out)


def _code_text(inside: str) -> str:
    """A code span's text: one space stripped from each end where both have one (CommonMark's
    rule, which lets a span start or end with a backtick)."""
    if inside[0] == inside[-1] == " " and inside.strip():
        return inside[1:-1]
    return inside


def _cells(line: str) -> list[str]:
    """A table row's cells (split at ` | `: an escaped `\\|` inside a cell stays, as a `|`)."""
    cells = line.strip().removeprefix("|").removesuffix("|").split(" | ")
    return [c.strip().replace("\\|", "|") for c in cells]


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
