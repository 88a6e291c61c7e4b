"""Loading a spec from wherever the user names it: a shipped name, a YAML file (within bounds:
its size and the nodes its aliases expand to), a config.json, a folder, a hub id. Every command
and the Python API load specs here and nowhere else."""

from __future__ import annotations

import os
import zlib
from functools import cache
from pathlib import Path

from inspector.errors import SpecError
from inspector.files.bounded_json import read_json
from inspector.files.guard import note_read
from inspector.spec.schema import Spec
from inspector.spec.validation import _suggest, spec_from_dict

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"  # the shipped specs' YAML
# The shipped specs' YAML as data, each with a checksum of the file it was parsed from: a shipped
# spec is read from here, without importing PyYAML (a sixth of `count`'s whole time), while its
# file is the one the entry was written from; an edited or a new file is read as YAML until
# write_spec_index() runs again (tests/test_specs.py checks that the index is written anew).
SPEC_INDEX = SPEC_DIR / "index.json"

def load_spec(source: str, whole_model: bool = False) -> Spec:
    """The one spec loader, for every command and the API: a shipped name (`gpt2-124m`), a YAML
    spec file, a config.json, a folder holding a config.json, or a hub id (`owner/name`,
    `owner/name@revision`) whose config.json is read from the cache, else from the hub.
    `whole_model` (`count`): a multimodal config.json is the whole model transformers builds,
    vision tower included, not the language model its family's spec describes (what `check`
    compares a checkpoint's language model against)."""
    path = Path(source)
    if path.is_dir() and (path / "config.json").is_file():
        path = path / "config.json"
    elif path.is_dir():
        raise SpecError(source, "a folder without a config.json: no spec to read")
    if not path.is_file():
        shipped = SPEC_DIR / f"{source}.yaml"
        if shipped.is_file():
            path = shipped
        elif (hub_id := _hub_id(source)) is not None:
            from inspector.formats.hub import hub_config

            return config_spec(hub_config(hub_id.repo_id, hub_id.revision),
                               origin=f"{source} (config.json)", whole_model=whole_model)
        elif path.suffix in (".yaml", ".yml", ".json") or "/" in source:
            raise SpecError(source, "no such spec file")
        else:
            raise SpecError(source, _not_shipped(source))
    if path.suffix == ".json":
        return config_spec(read_json(path, SpecError), origin=str(path), whole_model=whole_model)
    return spec_from_dict(_read_spec_file(path), origin=str(path))


def config_spec(config: object, origin: str, whole_model: bool = False) -> Spec:
    """A config.json as a spec: by its family module, else by the model transformers builds
    from it (inspector.spec.reference), when transformers knows its model_type; `whole_model`:
    a multimodal composite's by transformers too (its family module counts the language model
    alone), where transformers builds it."""
    from inspector import families
    from inspector.spec.config_json import spec_from_config
    from inspector.spec.reference import UnknownToTransformers, reference_spec, uses_reference

    if whole_model and families.composite_of(config) is not None:
        try:
            return reference_spec(config, origin)
        except SpecError:  # (UnknownToTransformers is one) its family's spec, as before
            return spec_from_config(config, origin=origin)
    if not uses_reference(config):
        return spec_from_config(config, origin=origin)
    try:
        return reference_spec(config, origin)
    except UnknownToTransformers:
        return spec_from_config(config, origin=origin)  # its 'not supported' line


def _not_shipped(name: str) -> str:
    """The names it begins (`gpt2` -> the four GPT-2 sizes), else the closest name; the whole
    list is `inspector specs`'s, a table of 30-odd names and not one line of an error."""
    names = shipped_names()
    starting = [n for n in names if n.lower().startswith(name.lower())]
    if len(starting) == 1:
        hint = f" (did you mean '{starting[0]}'?)"
    elif starting:
        hint = f" (shipped specs that start with '{name}': {', '.join(starting)})"
    else:
        hint = _suggest(name, names)
    return f"not a shipped spec{hint}; `inspector specs` lists all {len(names)}"


def _hub_id(source: str):
    """A hub id that names no local file and no spec file, else None."""
    from inspector.formats.hub import parse

    if Path(source).exists() or Path(source).suffix in (".yaml", ".yml", ".json"):
        return None
    return parse(source)


# A spec is a page of YAML; its bounds are checked before the work: the file's size, and the
# nodes the document expands to once every alias is followed (a "billion laughs" of nested
# aliases is a few hundred bytes that expand to 10^9 nodes).
MAX_YAML_BYTES = 1024 * 1024
MAX_YAML_NODES = 100_000


def _read_yaml(path: Path) -> object:
    import yaml

    note_read(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_YAML_BYTES:
                raise SpecError(path, f"{size:,} bytes, over the {MAX_YAML_BYTES:,}-byte limit"
                                      " for a spec file")
            text = f.read(MAX_YAML_BYTES + 1).decode("utf-8")
        if len(text) > MAX_YAML_BYTES:
            raise SpecError(path, f"over the {MAX_YAML_BYTES:,}-byte limit for a spec file")
        # The shipped specs, known to be valid, through libyaml's parser where PyYAML has it
        # (the same values: only the scanning is in C), 8x faster: `specs` reads them all. A
        # user's file keeps the pure-Python parser, whose error messages the CLI reports.
        shipped = path.resolve().parent == SPEC_DIR
        parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if shipped else yaml.SafeLoader
        loader = parser(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            try:
                nodes = _expanded_nodes(node)
            except RecursionError as e:
                raise SpecError(path, f"{e}: a recursive document is not a spec") from e
            if nodes > MAX_YAML_NODES:
                shown = f"{nodes:,}" if nodes < 10**30 else "over 10^30"
                raise SpecError(path, f"YAML aliases expand to {shown} nodes, more than the"
                                      f" {MAX_YAML_NODES:,} read")
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(path, f"cannot read: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        # A ReaderError (a control character) has a reason, not a problem; str() spans lines.
        why = getattr(e, "problem", None) or getattr(e, "reason", None) or e
        raise SpecError(path, f"not valid YAML{at}: {why}") from e
    except (ValueError, OverflowError) as e:  # PyYAML converts a scalar it cannot hold:
        # an integer of 5,000 digits, an escape "\U80010000" past the last code point
        raise SpecError(path, f"not a usable YAML value: {e}") from e
    except RecursionError as e:
        raise SpecError(path, "not a spec: YAML nested too deeply") from e


def _expanded_nodes(root) -> int:
    """Nodes of the document with every alias followed: each node counted once per path to it.
    Aliases make the node graph a DAG (the composer refuses a recursive one), so this is a
    memoised sum over it, linear in the nodes actually written."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the path being expanded: an alias to one is a cycle
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = (node.value if isinstance(node, yaml.SequenceNode)
                    else [n for pair in node.value for n in pair])
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            open_nodes.discard(id(node))
            continue
        if id(node) in open_nodes:  # reached again below itself (PyYAML composes `&a [*a]`)
            raise RecursionError("a YAML alias refers to a node that holds it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def _read_spec_file(path: Path) -> object:
    """A spec file's mapping: a shipped spec's from the index while the index was written from
    this very file, any other through the bounded YAML reader."""
    shipped = path.parent == SPEC_DIR or path.resolve().parent == SPEC_DIR  # by name, or a path
    if shipped and (entry := _spec_index().get(path.stem)) is not None:
        note_read(path)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_YAML_BYTES + 1)  # more is no spec: the YAML reader says so
        except OSError:  # the YAML reader says why
            data = None
        if data is not None and _checksum(data) == entry["crc32"]:
            return _copied(entry["spec"])
    return _read_yaml(path)


def _checksum(data: bytes) -> str:
    """CRC-32 of a spec file's bytes: a change detector, not a signature."""
    return f"{zlib.crc32(data):08x}"


def _copied(value: object) -> object:
    """A fresh copy of the index's JSON values: each load returns objects of its own, as YAML's
    does (a Spec keeps the mapping's dicts and lists)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


@cache
def _spec_index() -> dict:
    """name -> {"crc32", "spec"} of index.json; empty where there is none readable."""
    import json

    try:
        index = json.loads(SPEC_INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no index: every shipped spec is read as YAML
        return {}
    return index if isinstance(index, dict) else {}


def spec_index_data() -> dict:
    """What index.json holds: every shipped spec's file parsed as YAML, with its checksum."""
    out = {}
    for name in shipped_names():
        path = SPEC_DIR / f"{name}.yaml"
        out[name] = {"crc32": _checksum(path.read_bytes()), "spec": _read_yaml(path)}
    return out


def write_spec_index() -> None:
    """Write index.json anew, after a shipped spec changed or was added:
    python -c 'from inspector.spec.loading import write_spec_index; write_spec_index()'"""
    import json

    text = json.dumps(spec_index_data(), indent=1, ensure_ascii=False, allow_nan=False)
    SPEC_INDEX.write_text(text + "\n", encoding="utf-8")
    _spec_index.cache_clear()


def shipped_specs() -> list[Spec]:
    return [load_spec(name) for name in shipped_names()]
