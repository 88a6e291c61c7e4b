"""Text from files written into a format with markup of its own: XML (SVG pictures, HTML pages)
and Markdown (the pull-request report, `--format markdown`).

Both start from the terminal's escape (inspector.terminal): one line, every control, invisible
and bidi character written as its escape. For XML that also removes every character XML 1.0
forbids (C0 controls but tab, newline and CR; lone surrogates; U+FFFE, U+FFFF): a parser stops at
the first one and a browser shows its error instead of the picture. Markdown then needs no
escaping where a name holds nothing Markdown, HTML or GitHub reads as markup (most names:
`h.0.attn.c_attn.weight`); a name that does is put in a code span, the one place where none of
it is read (GitHub links no @mention and no URL inside one, either).
"""

from __future__ import annotations

import re

from inspector.terminal import escape

# What Markdown (GitHub's: tables, strikethrough, math, autolinks) or GitHub's own filters may
# read in the middle of a line: a backslash escape, a code span, emphasis, raw HTML or an
# autolink (`<`), a cell's end (`|`), strikethrough (`~`), an @mention or a #reference, math
# (`$`), a character reference (`&lt;`), a link or image (`](`), an `_` that may open or close
# emphasis (one between two letters or digits may not), and the bare URLs GitHub links.
_MARKUP = re.compile(r"[\\`*<>|~@#$]|&#?\w+;|\]\(|(?<![^\W_])_|_(?![^\W_])|www\.|://",
                     re.IGNORECASE)
_BACKTICKS = re.compile("`+")


def xml_text(text: str) -> str:
    """`text` for an element's content or a quoted attribute in SVG or HTML: escaped as for the
    terminal (so nothing XML forbids is left), then `<`, `>`, `&` and quotes as entities."""
    from html import escape as html_escape  # only for a page or a picture: html.entities is big

    return html_escape(escape(text))


def code_span(text: str, in_table: bool = False) -> str:
    """`text` as a Markdown code span: fenced by one backtick more than its longest run of them,
    padded with a space where it starts or ends with a backtick (or with a space at both ends,
    which CommonMark would strip). In a table cell its `|` is escaped: GitHub ends a cell at a
    `|` even inside a code span, and shows `\\|` there as `|`."""
    text = escape(text)
    fence = "`" * (max(map(len, _BACKTICKS.findall(text)), default=0) + 1)
    padded = (not text or text[0] == "`" or text[-1] == "`"
              or (text[0] == text[-1] == " " and text.strip() != ""))
    pad = " " if padded else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_text(text: str, in_table: bool = False) -> str:
    """`text` (a name, or a sentence holding names) for Markdown: as it is where nothing in it is
    markup, else as a code span."""
    text = escape(text)
    return code_span(text, in_table) if _MARKUP.search(text) else text


def markdown_quoted(name: str) -> str:
    """A name in a Markdown sentence: in single quotes as the terminal's messages quote it, or as
    a code span where it holds markup."""
    shown = markdown_text(name)
    return shown if shown.startswith("`") else f"'{shown}'"
