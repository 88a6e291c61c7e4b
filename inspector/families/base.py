"""A family: everything the toolkit knows about one transformers `model_type`, as data.

A family module builds one `Family` (or a few that share layouts, as Llama and Mistral do) and the
registry (`inspector.families`) derives every other lookup from them: spec family names, the
config.json reader and writer, the layouts a checkpoint is matched against, GGUF names, what
`build --out` writes. Nothing outside `inspector/families/` names a family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from inspector.layout import Layout

# config.json key (or keys, the first present wins) for each spec field.
ConfigKeys = dict[str, "str | tuple[str, ...]"]


@dataclass(frozen=True)
class Family:
    name: str  # the spec's `family:`; also config.json's model_type unless `model_type` differs
    hf_class: str  # the transformers class whose state dict `layouts[0]` names (build --out)
    layouts: tuple[Layout, ...]  # hub layouts; the first is the one `build --out` writes
    config_keys: ConfigKeys = field(default_factory=dict)
    # Spec fields the family fixes, and transformers' defaults for keys config.json leaves out.
    defaults: dict = field(default_factory=dict)
    model_type: str = ""  # config.json model_type, when it is not `name` (GPT-3 writes gpt2)
    activation_key: str | None = "hidden_act"  # the config key naming the activation
    bias_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # config key -> kinds
    # config.json -> spec data, for what a key table cannot say (a default computed from another
    # key, a nested rope_parameters). Called after the key table, may edit `data` in place;
    # raises ValueError for a config the family's block cannot be (said as a spec error).
    read_config: Callable[[dict, dict], None] | None = None
    # spec -> config.json entries the key table cannot write (the inverse of read_config).
    write_config: Callable[[object, dict], None] | None = None
    tie_key: str | None = "tie_word_embeddings"  # the config key that ties the unembedding
    # The canonical name of an encoder-only model's last norm: T5EncoderModel keeps the name its
    # encoder's norm has beside a decoder (`encoder_norm`); other encoders end in `final_norm`.
    encoder_only_norm: str = "final_norm"
    # The files, not config.json, say whether the unembedding is tied: transformers ties it
    # exactly where the files store none of their own (T5 in transformers 5 forces
    # tie_word_embeddings true, and unties a stored lm_head whose values differ, as a trained
    # one's do), so a stored unembedding is never read as a copy of the embedding.
    tie_from_files: bool = False
    gguf_arch: str | None = None  # llama.cpp's architecture name (gguf.MODEL_ARCH_NAMES)
    # llama.cpp's converter reorders the query and key rows of these architectures for its
    # rotary kernel (LlamaModel.permute); other architectures are stored as transformers has them.
    gguf_rotary_permuted: bool = False
    # llama.cpp's converter stores every norm weight plus this (Gemma's: 1 + w, the gain itself).
    gguf_norm_offset: float = 0.0
    spec_only: bool = False  # a spec family with no config.json of its own (gpt3 is gpt2's)
    # spec -> the layout `build --out` writes, where the hub layout names one canonical module
    # several ways and the config decides which (Falcon's input_layernorm or ln_attn).
    writes: Callable[[object], Layout] | None = None

    @property
    def config_model_type(self) -> str:
        return self.model_type or self.name

    @property
    def hub_layout(self) -> Layout:
        return self.layouts[0]

    def write_layout(self, spec) -> Layout:
        """The layout `build --out` writes `spec` in."""
        return self.writes(spec) if self.writes is not None else self.hub_layout
