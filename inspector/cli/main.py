"""The `inspector` command: the click group, the entry point, exit codes. The commands live in
one module per group (counting, checkpoints, values, building, pictures), their shared options
in inspector.cli.options; what they print is worded by inspector.output.

Exit status: 0 done (check: every role matches), 1 check or diff found a difference,
2 bad input or usage, always as one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import MutableMapping

import click

from inspector.errors import InspectorError, OutputError, one_line

# Each command by the module of this package that defines it (in its COMMANDS). A module is
# imported when one of its commands runs, or when --help lists them all: `count` loads nothing
# that `inspect` or `build` needs. A new command is registered by adding it here
# (tests/test_cli_contract.py checks this table against every module's COMMANDS).
COMMAND_MODULES = {"specs": "counting", "count": "counting",
                   "inspect": "checkpoints", "check": "checkpoints", "export": "checkpoints",
                   "report": "checkpoints", "scan": "checkpoints",
                   "stats": "values", "diff": "values",
                   "build": "building", "demo": "building",
                   "diagram": "pictures", "plot": "pictures",
                   "fit": "fit"}


class LazyCommands(MutableMapping):
    """The group's commands by name (click reads them as a mapping): every name known at once,
    each command object made by importing its module on first use."""

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module = importlib.import_module(f"{__package__}.{self._modules[name]}")
            self._loaded.update((command.name, command) for command in module.COMMANDS)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._loaded and name not in self._modules:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._modules.pop(name, None)

    def __contains__(self, name: object) -> bool:  # without importing the command's module
        return name in self._modules or name in self._loaded

    def __iter__(self):
        return iter(dict.fromkeys([*self._modules, *self._loaded]))

    def __len__(self) -> int:
        return len(self._modules.keys() | self._loaded.keys())


@click.group(commands=LazyCommands(COMMAND_MODULES),
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="inspector")
def cli() -> None:
    """Define transformer architectures and inspect their weights, exactly."""


def main() -> None:
    """Entry point: every expected failure becomes one line on stderr and exit status 2."""
    _escape_what_stdout_cannot_encode()
    try:
        code = _run(sys.argv[1:])
    except click.ClickException as e:  # usage errors: click's own message, exit 2
        e.show()
        code = e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("inspector: interrupted", err=True)
        code = 130
    except OutputError as e:
        _fail(f"inspector: error: {e}")
        _drop_stdout()
        code = 2
    except InspectorError as e:
        _fail(f"inspector: error: {e}")
        code = 2
    except BrokenPipeError:
        code = 0  # the reader went away (e.g. `| head`): nothing left to say
    except OSError as e:  # a file the readers did not wrap: still name it and say why
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        where = e.filename if e.filename is not None else "input"
        _fail(f"inspector: error: {where}: {e.strerror or e}")
        code = 2
    except UnicodeError as e:  # text that is not UTF-8 (a spec or config in another encoding)
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        _fail(f"inspector: error: input is not UTF-8 text: {e}")
        code = 2
    except Exception as e:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        _fail(f"inspector: internal error: {type(e).__name__}: {e} (set INSPECTOR_DEBUG=1"
              " for the traceback, and please report it)")
        code = 2
    sys.exit(code or 0)


def _escape_what_stdout_cannot_encode() -> None:
    """A character stdout's encoding cannot hold (a CJK tensor name with PYTHONIOENCODING=latin-1)
    is written as its escape (`\\u4e2d`), as Python writes it on stderr: the answer is printed,
    not refused."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


def _drop_stdout() -> None:
    """After a failed write, what stdout still buffers goes nowhere: Python's flush at exit would
    fail again and add its own lines to stderr (and make the exit status 120)."""
    if sys.stdout is None:
        return
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's captured stdout): nothing to do
        pass


def _run(args: list[str]) -> int | None:
    """What `cli.main(standalone_mode=False)` does, less its handling of Ctrl-C: click prints a
    blank line to stderr before its Abort, and the interrupt is main()'s to report."""
    from inspector.files.guard import forget_reads

    forget_reads()  # a new command: nothing read yet (main() may run twice in one process)
    try:
        with cli.make_context("inspector", args) as ctx:
            return cli.invoke(ctx)
    except click.exceptions.Exit as e:  # --help, --version
        return e.exit_code


def _fail(message: str) -> None:
    """One line on stderr, whatever the message holds (an OSError's path, a bug's text)."""
    click.echo(one_line(message), err=True)
