"""One line in a user's test suite: `assert_matches_spec("path/or/hub-id", "gpt2-124m")`.

It runs the same inspection and check as `inspector check` and, on a mismatch, raises an
AssertionError whose message holds the role table (expected, actual, ok) and the problems, so a
CI log says what differs without a second run. Header-only: no torch import, no tensor bytes.
"""

from __future__ import annotations

from inspector.checkpoint.check import check
from inspector.checkpoint.inspection import inspect_source
from inspector.output.rendering import table
from inspector.spec.loading import load_spec
from inspector.spec.schema import Spec

PROBLEMS_SHOWN = 20


def assert_matches_spec(source: str, spec: str | Spec) -> dict:
    """Assert that a checkpoint (file, folder or hub id) matches a spec (shipped name, YAML file,
    config.json or a Spec); return the check verdict (the JSON of `inspector check`) when it does.

    Unreadable input raises the toolkit's own errors (inspector.errors), not AssertionError: a
    missing file is not a failed comparison.
    """
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    verdict = check(spec, inspect_source(source, spec).decoupled)
    if not verdict["ok"]:
        raise AssertionError(failure_message(verdict))
    return verdict


def failure_message(verdict: dict) -> str:
    t = verdict["total"]
    headline = (f"{verdict['source']} does not match spec {verdict['spec']}:"
                f" total expected {t['expected']:,}, found {t['actual']:,}")
    lines = [headline, "", table(verdict["roles"], ["role", "expected", "actual", "tied_to", "ok"])]
    problems = verdict["problems"]
    if problems:
        lines += ["", f"problems ({len(problems)}):"]
        lines += [f"  {p}" for p in problems[:PROBLEMS_SHOWN]]
        if len(problems) > PROBLEMS_SHOWN:
            lines.append(f"  ... and {len(problems) - PROBLEMS_SHOWN} more"
                         f" (`inspector check {verdict['source']} --spec {verdict['spec']}"
                         " --format json` lists all)")
    return "\n".join(lines)
