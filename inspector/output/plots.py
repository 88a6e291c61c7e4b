"""Pictures of the numbers: parameter share by role across specs, per-layer weight norms of a
checkpoint. Data functions return plain rows (tested); drawing is matplotlib with the Agg backend,
imported only when a picture is asked for.

One color per role in every picture, in families a reader can group at a glance: embeddings
green, attention blue to violet, MLP orange to brown, the unembedding red, norms grey.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

from inspector.errors import UsageError
from inspector.files.atomic import make_folder, write_atomically
from inspector.spec.describe import spec_rows
from inspector.spec.loading import shipped_names
from inspector.spec.schema import Spec
from inspector.vocab.roles import role_sort_key
from inspector.vocab.tables import UNMAPPED_ROLE, role_table, total

ROLE_COLORS = {
    "embedding": "#1b9e77",
    "position": "#66c2a5",
    "token_type": "#b3e2cd",
    "query": "#08519c",
    "key": "#3182bd",
    "value": "#6baed6",
    "output": "#6a51a3",
    "up": "#fd8d3c",
    "gate": "#fdbe85",
    "down": "#a63603",
    "unembedding": "#cb181d",
    "norm": "#969696",
    "pooler": "#e7298a",
    "head": "#f1b6da",
    "router": "#b2df8a",
    "mixer": "#e6ab02",  # state-space and linear-attention layers' own tensors
    UNMAPPED_ROLE: "#252525",
}

# The default story: GPT-2 small, where embeddings weigh most, to GPT-3 175B and Llama-2-70B,
# where the MLP does. Only the ones shipped are drawn.
DEFAULT_SHARE_SPECS = ("gpt2-124m", "gpt2-1558m", "gpt3-175b", "llama2-7b", "llama2-70b")

# Shipped spec names' prefixes (not family names: llama2- specs are of the llama family) as
# their authors write them.
NAMES = {"gpt2-": "GPT-2", "gpt3-": "GPT-3", "llama2-": "Llama-2", "smollm2-": "SmolLM2"}


def default_share_specs() -> list[str]:
    shipped = set(shipped_names())
    return [name for name in DEFAULT_SHARE_SPECS if name in shipped]


def share_data(specs: list[Spec]) -> list[dict]:
    """Per spec: its parameter count and each role's share in percent (every stored parameter
    once, so a tied unembedding has no share of its own: it is the embedding). Shares sum to 100.
    """
    out = []
    for spec in specs:
        rows = spec_rows(spec)
        n = total(rows)
        counts = {r["role"]: r["parameters"] for r in role_table(rows) if not r["tied_to"]}
        out.append({"spec": spec.name, "label": display_name(spec), "parameters": n,
                    "tied": spec.tied_embeddings, "counts": counts,
                    "kv_heads": spec.n_kv_heads if spec.n_kv_heads != spec.n_heads else None,
                    "shares": {role: 100 * c / n for role, c in counts.items()}})
    return out


def display_name(spec: Spec) -> str:
    """gpt3-175b -> GPT-3 175B: the family as its authors write it, then the size."""
    for prefix, name in NAMES.items():
        size = spec.name.removeprefix(prefix)
        if size != spec.name and re.fullmatch(r"[\d.]+[mbk]", size):
            return f"{name} {size.upper()}"
    return spec.name


def human_count(n: int) -> str:
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _pyplot():
    import logging

    _writable_config_dir()
    # matplotlib logs its own warnings ("building the font cache", "created a temporary cache
    # directory") to stderr, which holds only our one-line messages.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    try:
        import matplotlib
    except ImportError as e:
        raise UsageError("plot", "matplotlib is not installed: pip install matplotlib") from e

    matplotlib.use("Agg")  # headless: no display needed, same pixels everywhere
    import matplotlib.pyplot as plt

    return plt


def _writable_config_dir() -> None:
    """matplotlib keeps its config and font cache under HOME; where HOME is unwritable (a CI
    user, a read-only container) it complains and falls back on its own. Give it a temporary
    folder of ours instead, removed at exit."""
    import os

    if os.environ.get("MPLCONFIGDIR"):
        return
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no passwd entry
        home = None
    for variable, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache")):
        base = os.environ.get(variable) or (home / default if home else None)
        folder = Path(base) / "matplotlib" if base else None
        try:
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                if os.access(folder, os.W_OK):
                    continue
        except OSError:
            pass
        import atexit
        import shutil
        import tempfile

        temporary = tempfile.mkdtemp(prefix="inspector-matplotlib-")
        atexit.register(shutil.rmtree, temporary, True)
        os.environ["MPLCONFIGDIR"] = temporary
        return


def _roles_in(order_from: list[dict], key: str) -> list[str]:
    seen = {role for entry in order_from for role in entry[key]}
    return sorted(seen, key=role_sort_key)


def plot_shares(specs: list[Spec], out: str | Path) -> Path:
    """100% stacked bars, one per spec, one segment per role."""
    data = share_data(specs)
    roles = _roles_in(data, "shares")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.5, 1.5 * len(data) + 3.5), 5.6), dpi=150)
    x = range(len(data))
    bottom = [0.0] * len(data)
    for role in roles:
        heights = [d["shares"].get(role, 0.0) for d in data]
        label = "embedding (+ tied unembedding)" if role == "embedding" and any(
            d["tied"] for d in data) else role
        ax.bar(x, heights, bottom=bottom, width=0.62, color=ROLE_COLORS.get(role, "#000000"),
               edgecolor="white", linewidth=0.6, label=label)
        for i, h in enumerate(heights):
            if h >= 4.0:  # label the segments big enough to hold a number
                dark = role in ("query", "output", "down", "embedding", "unembedding", "key")
                ax.text(i, bottom[i] + h / 2, f"{h:.0f}%", ha="center", va="center",
                        fontsize=8, color="white" if dark else "#222222")
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{d['label']}\n{human_count(d['parameters'])} parameters"
                        + ("\ntied embeddings" if d["tied"] else "")
                        + (f"\n{d['kv_heads']} key-value heads" if d["kv_heads"] else "")
                        for d in data], fontsize=9)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the model's parameters (%)")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0f}%")
    ax.set_title("Parameter share by role (% of each model's parameters)\n"
                 "a tied unembedding is the embedding, counted once", fontsize=11)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], title="role", loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _save(fig, plt, out)


def norm_data(tensor_rows: list[dict]) -> dict:
    """Per-layer L2 norm of each role from `inspector stats --by tensor` rows: a role's norm in a
    layer is sqrt(sum of its tensors' l2^2), exact. Rows outside the blocks (embeddings, the final
    norm, the unembedding) go to `outside`. Tied repeats and buffers are left out."""
    squares: dict[str, dict[int, float]] = defaultdict(dict)
    outside: dict[str, float] = defaultdict(float)
    for r in tensor_rows:
        if r.get("tied_to") or r["kind"] == "buffer" or r["l2"] is None:
            continue
        if r["layer"] is None:
            outside[r["role"]] += r["l2"] ** 2
        else:
            layer = squares[r["role"]]
            layer[r["layer"]] = layer.get(r["layer"], 0.0) + r["l2"] ** 2
    roles = sorted(squares, key=role_sort_key)
    return {
        "layers": {role: {layer: math.sqrt(s) for layer, s in sorted(squares[role].items())}
                   for role in roles},
        "outside": {role: math.sqrt(s) for role, s in
                    sorted(outside.items(), key=lambda kv: role_sort_key(kv[0]))},
    }


def checkpoint_norms(source: str, spec: Spec | None = None) -> dict:
    """Stream the checkpoint's statistics (inspector.values.stats) and keep the norms."""
    from inspector.checkpoint.inspection import inspect_source
    from inspector.values.stats import weight_stats

    inspection = inspect_source(source, spec)
    # the head counts group a fused tensor whose parts alternate per head (GPT-NeoX's qkv)
    document = weight_stats(inspection.decoupled, "tensor", inspection.shape.heads)
    data = norm_data(document["tensors"])
    data["parameters"] = total(inspection.rows)
    kinds = sorted({r.dtype for r in inspection.rows if r.is_parameter})
    data["dtypes"] = ", ".join(kinds)
    return data


def plot_norms(source: str, out: str | Path, spec: Spec | None = None,
               title: str | None = None) -> Path:
    data = checkpoint_norms(source, spec)
    if not data["layers"]:
        raise UsageError(source, "no per-layer parameters to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 5.2), dpi=150)
    markers = "osD^vP*Xhp<>"
    for i, (role, by_layer) in enumerate(data["layers"].items()):
        ax.plot(list(by_layer), list(by_layer.values()), marker=markers[i % len(markers)],
                markersize=4.5, linewidth=1.6, color=ROLE_COLORS.get(role, "#000000"),
                label=role)
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel("L2 norm: sqrt(sum of squares) of the role's\nweights and biases in the layer")
    every = [v for by_layer in data["layers"].values() for v in by_layer.values() if v > 0]
    if every and max(every) / min(every) > 20:
        ax.set_yscale("log")  # norms (about 1 a value) beside matrices: a span of decades
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())  # 20, 50, 100: not 2 x 10^1
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom=0)
    name = title or Path(source).name or source
    ax.set_title(f"Per-layer weight norms by role: {name}\n({data['parameters']:,} parameters,"
                 f" {data['dtypes']})", fontsize=11)
    ax.legend(title="role", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
              fontsize=9)
    ax.grid(True, which="major", axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if data["outside"]:
        said = ", ".join(f"{role} {v:,.1f}" for role, v in data["outside"].items())
        fig.text(0.01, 0.01, f"Outside the layers: {said}", fontsize=8, color="#444444")
    fig.tight_layout(rect=(0, 0.04 if data["outside"] else 0, 1, 1))
    return _save(fig, plt, out)


def _save(fig, plt, out: str | Path) -> Path:
    out = Path(out)
    try:
        if out.suffix.lower() != ".png":
            raise UsageError(out, "--out must name a .png file")
        if out.is_dir():
            raise UsageError(out, "is a folder; --out names the .png file to write")
        make_folder(out.parent)
        write_atomically(out.parent, {out.name: lambda tmp: fig.savefig(
            tmp, format="png", metadata={"Software": "inspector"})}, "plot")
    finally:
        plt.close(fig)
    return out
