"""`inspector fit`: will a model fit in a given memory, and the longest context that does."""

from __future__ import annotations

import click

from inspector.cli.options import say, warn
from inspector.output.rendering import FORMATS
from inspector.spec.fit import DTYPE_BITS

DTYPES = click.Choice(list(DTYPE_BITS))


@click.command()
@click.argument("source", metavar="SOURCE|SPEC")
@click.option("--memory", required=True,
              help="The memory to fit in: 24GiB (2^30 bytes), 80GB (10^9 bytes), a number of"
                   " bytes.")
@click.option("--context", type=int, help="Tokens of context [default: the model's n_ctx].")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sequences held at once (each its own cache and state).")
@click.option("--dtype", type=DTYPES,
              help="A spec's weights' dtype [default: bf16]. A checkpoint's weights are the bytes"
                   " it stores.")
@click.option("--kv-dtype", type=DTYPES, default="bf16", show_default=True,
              help="The KV cache's and fixed state's dtype.")
@click.option("--overhead", default="0",
              help="Bytes to add for what is not counted (activations, the engine's buffers, the"
                   " CUDA context), as --memory takes them.")
@click.option("--spec", "spec_name", help="For a checkpoint without a config.json: the spec its"
                                          " KV cache is computed from.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="How to print the answer.")
def fit(source: str, memory: str, context: int | None, batch: int, dtype: str | None,
        kv_dtype: str, overhead: str, spec_name: str | None, fmt: str) -> None:
    """Whether SOURCE (a checkpoint: file, folder or hub id) or SPEC fits in --memory: the
    weights, the KV cache and fixed state at --context for --batch sequences, their total, the
    headroom, and the longest context that fits (up to the model's n_ctx; 0 when even the
    weights do not). Exit 0 whether it fits or not (the answer says which; JSON key "fits"),
    2 on bad input.
    """
    from inspector.checkpoint.stored import checkpoint_weights, names_a_checkpoint
    from inspector.errors import UsageError
    from inspector.output.fit_answer import fit_text
    from inspector.spec.fit import fit as fit_document
    from inspector.spec.fit import parse_size, spec_weights
    from inspector.spec.loading import load_spec

    memory_bytes, overhead_bytes = parse_size(memory), parse_size(overhead, "--overhead")
    given = load_spec(spec_name) if spec_name else None
    if names_a_checkpoint(source):
        if dtype is not None:
            raise UsageError(source, "--dtype is for a spec: a checkpoint's weights are the bytes"
                                     " it stores")
        weights, how, spec, warnings = checkpoint_weights(source, given)
    else:
        if given is not None:
            raise UsageError(source, "is a spec, not a checkpoint: --spec is for a checkpoint")
        spec = load_spec(source)
        weights, how = spec_weights(spec, dtype or "bf16")
        warnings = spec.warnings()
    for w in warnings:
        warn(w)
    doc = fit_document(spec, memory_bytes, weights, how, context=context, batch=batch,
                       kv_dtype=kv_dtype, overhead=overhead_bytes)
    say(fit_text(doc, fmt))


COMMANDS = (fit,)
