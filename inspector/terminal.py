"""Text from files, made safe to print: every control character shown as its escape, never
obeyed, and a repeated message said once with a count.

A tensor name, a metadata key or a path may hold a newline (a fake second line), an ANSI escape
(`\\x1b[2J` clears the screen) or a bidirectional override (text shown reversed). Whatever the
toolkit prints passes through here: `escape` for one line (a message, a table cell), `printable`
for a block whose own line breaks are the toolkit's.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators (str.splitlines() breaks on
# them) and the bidirectional formatting characters (marks, embeddings, overrides, isolates).
_OTHERS = "\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ANY_CONTROL = re.compile(f"[\x00-\x1f{_OTHERS}]")
_CONTROL_BUT_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # tab and newline kept


def _escaped(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def escape(text: str) -> str:
    """`text` on one line with every control character written as its escape (`\\n`, `\\x1b`)."""
    return _ANY_CONTROL.sub(_escaped, text)


def printable(text: str) -> str:
    """`text` with its line breaks (and tabs) kept and every other control character escaped."""
    return _CONTROL_BUT_LINES.sub(_escaped, text)


# How many of a repeated message's subjects are named before the count of the rest.
SHOWN = 5


def summarised(items: list[str], shown: int = SHOWN) -> str:
    """The first `shown` items quoted and escaped, then how many more: `'a', 'b' and 9,998 more`."""
    named = ", ".join(f"'{escape(item)}'" for item in items[:shown])
    rest = len(items) - shown
    return f"{named} and {rest:,} more" if rest > 0 else named
