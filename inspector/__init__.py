"""inspector: define transformer architectures and inspect their weights, exactly.

In a notebook: `inspector.count("gpt3-175b")`, `inspector.inspect("path/or/hub-id")`,
`inspector.load_spec(...)` and `inspector.build(spec, device="meta")` (inspector.api). They are imported when first used, so that the
commands, which import this package too, load nothing they do not need.
"""

__version__ = "0.1.0"

_API = ("build", "count", "inspect", "load_spec", "Counted", "Diagram", "Inspected",
        "InspectedAdapter", "Statistics", "Verdict")


def __getattr__(name: str):
    if name in _API:
        from inspector import api

        return getattr(api, name)
    raise AttributeError(f"module 'inspector' has no attribute {name!r}")
