"""What the commands share: their options (--format, --by, --revision, --download, --spec's
help) and the few steps every command takes (print, warn, fold --revision into SOURCE, load an
optional --spec). No wording of results: that is inspector.output's."""

from __future__ import annotations

import sys

import click

from inspector.errors import OutputError, one_line
from inspector.output.rendering import FORMATS
from inspector.terminal import printable
from inspector.vocab.tables import TABLE_KEYS

FORMAT = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                      show_default=True, help="How to print the answer.")
SPEC_HELP = "A shipped spec name (see `inspector specs`), a spec YAML file or a config.json."
# --spec where it is optional: a checkpoint says its own shape, but not always its head count.
SPEC_FOR_HEADS = click.option("--spec", "spec_name", help="Supplies what the files do not say"
                                                          " (heads). " + SPEC_HELP)


def by_option(*choices: str):
    """--by: which table to show, one of `choices`, by role unless asked."""
    return click.option("--by", type=click.Choice(list(choices)), default="role",
                        show_default=True)


BY = by_option(*TABLE_KEYS)  # role, layer, head, tensor
REVISION = click.option("--revision", help="For a hub id: the branch, tag or commit to read (as"
                                           " owner/name@REVISION) [default: main].")
DOWNLOAD = click.option("--download", is_flag=True,
                        help="For a hub id: download the weights (the command says how many bytes"
                             " first and stops unless this is given).")
THREADS_HELP = "Threads reading blocks [default: one per idle core]."
# The formats that print a summary above the table and notes below it
TABLE_FORMATS = ("table", "markdown")


def say(text: str) -> None:
    """Print `text` on stdout: names from files shown, never obeyed by the terminal. A failed
    write (a full disk, a closed stdout, an encoding that cannot hold a name) is an OutputError;
    a reader gone away (`| head`) stays a BrokenPipeError, which main() ends quietly."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): click would print nothing
        raise OutputError("standard output is closed")
    try:
        click.echo(printable(text))
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(e.strerror or str(e)) from e
    except UnicodeEncodeError as e:  # main() escapes what stdout cannot encode: not from there
        raise OutputError(f"the output encoding {e.encoding} cannot hold"
                          f" {e.object[e.start:e.end]!r}") from e


def warn(text: str) -> None:
    click.echo(f"inspector: warning: {one_line(text)}", err=True)


def hub_source(source: str, revision: str | None) -> str:
    """SOURCE with --revision folded in (owner/name@revision)."""
    if revision is None:  # SOURCE as it is, without importing the hub module (export's time)
        return source
    from inspector.formats.hub import with_revision

    return with_revision(source, revision)


def values_source(source: str, download: bool, command: str) -> str:
    """What a command that reads values opens: SOURCE itself, or for a hub id whose weights are
    not all cached, the snapshot folder downloaded when --download asks for it."""
    from inspector.formats.hub import fetch_values

    fetch_values(source, download, command, lambda text: click.echo(text, err=True))
    return source  # a path, or a complete cached snapshot


def optional_spec(spec_name: str | None):
    """The Spec an optional --spec names, or None."""
    if not spec_name:
        return None
    from inspector.spec.loading import load_spec

    return load_spec(spec_name)


def inspected(source: str, spec_name: str | None):
    """Open and decouple SOURCE; a --spec supplies heads, and where it disagrees with the
    checkpoint we say so."""
    from inspector.checkpoint.inspection import inspect_source

    inspection = inspect_source(source, optional_spec(spec_name))
    for text in inspection.warnings:
        warn(text)
    return inspection
