"""The toolkit's own errors: every expected failure is one of these, and its message
names the file (or spec, or hub id) and says what was wrong, on one line."""

from inspector.terminal import escape as one_line  # a message from a file stays one line


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


class OutputError(InspectorError):
    """What the command says cannot be written (stdout on a full disk, closed, or in an encoding
    that cannot hold it): named as output, not blamed on an input."""

    def __init__(self, cause: str):
        super().__init__("cannot write the output", cause)
