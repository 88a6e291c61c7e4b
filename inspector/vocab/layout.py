"""A layout: how one family names and shapes its tensors on disk, as a table of rules.

Each rule maps a stored name (with `{i}` for the layer) to canonical names. Empty targets mark a
buffer kept on purpose (a causal mask, rotary frequencies, position ids), never a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache


@dataclass(frozen=True)
class Rule:
    pattern: str  # stored name, `{i}` standing for the layer number
    targets: tuple[str, ...] = ()  # canonical names; () for a buffer
    split_axis: int | None = None  # a fused tensor cut into len(targets) parts on this axis
    # The size of each part, as names of Spec attributes (("attn_width", "kv_width", "kv_width")
    # for a grouped-query fused qkv); None: equal parts.
    split_sizes: tuple[str, ...] | None = None
    # The parts alternate per key/value head ("(g parts) ...", g = n_kv_heads, each group's
    # parts sized split_sizes / g): GPT-NeoX's and BLOOM's query_key_value "(h three d)",
    # Falcon 40B's "(g (q_per_g + 2) d)", and with one key/value head (multi-query: StarCoder's
    # c_attn, Falcon 7B) simply consecutive blocks. Else always consecutive ("(parts h d) ...").
    head_interleaved: bool = False
    # The parts alternate element by element on split_axis ("(n parts)"): gpt-oss's
    # gate_up_proj, whose columns are gate, up, gate, up, ...
    interleaved: bool = False
    transposed: bool = False  # stored (in, out), as GPT-2's Conv1D; canonical is (out, in)
    rotary_permuted: bool = False  # rows reordered for rotary by llama.cpp; undone on loading
    # Axis 0 holds every routed expert of the layer, as transformers >= 5 stores them (one 3-D
    # `experts.gate_up_proj` a layer): each expert's slice is then read as the rule says, its
    # targets naming expert `{e}`. (A pattern with `{e}` names one expert's tensor instead.)
    experts: bool = False
    # Stored = canonical + value_offset (llama.cpp writes Gemma's norm gains 1 + w as they act);
    # undone on loading.
    value_offset: float = 0.0
    # The stored layer number counts an encoder-decoder's decoder blocks from 0; canonical
    # numbers continue after the encoder's blocks (T5's decoder.block.{i}: layers.{n_layers + i}).
    after_encoder: bool = False
    what: str = ""  # for a buffer: what it holds, in a word or two (reports name it)

    @property
    def is_buffer(self) -> bool:
        return not self.targets

    def expert_in(self, name: str) -> int | None:
        """The expert a stored name holds, where the pattern has `{e}` (`...experts.{e}.w1...`):
        the number in the same place counted from the end (prefixes differ at the start)."""
        parts = self.pattern.split(".")
        if "{e}" not in parts:
            return None
        return int(name.split(".")[parts.index("{e}") - len(parts)])

    def canonical_layer(self, stored: int | None, n_encoder_layers: int) -> int | None:
        """The canonical number of the block a stored name's layer number counts."""
        return stored + n_encoder_layers if self.after_encoder and stored is not None else stored


@dataclass(frozen=True)
class Layout:
    name: str
    rules: tuple[Rule, ...]
    prefixes: tuple[str, ...] = ("",)  # optional leading parts of names, tried in turn;
    # the last is the one transformers writes today
    has_lm_head: bool = True  # a decoder: a missing unembedding means it is tied
    family: str = ""  # the family it belongs to, where only one has it (a GGUF layout)
    # A stored rotary `inv_freq` covers the whole head (d_head / 2 frequencies), so it tells
    # d_head when no config does (older Llama checkpoints stored one per layer).
    rotary_inv_freq_is_full_head: bool = False
    # Patterns every checkpoint in this layout stores, which its look-alikes lack: where two
    # layouts recognise the same names, the one missing its own is not the checkpoint's.
    requires: tuple[str, ...] = ()
    _by_pattern: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_pattern.update((rule.pattern, rule) for rule in self.rules)

    def match(self, name: str) -> tuple[Rule, int | None] | None:
        """The rule for a stored name and the layer it names, or None.

        The layer number is a whole dot-separated part (`h.11.attn...`, `blk.3.ffn_up...`), so
        a name is looked up as it is, then with its first all-digit part read as `{i}`: two
        dictionary lookups, no regular expressions (a 1T checkpoint has tens of thousands of
        names). A name holding a brace matches nothing: `{i}` and `{e}` in a pattern stand for
        numbers, never for themselves."""
        if "{" in name:
            return None
        for prefix in self.prefixes:
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            rule = self._by_pattern.get(rest)
            if rule is not None:
                return rule, None
            parts = rest.split(".")
            numbers = [at for at, part in enumerate(parts) if part.isdigit() and part.isascii()]
            if numbers:
                parts[numbers[0]] = "{i}"
                rule = self._by_pattern.get(".".join(parts))
                if rule is None and len(numbers) > 1:  # one expert's tensor: `...experts.{e}...`
                    parts[numbers[1]] = "{e}"
                    rule = self._by_pattern.get(".".join(parts))
                if rule is not None:
                    return rule, int(rest.split(".")[numbers[0]])
        return None


CANONICAL_NAME = "canonical"


@cache
def canonical_layout() -> Layout:
    """The layout of the model `build` makes, saved with torch: canonical names as they are."""
    from inspector.vocab.canonical import MODULES

    return Layout(name=CANONICAL_NAME, rules=tuple(
        Rule(f"{module}.{kind}", (f"{module}.{kind}",))
        for module in MODULES
        for kind in ("weight", "bias")
    ))
