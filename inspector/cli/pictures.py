"""The commands that draw: diagram (an HTML page or an SVG), plot shares and plot norms (PNG)."""

from __future__ import annotations

import click

from inspector.cli.options import REVISION, SPEC_HELP, hub_source, optional_spec, say, warn

OUT_PNG = click.option("--out", required=True, help="The .png to write.")


@click.command()
@click.argument("source", metavar="SOURCE|SPEC")
@click.option("--out", required=True, help="The .html page (or .svg picture) to write.")
@click.option("--spec", "spec_name", help="For a checkpoint: supplies what the files do not say"
                                          " and checks against it, marking mismatching roles. "
                                          + SPEC_HELP)
@REVISION
def diagram(source: str, out: str, spec_name: str | None, revision: str | None) -> None:
    """The architecture of SOURCE (a checkpoint) or SPEC drawn with exact counts: embedding, the
    stack of blocks with its layer pattern, one block in detail, the head; every box with its
    shape, parameters and share. A self-contained page (no network) or an SVG."""
    from inspector.output.diagram import write

    written, notes = write(hub_source(source, revision), out, optional_spec(spec_name))
    for note in notes:
        warn(note)
    say(written)


@click.group()
def plot() -> None:
    """Pictures as PNG files (matplotlib, headless): `plot shares`, `plot norms`."""


@plot.command("shares")
@click.argument("spec_names", metavar="[SPEC]...", nargs=-1)
@OUT_PNG
def plot_shares(spec_names: tuple[str, ...], out: str) -> None:
    """Parameter share by role across specs, as 100% stacked bars (default: GPT-2 124M and 1.5B,
    GPT-3 175B, Llama-2 7B and 70B, those shipped)."""
    from inspector.output.plots import default_share_specs
    from inspector.output.plots import plot_shares as draw
    from inspector.spec.loading import load_spec

    say(str(draw([load_spec(n) for n in spec_names or default_share_specs()], out)))


@plot.command("norms")
@click.argument("source")
@OUT_PNG
@click.option("--spec", "spec_name", help="Supplies what the files do not say. " + SPEC_HELP)
@click.option("--title", help="Name shown in the title (default: the file or folder name).")
def plot_norms(source: str, out: str, spec_name: str | None, title: str | None) -> None:
    """Per-layer L2 norms by role of SOURCE's weights (streamed, as `inspector stats`)."""
    from inspector.output.plots import plot_norms as draw

    say(str(draw(source, out, optional_spec(spec_name), title)))


COMMANDS = (diagram, plot)
