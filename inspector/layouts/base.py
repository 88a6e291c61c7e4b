"""A layout: how one family names and shapes its tensors on disk, as a table of rules.

Each rule maps a stored name (with `{i}` for the layer) to canonical names. Empty targets mark a
buffer kept on purpose (a causal mask, rotary frequencies, position ids), never a parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    pattern: str  # stored name, `{i}` standing for the layer number
    targets: tuple[str, ...] = ()  # canonical names; () for a buffer
    split_axis: int | None = None  # a fused tensor cut into len(targets) equal parts on this axis
    transposed: bool = False  # stored (in, out), as GPT-2's Conv1D; canonical is (out, in)
    rotary_permuted: bool = False  # rows reordered for rotary by llama.cpp; undone on loading

    @property
    def is_buffer(self) -> bool:
        return not self.targets


@dataclass(frozen=True)
class Layout:
    name: str
    rules: tuple[Rule, ...]
    prefixes: tuple[str, ...] = ("",)  # optional leading parts of names, tried in turn
    has_lm_head: bool = True  # a decoder: a missing unembedding means it is tied
    _exact: dict = field(default_factory=dict, compare=False, repr=False)
    _layered: list = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        for rule in self.rules:
            if "{i}" in rule.pattern:
                regex = re.escape(rule.pattern).replace(r"\{i\}", r"(\d+)")
                self._layered.append((re.compile(f"^{regex}$"), rule))
            else:
                self._exact[rule.pattern] = rule

    def match(self, name: str) -> tuple[Rule, int | None] | None:
        """The rule for a stored name and the layer it names, or None."""
        for prefix in self.prefixes:
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if rest in self._exact:
                return self._exact[rest], None
            for regex, rule in self._layered:
                m = regex.match(rest)
                if m:
                    return rule, int(m.group(1))
        return None
