"""The toolkit's own errors: every expected failure is one of these, and its message
names the file (or spec, or hub id) and says what was wrong, on one line."""

import re

# Everything str.splitlines() breaks on. A tensor name, key or path from a hostile file may hold
# any of them; shown escaped, the message stays one line.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every line-breaking or control character written as its escape."""
    return _LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], text)


class InspectorError(Exception):
    """Base of every error the CLI turns into one line on stderr and exit status 2."""

    def __init__(self, where: object, cause: str):
        self.where = one_line(str(where))
        self.cause = one_line(cause)
        super().__init__(f"{self.where}: {self.cause}")


class SpecError(InspectorError):
    """A spec file (YAML or config.json) that cannot describe a model."""


class CheckpointError(InspectorError):
    """A checkpoint that cannot be read: truncated, malformed, refused or missing."""


class UsageError(InspectorError):
    """A request that the inputs cannot answer (e.g. heads asked of a checkpoint with no head count)."""
