"""The boxes of rows that carry no canonical name (the transformers path keeps the stored
names: `model.layers.0.mamba.in_proj.weight`): their module is placed by its role, its layer
and expert, and the words of its stored name, so that such a checkpoint is drawn with the same
boxes as a family's, a state-space or linear-attention mixer as a box of its own."""

from __future__ import annotations

import re

from inspector.vocab.canonical import MODULES
from inspector.vocab.roles import Role
from inspector.vocab.rows import UNMAPPED, Row, each_row

# A mixer's kind, by the words of its module's stored name (the first that matches): Mamba,
# Jamba, Falcon-H1 and Nemotron-H name theirs `mamba` or `mixer`; LFM2 a short convolution
# `conv`; Qwen3-Next, Kimi-Linear and MiniMax `linear_attn`, RWKV `attention`. Mixer tensors in
# a module no word names (an indexer or a gate inside attention) are one box of the block's.
MIXER_KINDS = (("ssm", re.compile(r"mamba|mixer|ssm")),
               ("short_conv", re.compile(r"(^|\.|_|s)conv(\.|$)")),
               ("linear_attn", re.compile(r"linear|delta|lightning|rwkv|^attention$|recurrent"
                                          r"|temporal|lstm")))
MIXER_TITLES = {"ssm": "state-space mixer", "linear_attn": "linear attention",
                "short_conv": "short convolution", "mixer": "other mixer tensors"}
# (module key inside a block -> title) for the boxes of a mixer's sublayer
TITLES = {**MIXER_TITLES,
          **{f"{kind}.output": "output projection" for kind in MIXER_TITLES},
          **{f"{kind}.norm": f"{title}'s norms" for kind, title in MIXER_TITLES.items()},
          "mixer_norm": "mixer norm"}

OTHER = "other."  # a module no box of a family's has: drawn apart under its stored name
# Attention outside any mixer (Jamba's attention layers): its input norm is attention's
ATTENTION_ROLES = (Role.QUERY, Role.KEY)
_LAYER = re.compile(r"(^|\.)(layers|h|blocks|block|layer|blk)\.\d+\.")
_KNOWN = set(MODULES)
_MIXER_MODULE = re.compile(r"(.*?(?:^|\.)(?:layers|h|blocks|block|layer|blk)\.\d+\.([^.]+))\.")
_ATTENTION = (Role.QUERY, Role.KEY, Role.VALUE)
_BLOCK = {Role.QUERY: "attn.query", Role.KEY: "attn.key", Role.VALUE: "attn.value",
          Role.OUTPUT: "attn.output", Role.ROUTER: "mlp.router"}
_OUTSIDE = {Role.EMBEDDING: "embed", Role.POSITION: "pos", Role.TOKEN_TYPE: "token_type",
            Role.UNEMBEDDING: "unembed", Role.POOLER: "pooler", Role.HEAD: "mlm_transform"}


def is_canonical(key: str) -> bool:
    """A module key a family's layout gives (drawn where its name says)."""
    return key == UNMAPPED or key in _KNOWN


def mixer_modules(rows: list[Row]) -> dict[str, str]:
    """The stored module (with its layer) of each mixer -> its kind (ssm, linear_attn, ...):
    the block's child that holds the mixer's tensors (`model.layers.0.mamba`). A module its
    name does not say (Kimi-Linear's delta layers' `self_attn`) is linear attention where it
    holds no query, key or value; else not a mixer module (an indexer or gate inside attention:
    its mixer tensors are one box of the block's)."""
    out: dict[str, str | None] = {}
    attention: set[str] = set()  # modules holding a query, key or value
    for row in each_row(rows):
        found = _MIXER_MODULE.match(_name(row))
        if found is None or row.role not in (Role.MIXER, *_ATTENTION):
            continue
        module = found.group(1)
        if row.role != Role.MIXER:
            attention.add(module)
        if row.role == Role.MIXER and module not in out:
            local = found.group(2).lower()
            out[module] = next((kind for kind, words in MIXER_KINDS if words.search(local)), None)
    return {module: kind or "linear_attn" for module, kind in out.items()
            if kind is not None or module not in attention}


def role_key(row: Row, mixers: dict[str, str], attention: bool) -> str:
    """The box of a row placed by its role (see the module's docstring)."""
    if row.role is None:
        return UNMAPPED
    name = _name(row).lower()
    if row.layer is None:
        if row.role == Role.NORM:
            return "embed_norm" if "emb" in name else "final_norm"
        return _OUTSIDE.get(row.role, OTHER + _strip(row.tensor))
    mixer = next((m for m in mixers if _name(row).startswith(m + ".")), None)
    if mixer is not None:
        kind = mixers[mixer]
        part = {Role.MIXER: "", Role.OUTPUT: ".output", Role.NORM: ".norm"}.get(row.role)
        return f"layers.{{i}}.{kind}{part}" if part is not None \
            else f"layers.{{i}}.{kind}.{row.role.value}"
    return "layers.{i}." + _in_block(row, name, attention)


def _in_block(row: Row, name: str, attention: bool) -> str:
    """A block's module outside any mixer, by role and stored name."""
    role = row.role
    if role == Role.NORM:
        return _norm(name, attention)
    if role in (Role.UP, Role.GATE, Role.DOWN):
        where = ("mlp.experts.{e}" if row.expert is not None
                 else "mlp.shared" if "shared" in name else "mlp")
        return f"{where}.{role.value}"
    if role == Role.ROUTER and "shared" in name:
        return "mlp.shared_gate"
    if role == Role.MIXER:  # in a module no word names: the block's own mixer tensors
        return "mixer"
    return _BLOCK.get(role, OTHER + _strip(row.tensor))


def _norm(name: str, attention: bool) -> str:
    """A block's norm by its stored name: Llama's input and post-attention norms, Gemma's
    pre- and post-feed-forward ones, GPT-2's ln_1 and ln_2."""
    if re.search(r"q_(layer)?norm|query_norm", name):
        return "attn.q_norm"
    if re.search(r"k_(layer)?norm|key_norm", name):
        return "attn.k_norm"
    if re.search(r"post_(feedforward|ff|mlp)", name):
        return "mlp_post_norm"
    if re.search(r"pre_(feedforward|ff|mlp)|ffn_norm|ln_2|mlp_norm|post_attention", name):
        return "mlp_norm"
    return "attn_norm" if attention else "mixer_norm"


def _name(row: Row) -> str:
    """The Hugging Face name of a row: the one the transformers path described (a GGUF's
    tensor renamed by llama.cpp is read under it), else the stored one."""
    return row.canonical or row.tensor


def _strip(tensor: str) -> str:
    """A stored name without its layer and suffix: the key of a module drawn apart."""
    name = re.sub(r"\.(weight|bias)$", "", tensor)
    return _LAYER.split(name)[-1]
