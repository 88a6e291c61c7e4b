"""The commands that write a checkpoint from a spec: build, and demo (build, then inspect, check
and export what was built)."""

from __future__ import annotations

import click

from inspector.cli.checkpoints import check, export, inspect
from inspector.cli.options import say, warn
from inspector.formats.dtypes import WRITTEN as WRITTEN_DTYPES


@click.command()
@click.argument("spec_name", metavar="SPEC")
@click.option("--out", "out_dir", required=True,
              help="Folder to write config.json and model.safetensors into.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option("--dtype", type=click.Choice(list(WRITTEN_DTYPES)), default="float32",
              show_default=True)
def build(spec_name: str, out_dir: str, seed: int, dtype: str) -> None:
    """Write SPEC as a hub-layout checkpoint (config.json + model.safetensors) of seeded random
    weights, in its family's tensor names, that transformers' from_pretrained loads."""
    from pathlib import Path

    from inspector.building.checkpoint_writer import write_checkpoint
    from inspector.files.guard import check_file
    from inspector.spec.loading import load_spec

    spec = load_spec(spec_name)
    for name in ("config.json", "model.safetensors"):  # before transformers and torch load
        check_file(Path(out_dir) / name)
    written = write_checkpoint(spec, out_dir, seed=seed, dtype=dtype)
    for note in written.notes:
        warn(note)
    for path in written.files:
        say(str(path))


DEMO_SPEC = "gpt2-124m"


@click.command()
@click.option("--out", "out_dir",
              help="Keep the checkpoint and the tables here. Default: a temporary folder,"
                   " removed at the end (nothing is left behind).")
@click.pass_context
def demo(ctx: click.Context, out_dir: str | None) -> int:
    """The main job on an embedded default, offline: build gpt2-124m from its spec, then run
    inspect, check and export on it, exactly as those commands run."""
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="inspector-demo-"))
    checkpoint, tables = root / DEMO_SPEC, root / "tables"
    try:
        say(f"== inspector build {DEMO_SPEC} --out {checkpoint}")
        ctx.invoke(build, spec_name=DEMO_SPEC, out_dir=str(checkpoint), seed=0, dtype="float32")
        say(f"\n== inspector inspect {checkpoint}")
        ctx.invoke(inspect, source=str(checkpoint), by="role", spec_name=None, fmt="table")
        say(f"\n== inspector check {checkpoint} --spec {DEMO_SPEC}")
        code = ctx.invoke(check, source=str(checkpoint), spec_name=DEMO_SPEC, fmt="table")
        say(f"\n== inspector export {checkpoint} --out {tables}")
        ctx.invoke(export, source=str(checkpoint), out_dir=str(tables), fmt="csv",
                   spec_name=None)
    finally:
        if not out_dir:  # each run would otherwise leave a new inspector-demo-* folder behind
            shutil.rmtree(root, ignore_errors=True)
    if out_dir:
        say(f"\ncheckpoint in {checkpoint}, tables written to {tables}")
    else:
        say(f"\nthe checkpoint and tables were in {root}, now removed: --out DIR keeps them")
    return code


COMMANDS = (build, demo)
