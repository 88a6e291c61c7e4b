"""A layout: how one family names and shapes its tensors on disk, as a table of rules.

Each rule maps a stored name (with `{i}` for the layer) to canonical names. Empty targets mark a
buffer kept on purpose (a causal mask, rotary frequencies, position ids), never a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    transposed: bool = False  # stored (in, out), as GPT-2's Conv1D; canonical is (out, in)
    rotary_permuted: bool = False  # rows reordered for rotary by llama.cpp; undone on loading
    # The stored layer number counts an encoder-decoder's decoder blocks from 0; canonical
    # numbers continue after the encoder's blocks (T5's decoder.block.{i}: layers.{n_layers + i}).
    after_encoder: bool = False
    what: str = ""  # for a buffer: what it holds, in a word or two (reports name it)

    @property
    def is_buffer(self) -> bool:
        return not self.targets

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
    _by_pattern: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_pattern.update((rule.pattern, rule) for rule in self.rules)

    def match(self, name: str) -> tuple[Rule, int | None] | None:
        """The rule for a stored name and the layer it names, or None.

        The layer number is a whole dot-separated part (`h.11.attn...`, `blk.3.ffn_up...`), so
        a name is looked up as it is, then with its first all-digit part read as `{i}`: two
        dictionary lookups, no regular expressions (a 1T checkpoint has tens of thousands of
        names)."""
        for prefix in self.prefixes:
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            rule = self._by_pattern.get(rest)
            if rule is not None:
                return rule, None
            parts = rest.split(".")
            for at, part in enumerate(parts):
                if part.isdigit() and part.isascii():
                    parts[at] = "{i}"
                    rule = self._by_pattern.get(".".join(parts))
                    if rule is not None:
                        return rule, int(part)
                    break
        return None
