"""The transformers path: a config.json whose model_type no family module describes is read from
the model transformers itself builds from it (inspector.spec.reference_build), and that
description is kept in inspector's cache under (transformers version, the config's content), so
that only the first call imports torch.

A `ReferenceSpec` is a Spec that carries the description: `count` adds up its rows, `check`
compares a checkpoint with it tensor by tensor, `inspect` takes roles, buffers and ties from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from math import prod

from inspector.errors import SpecError
from inspector.formats import header_cache
from inspector.spec.schema import Spec
from inspector.spec.state import shared_layers, state_kinds, state_layers
from inspector.vocab.roles import Role
from inspector.vocab.rows import Row

FAMILY = "transformers"  # the family a ReferenceSpec names: transformers' own model
CACHE_FOLDER = "transformers"  # under INSPECTOR_CACHE
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # a cache entry is input: read within a bound
FORMAT = 2  # of a cached description: 2 cuts fused tensors (an entry of another is built again)


class UnknownToTransformers(SpecError):
    """A model_type neither a family module nor the installed transformers knows."""


@dataclass(frozen=True)
class ReferenceSpec(Spec):
    # The description (see reference_build.build_description); not part of equality or hash.
    description: dict = field(default=None, compare=False, hash=False, repr=False)
    # The layers whose tensors include attention's keys (None: every layer).
    attention_layers: frozenset | None = field(default=None, compare=False, hash=False,
                                               repr=False)
    # The fixed state of the layers without keys and values (inspector.spec.state).
    state_kinds: tuple = field(default=(), compare=False, hash=False, repr=False)
    # The layers that read another layer's keys and values and cache none of their own.
    kv_shared_layers: frozenset = field(default=frozenset(), compare=False, hash=False, repr=False)

    def attends(self, layer: int) -> bool:
        return self.attention_layers is None or layer in self.attention_layers


def transformers_version() -> str | None:
    """The installed transformers' version, read without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return None


def config_key(config: dict) -> str:
    """The cache key of a config's content: SHA-256 of its canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def describe(config: dict, origin: str = "config.json") -> dict:
    """The description of the model transformers builds from `config`: from the cache, else
    built (importing torch) and cached. SpecError when transformers is absent or cannot."""
    version = transformers_version()
    if version is None:
        raise UnknownToTransformers(origin, f"model_type {config.get('model_type')!r} has no family module"
                                " and transformers is not installed to describe it")
    key = config_key(config)
    path = header_cache.root() / CACHE_FOLDER / header_cache.SAFE.sub("_", version) / f"{key}.json"
    cached = _load(path, version, key)
    if cached is not None:
        return cached
    from inspector.spec.reference_build import build_description

    try:
        description = build_description(config)
    except LookupError as e:
        raise UnknownToTransformers(origin, str(e)) from e
    except ValueError as e:
        raise SpecError(origin, str(e)) from e
    description.update(transformers=version, key=key, format=FORMAT)
    header_cache.write_entry(path, json.dumps(description, separators=(",", ":")).encode())
    return description


def _load(path, version: str, key: str) -> dict | None:
    """A cached description that says it is the one asked for, else None (then built again)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_ENTRY_BYTES + 1)
        entry = json.loads(data) if len(data) <= MAX_ENTRY_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(entry, dict) and entry.get("transformers") == version
            and entry.get("format") == FORMAT
            and entry.get("key") == key and isinstance(entry.get("tensors"), list)
            and isinstance(entry.get("tied"), list) and isinstance(entry.get("parameters"), int)):
        return None
    if not all(isinstance(t, dict) and isinstance(t.get("name"), str)
               and isinstance(t.get("shape"), list) for t in entry["tensors"] + entry["tied"]):
        return None
    return entry


# A config's keys for the sizes a Spec holds (the first found wins; its text config's too).
SIZE_KEYS = {
    "n_layers": ("num_hidden_layers", "n_layer", "n_layers", "num_layers"),
    "d_model": ("hidden_size", "n_embd", "d_model", "dim", "model_dim", "embed_dim"),
    "n_heads": ("num_attention_heads", "n_head", "n_heads", "num_heads"),
    "n_kv_heads": ("num_key_value_heads", "n_kv_heads", "num_kv_heads"),
    "d_ff": ("intermediate_size", "n_inner", "ffn_dim", "d_ff", "ffn_hidden_size"),
    "vocab_size": ("vocab_size", "n_vocab"),
    "n_ctx": ("max_position_embeddings", "n_positions", "n_ctx", "max_seq_len"),
    "d_head": ("head_dim",),
}


def reference_spec(config: dict, origin: str, name: str | None = None) -> ReferenceSpec:
    """A Spec of the model transformers builds from `config`, carrying its description."""
    description = describe(config, origin)
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    sizes = {}
    for key, config_keys in SIZE_KEYS.items():
        found = next((holder[k] for holder in (config, text) for k in config_keys
                      if isinstance(holder.get(k), int) and not isinstance(holder.get(k), bool)
                      and holder.get(k) > 0), None)
        sizes[key] = found
    experts = description.get("experts") or {}
    d_model, n_heads = sizes["d_model"] or 1, sizes["n_heads"] or 1
    attending = frozenset(t["layer"] for t in description["tensors"]
                          if t.get("role") == Role.KEY.value or Role.KEY.value in
                          ((t.get("cut") or {}).get("roles") or ())) - state_layers(config)
    return ReferenceSpec(
        name=name or config.get("_name_or_path") or str(config.get("model_type")),
        family=FAMILY, source=f"config.json ({origin}), as transformers"
                              f" {description['transformers']} builds {description['class']}",
        vocab_size=sizes["vocab_size"] or 0, n_ctx=sizes["n_ctx"] or 0, d_model=d_model,
        n_layers=sizes["n_layers"] or 0, n_heads=n_heads, d_ff=sizes["d_ff"] or 0,
        n_kv_heads=sizes["n_kv_heads"] or n_heads,
        # (a head width other than d_model / n_heads is the model's, not a surprise to warn of)
        d_head=sizes["d_head"] or d_model // n_heads,
        n_experts=experts.get("n_experts") or 0,
        experts_per_token=experts.get("experts_per_token"),
        tied_embeddings=is_tied(description), path=origin, description=description,
        attention_layers=attending,
        state_kinds=state_kinds(config, description, attending),
        kv_shared_layers=shared_layers(config, sizes["n_layers"] or 0))


def is_tied(description: dict) -> bool:
    """The unembedding is the embedding's storage, as transformers ties them."""
    return any(t.get("role") == Role.UNEMBEDDING.value and t.get("tied_to") ==
               Role.EMBEDDING.value for t in description["tied"])


def description_rows(description: dict, buffers: bool = False) -> list[Row]:
    """The rows of every stored tensor (parameters; buffers too when asked), a tensor that
    stacks every expert cut into one row per expert, then the tied repeats (not counted)."""
    rows = []
    for t in description["tensors"]:
        if t.get("kind") == "buffer" and not buffers:
            continue
        rows += tensor_rows(t, t["name"], tuple(t["shape"]), t.get("dtype", ""), 0)
    for t in description["tied"]:
        rows.append(Row(t["name"], _role(t.get("role")), t.get("layer"), t.get("kind", "weight"),
                        tuple(t["shape"]), canonical=t["name"], tied_to=_role(t.get("tied_to"))
                        or _role(t.get("role"))))
    return rows


def tensor_rows(t: dict, stored: str, shape: tuple, dtype: str, nbytes: int) -> list[Row]:
    """The rows of one described tensor stored as `stored` with `shape`: one per expert where
    it stacks every expert, one per part where the module's forward cuts it."""
    kind = t.get("kind") or "unmapped"
    role = _role(t.get("role"))
    expert, layer, name = t.get("expert"), t.get("layer"), t["name"]
    cut = _cut(t, shape)
    if expert == -1 and len(shape) >= 1 and shape[0] > 0:
        n = shape[0]
        return [row for e in range(n) for row in _parts(
            Row(stored, role, layer, kind, shape[1:], canonical=f"{name}[{e}]", dtype=dtype,
                nbytes=nbytes // n, expert=e), cut, 1)]
    expert = expert if isinstance(expert, int) else None
    logical = t.get("logical")
    if cut is None and isinstance(logical, list) and list(shape) == list(t["shape"]) and \
            len(logical) == len(shape) and all(isinstance(d, int) for d in logical):
        # stored padded: the parameter's own rows counted, the stored ones said
        return [Row(stored, role, layer, kind, tuple(logical), canonical=name, dtype=dtype,
                    nbytes=nbytes or 0, stored=prod(shape), expert=expert)]
    return _parts(Row(stored, role, layer, kind, shape, canonical=name, dtype=dtype,
                      nbytes=nbytes or 0, expert=expert), cut, 0)


def _cut(t: dict, shape: tuple) -> dict | None:
    """The description's cut of a fused tensor, where the stored shape still adds up to it."""
    cut = t.get("cut")
    if not isinstance(cut, dict) or not isinstance(cut.get("axis"), int):
        return None
    axis, sizes, roles = cut["axis"], cut.get("sizes"), cut.get("roles")
    if not (isinstance(sizes, list) and isinstance(roles, list) and len(sizes) == len(roles)
            and 0 <= axis < len(shape) and all(isinstance(s, int) for s in sizes)
            and sum(sizes) == shape[axis]):
        return None
    return cut


def _parts(whole: Row, cut: dict | None, skipped: int) -> list[Row]:
    """The row of a whole tensor, or one per part of a cut (its axis counted on the stored
    shape, of which the first `skipped` axes are gone: the experts')."""
    if cut is None:
        return [whole]
    axis, size_of_all, shape = cut["axis"] - skipped, sum(cut["sizes"]), whole.shape
    return [replace(whole, role=_role(part) or whole.role,
                    shape=shape[:axis] + (size,) + shape[axis + 1:],
                    nbytes=whole.nbytes * size // size_of_all)
            for part, size in zip(cut["roles"], cut["sizes"])]


def _role(value) -> Role | None:
    try:
        return Role(value) if value else None
    except ValueError:
        return None


def described_total(description: dict) -> int:
    """The parameters the description stores (what num_parameters() says)."""
    return sum(prod(t.get("logical") or t["shape"]) for t in description["tensors"]
               if t.get("kind") != "buffer")


CAUSAL_HEADS = ("ForCausalLM", "LMHeadModel")  # class name endings of a causal-LM head


def uses_reference(config: object) -> bool:
    """Whether `config` is read by the transformers path: a model_type no family module (nor
    multimodal composite) describes, or an encoder family's config whose architecture is a
    causal-LM head its module does not describe (BertLMHeadModel, RobertaForCausalLM: no
    pooler, the decoder bias, the tie)."""
    from inspector import families

    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        return False
    if families.composite_of(config) is not None:
        return False
    family = families.by_model_type(config["model_type"])
    if family is None:
        return True
    named = config.get("architectures")
    head = named[0] if isinstance(named, list) and named and isinstance(named[0], str) else ""
    return (family.defaults.get("architecture") == "encoder" and head.endswith(CAUSAL_HEADS)
            and head != family.hf_class)
