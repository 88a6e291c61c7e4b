"""The family registry: every family module's `FAMILIES`, and every lookup derived from them.

A module in this package that defines `FAMILIES` (a tuple of `Family`) is registered by being here:
adding a family is adding its module (and its specs and tests), nothing else. Modules are found by
listing the package, so this file names none of them.

A lookup by one name (a spec's family, a config.json's model_type, a layout's name) imports only
the module that answers it, and what a spec's lines ask (spec_facts) none, through `index.json`
written from the modules themselves by `write_index()`. The index is used only while the
package's sources are the ones it was written from (a checksum of them); after any edit every
module is imported, as with no index, until it is written again (tests/test_family_registry.py).
Importing all 27 modules took 10 ms from bytecode caches (27 ms compiled from source).
"""

from __future__ import annotations

import importlib
import json
import os
import zlib
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.vocab.canonical import parse
from inspector.vocab.roles import Role

if TYPE_CHECKING:  # a lookup by the index imports the one module that answers, and it these
    from inspector.families.base import Composite, Family
    from inspector.vocab.layout import Layout


def __getattr__(name: str):  # CANONICAL, made when first asked for: `count` needs no layout
    if name == "CANONICAL":
        from inspector.vocab.layout import canonical_layout

        return canonical_layout()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Every layer repeats the same names, so a spread-out sample of a few hundred decides as well as
# all of them (a 1T checkpoint has tens of thousands) at a fraction of the matching.
LAYOUT_SAMPLE = 256


def _modules() -> list[tuple[str, object]]:
    """(name, module) of every module of the package but `base`, by name."""
    import pkgutil

    return [(info.name, importlib.import_module(f"{__name__}.{info.name}"))
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
            if info.name != "base"]


@cache
def families() -> dict[str, Family]:
    """name -> Family, in the order the modules define them (modules by name)."""
    found: dict[str, Family] = {}
    for _, module in _modules():
        for family in getattr(module, "FAMILIES", ()):
            if family.name in found:
                raise RuntimeError(f"family {family.name!r} is defined twice")
            found[family.name] = family
    return found


@cache
def composites() -> dict[str, Composite]:
    """model_type -> Composite: every family module's `COMPOSITES` (multimodal model types)."""
    found: dict[str, Composite] = {}
    for _, module in _modules():
        found.update((c.model_type, c) for c in getattr(module, "COMPOSITES", ()))
    return found


# The index: name -> module (families, composites) or name -> family name (model types, layouts),
# each the one the full registry's lookup answers with (the first, in the order above); a GGUF
# architecture -> the names of every family llama.cpp converts to it, in that order. `sources`
# is the checksum of the package's modules it was written from.
INDEX = Path(__file__).with_name("index.json")


def _sources_checksum() -> str:
    """CRC-32 of every module's name and bytes, by name: a change detector, not a signature."""
    folder = Path(__file__).parent
    crc = 0
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".py")):
        crc = zlib.crc32((folder / name).read_bytes(), zlib.crc32(name.encode() + b"\0", crc))
    return f"{crc:08x}"


def index_data() -> dict:
    """What index.json holds, from every module imported."""
    module_of: dict[str, str] = {}
    composite_module: dict[str, str] = {}
    for name, module in _modules():
        module_of.update((family.name, name) for family in getattr(module, "FAMILIES", ()))
        composite_module.update((c.model_type, name) for c in getattr(module, "COMPOSITES", ()))
    gguf_archs: dict[str, list[str]] = {}
    for family in families().values():
        if family.gguf_arch:
            gguf_archs.setdefault(family.gguf_arch, []).append(family.name)
    return {
        "sources": _sources_checksum(),
        "families": {name: module_of[name] for name in families()},
        "composites": {model_type: composite_module[model_type] for model_type in composites()},
        "model_types": {model_type: family.name for model_type, family in _by_model_type().items()},
        "layouts": _layout_family(),
        "gguf_archs": gguf_archs,
        "spec_facts": {name: family.spec_facts for name, family in families().items()},
    }


def write_index() -> None:
    """Write index.json anew, after a family module changed:
    python -c 'from inspector.families import write_index; write_index()'"""
    INDEX.write_text(json.dumps(index_data(), indent=1) + "\n", encoding="utf-8")


@cache
def _index() -> dict | None:
    """index.json when it was written from the sources as they are, else None."""
    try:
        index = json.loads(INDEX.read_text(encoding="utf-8"))
        return index if index.get("sources") == _sources_checksum() else None
    except (OSError, ValueError, AttributeError):  # no index, or none readable: import them all
        return None


def _in_module(module: str | None, attribute: str) -> tuple:
    return getattr(importlib.import_module(f"{__name__}.{module}"), attribute, ()) if module \
        else ()


def composite_of(config: object) -> Composite | None:
    """The composite a config.json's model_type names, or None."""
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(model_type, str):
        return None
    index = _index()
    if index is None:
        return composites().get(model_type)
    found = [c for c in _in_module(index["composites"].get(model_type), "COMPOSITES")
             if c.model_type == model_type]
    return found[-1] if found else None  # the last, as composites() keeps it


def get(name: str) -> Family | None:
    index = _index()
    if index is None:
        return families().get(name)
    module = index["families"].get(name) if isinstance(name, str) else None
    return next((f for f in _in_module(module, "FAMILIES") if f.name == name), None)


def spec_facts(name: str) -> dict | None:
    """What a spec's own lines ask of its family (whether its config.json gives d_head, an
    encoder's last norm), from the index without importing the family's module; None: none."""
    index = _index()
    if index is None:
        return family.spec_facts if (family := families().get(name)) is not None else None
    return index["spec_facts"].get(name) if isinstance(name, str) else None


def tie_from_files(spec) -> bool:
    family = get(spec.family)
    return family is not None and family.tie_from_files and spec.has_unembedding


def tied_as_stored(spec, tied: bool):
    """`spec` with the files' tie where its family leaves the tie to the files."""
    return replace(spec, tied_embeddings=tied) if tie_from_files(spec) else spec


def spec_family_names() -> tuple[str, ...]:
    index = _index()
    return tuple(index["families"] if index is not None else families())


@cache
def _by_model_type() -> dict[str, Family]:
    out: dict[str, Family] = {}
    for family in families().values():
        if not family.spec_only:
            out.setdefault(family.config_model_type, family)
    return out


def by_model_type(model_type: object) -> Family | None:
    """The family a config.json's model_type names, or None (JSON may hold any value there)."""
    if not isinstance(model_type, str):
        return None
    index = _index()
    if index is None:
        return _by_model_type().get(model_type)
    name = index["model_types"].get(model_type)
    return get(name) if name is not None else None


def model_types() -> list[str]:
    index = _index()
    return sorted(index["model_types"] if index is not None else _by_model_type())


@cache
def hub_layouts() -> dict[str, Layout]:
    """Every hub layout by name (families that share one list it once), and the canonical one."""
    out: dict[str, Layout] = {}
    for family in families().values():
        for layout in family.layouts:
            out.setdefault(layout.name, layout)
    from inspector.vocab.layout import CANONICAL_NAME, canonical_layout

    out[CANONICAL_NAME] = canonical_layout()
    return out


@cache
def _layout_family() -> dict[str, str]:
    """Layout name -> the first family that stores it (the family shown when only names tell)."""
    out: dict[str, str] = {}
    for family in families().values():
        for layout in family.layouts:
            out.setdefault(layout.name, family.name)
    return out


def hub_layout(name: str) -> Layout | None:
    """hub_layouts()[name], importing only the module of the family that stores it."""
    from inspector.vocab.layout import CANONICAL_NAME

    index = _index()
    if index is None or name == CANONICAL_NAME:
        return hub_layouts().get(name)
    family = get(index["layouts"].get(name))
    return next((layout for layout in family.layouts if layout.name == name), None) \
        if family is not None else None


def family_of_layout(layout: Layout) -> str | None:
    index = _index()
    return layout.family or (index["layouts"] if index is not None else _layout_family()).get(
        layout.name)


@cache
def gguf_layout_of(name: str) -> Layout:
    """llama.cpp's names for the family `name` (which has a GGUF architecture), derived from its
    hub layout through the `gguf` package's own tensor-name map (imported only for a GGUF). The
    first family of an architecture names its layout after it (`gguf-llama`); another that
    llama.cpp converts to the same one adds its own name (`gguf-llama-mixtral`)."""
    from inspector.families.gguf_names import gguf_layout

    family = get(name)
    first = gguf_family(family.gguf_arch)
    suffix = "" if first is None or first.name == name else f"-{name}"
    return gguf_layout(family, f"gguf-{family.gguf_arch}{suffix}")


def gguf_layouts() -> dict[str, Layout]:
    """family name -> its GGUF layout, for every family that has a GGUF architecture."""
    return {name: gguf_layout_of(name) for name, family in families().items()
            if family.gguf_arch}


def all_layouts() -> dict[str, Layout]:
    """Every layout by name: the hub layouts, the canonical one and llama.cpp's."""
    return {**hub_layouts(), **{layout.name: layout for layout in gguf_layouts().values()}}


def gguf_families(arch: object) -> tuple[Family, ...]:
    """The families llama.cpp converts to the GGUF architecture `arch` (general.architecture),
    in the registry's order: Llama, then Mixtral for "llama"."""
    index = _index()
    if index is not None:
        names = index["gguf_archs"].get(arch, []) if isinstance(arch, str) else []
        return tuple(family for name in names if (family := get(name)) is not None)
    return tuple(family for family in families().values()
                 if family.gguf_arch and family.gguf_arch == arch)


def gguf_family(arch: object) -> Family | None:
    """The first family whose GGUF architecture name is `arch`."""
    found = gguf_families(arch)
    return found[0] if found else None


def gguf_checkpoint_family(metadata: dict, names: list[str]) -> Family | None:
    """The family of a GGUF: its architecture's; where llama.cpp converts a dense family and a
    mixture of experts to the same architecture (Llama and Mixtral are both "llama"), the one
    that stores experts exactly when the metadata counts some (`{arch}.expert_count` > 0), and
    without that key the one whose GGUF names recognise most of the tensors (the first on a tie:
    the dense one, whose names the mixture's include)."""
    arch = metadata.get("general.architecture")
    found = gguf_families(arch)
    if len(found) < 2:
        return found[0] if found else None
    import gguf

    count = metadata.get(gguf.Keys.LLM.EXPERT_COUNT.format(arch=arch))
    if isinstance(count, int) and not isinstance(count, bool):
        return next((f for f in found if f.stores_experts == (count > 0)), found[0])
    sample = names[:: max(1, len(names) // LAYOUT_SAMPLE)]
    return max(found, key=lambda family: sum(gguf_layout_of(family.name).match(n) is not None
                                             for n in sample))


def checkpoint_layout(checkpoint, claimed_family: str | None = None,
                      tensors: list | None = None) -> Layout | None:
    """The layout of an opened checkpoint: a GGUF by its architecture and llama.cpp's names,
    anything else by its config.json and its names. `claimed_family` (a --spec's family) stands
    in for a missing config.json: its layout is taken, unscored, when the names fit it.
    `tensors`: the tensors as the unquantized model names them, where they are quantized."""
    tensors = checkpoint.tensors if tensors is None else tensors
    if checkpoint.format != "gguf":  # only a sample is matched (choose_layout): only it is read
        tensors = tensors[:: max(1, len(tensors) // LAYOUT_SAMPLE)]
    names = [t.name for t in tensors]
    if checkpoint.format == "gguf":
        arch = checkpoint.metadata.get("general.architecture")
        family = gguf_checkpoint_family(checkpoint.metadata, names)
        return choose_layout(names, {"gguf_arch": arch if isinstance(arch, str) else None,
                                     "gguf_family": family.name if family else None},
                             gguf=True)
    config = checkpoint.config
    claimed = get(claimed_family) if isinstance(claimed_family, str) else None
    if config is None and claimed is not None:
        config = {"model_type": claimed.config_model_type}
    return choose_layout(names, config, shapes={t.name: tuple(t.shape) for t in tensors})


# Canonical modules that read the residual stream: their weights have d_model inputs.
READS_STREAM = (Role.QUERY, Role.KEY, Role.VALUE, Role.UP, Role.GATE)


def fits_shapes(layout: Layout, names: list[str], shapes: dict) -> bool:
    """Whether the stored matrices lie the way the layout says: every matrix that reads the
    residual stream has the embedding's width as its input, on the axis the layout's
    orientation puts it. Two layouts with the same names (GPT-2's Conv1D (in, out) and
    StarCoder's nn.Linear (out, in) `c_attn`) are told apart by this."""
    width = None
    for name in names:
        found = layout.match(name)
        if found and found[0].targets == ("embed.weight",) and len(shapes.get(name, ())) == 2:
            width = shapes[name][1]
    if width is None:
        return True
    for name in names:
        found = layout.match(name)
        shape = shapes.get(name, ())
        if not found or found[0].is_buffer or len(shape) != 2 \
                or not found[0].targets[0].endswith(".weight"):
            continue
        rule = found[0]
        reads_stream = parse(rule.targets[0].replace("{i}", "0"))[0] in READS_STREAM
        if reads_stream and shape[0 if rule.transposed else 1] != width:
            return False
    return True


def has_required(layout: Layout, names: list[str]) -> bool:
    """Whether `names` hold every pattern the layout says its checkpoints always store."""
    if not layout.requires:
        return True
    found = {match[0].pattern for name in names if (match := layout.match(name))}
    return all(pattern in found for pattern in layout.requires)


def choose_layout(names: list[str], config: dict | None = None,
                  gguf: bool = False, shapes: dict | None = None) -> Layout | None:
    """The layout a config names (a GGUF: {"gguf_arch": ..., "gguf_family": the family of those
    that share the architecture, or None for the first}), else the one that recognises most
    tensor names; None for a model type no family knows, or names no layout recognises."""
    sample = names[:: max(1, len(names) // LAYOUT_SAMPLE)]
    config = config or {}
    said = config.get("gguf_arch") if gguf else config.get("model_type")
    if isinstance(said, str) and (gguf_family(said) if gguf else by_model_type(said)) is None:
        return None  # a model type no family knows: its names are read by generic patterns,
        # not by a family whose names some of them happen to share
    family = by_model_type(config.get("model_type"))
    # The named layout alone imports one family module; scoring every layout imports them all.
    if gguf:
        family = get(config.get("gguf_family")) or gguf_family(said)
    named = (gguf_layout_of(family.name) if gguf and family else
             hub_layout(family.hub_layout.name) if family else None)
    if named is not None and (not sample or any(named.match(n) is not None for n in sample)):
        return named  # else the config describes other weights: the names decide
    candidates = gguf_layouts() if gguf else hub_layouts()
    # Most names recognised; among equals, the one whose matrices lie as it says, then one
    # whose telling names are there (an OLMo 2 checkpoint is all Gemma 2 names, but not Gemma 2).
    # The shapes and telling names are looked at only for the layouts tied for most names.
    scored = [(sum(layout.match(n) is not None for n in sample), layout)
              for layout in candidates.values()]
    best = max((score for score, _ in scored), default=0)
    if not best:
        return None
    tied = [layout for score, layout in scored if score == best]
    if len(tied) == 1:
        return tied[0]
    return max(tied, key=lambda layout: (shapes is not None and fits_shapes(layout, sample, shapes),
                                         has_required(layout, sample)))
