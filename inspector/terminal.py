"""Text from files, made safe to print: every control and invisible character shown as its
escape, never obeyed, and a repeated message said once with a count.

A tensor name, a metadata key or a path may hold a newline (a fake second line), an ANSI escape
(`\\x1b[2J` clears the screen), a bidirectional override or mark (text shown reversed), or a
zero-width character (`wte\\u200b.weight` looks like `wte.weight`). Whatever the toolkit prints
passes through here: `escape` for one line (a message, a table cell), `printable` for a block
whose own line breaks are the toolkit's. SVG, HTML and Markdown escape on top of this
(inspector.output.markup).
"""

from __future__ import annotations

import re
import unicodedata

# The Unicode categories shown escaped: controls (Cc: C0, DEL, C1), format characters (Cf: the
# zero-width space and joiners, the soft hyphen, the byte-order mark, word joiner, and every
# bidirectional mark, embedding, override and isolate: U+061C, U+200E/F, U+202A-E, U+2066-9),
# lone surrogates (Cs: no UTF-8 output can hold one), the line and paragraph separators (Zl, Zp:
# str.splitlines() breaks on them).
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Runs of anything but printable ASCII: the only places to look (most text has none). ASCII
# text is searched for its controls alone, one at a time: 2-3x as fast as either a negated class
# or a run (a 100,000-line table: 80 ms, against 160 and 220).
_NOT_ASCII = re.compile(r"[^\x20-\x7e]+")
_NOT_ASCII_BUT_LINES = re.compile(r"[^\t\n\x20-\x7e]+")  # tab and newline kept
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _hidden(char: str) -> bool:
    """A character shown as its escape: one of the categories above, or a noncharacter
    (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF of every plane, which XML forbids too)."""
    code = ord(char)
    return (unicodedata.category(char) in _HIDDEN or 0xFDD0 <= code <= 0xFDEF
            or code & 0xFFFE == 0xFFFE)


def _escaped(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")  # \n, \x1b, \u200b, \U000e0001


def _shown(match: re.Match) -> str:
    run = match.group()
    if run.isprintable():  # letters, marks, symbols of any script (C speed)
        return run
    return "".join(_escaped(c) if _hidden(c) else c for c in run)


def escape(text: str) -> str:
    """`text` on one line with every control, invisible and bidi character written as its escape
    (`\\n`, `\\x1b`, `\\u200b`)."""
    found = _ASCII_CONTROL if text.isascii() else _NOT_ASCII
    return found.sub(_shown, text)


def printable(text: str) -> str:
    """`text` with its line breaks (and tabs) kept and every other control, invisible and bidi
    character escaped."""
    found = _ASCII_CONTROL_BUT_LINES if text.isascii() else _NOT_ASCII_BUT_LINES
    return found.sub(_shown, text)


# How many of a repeated message's subjects are named before the count of the rest.
SHOWN = 5


def quoted(item: str) -> str:
    """A name in a message: in single quotes, escaped."""
    return f"'{escape(item)}'"


def summarised(items: list[str], shown: int = SHOWN, quote=quoted) -> str:
    """The first `shown` items quoted (`quote`: escaped, in single quotes), then how many more:
    `'a', 'b' and 9,998 more`."""
    named = ", ".join(map(quote, items[:shown]))
    rest = len(items) - shown
    return f"{named} and {rest:,} more" if rest > 0 else named
