"""A family: everything the toolkit knows about one transformers `model_type`, as data.

A family module builds one `Family` (or a few that share layouts, as Llama and Mistral do) and the
registry (`inspector.families`) derives every other lookup from them: spec family names, the
config.json reader and writer, the layouts a checkpoint is matched against, GGUF names, what
`build --out` writes. Nothing outside `inspector/families/` names a family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from inspector.vocab.layout import Layout
from inspector.vocab.rows import LANGUAGE_MODEL, PROJECTOR, VISION

# config.json key (or keys, the first present wins) for each spec field.
ConfigKeys = dict[str, "str | tuple[str, ...]"]

# The keys most of transformers' config classes share (PretrainedConfig's common names): a
# family's table starts from these and says only where it differs.
STANDARD_KEYS: ConfigKeys = {
    "vocab_size": "vocab_size",
    "n_ctx": "max_position_embeddings",
    "d_model": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "d_ff": "intermediate_size",
}


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
    # The component of layers numbered past the config's n_layers, where the family stores extra
    # ones (DeepSeek-V3's multi-token-prediction layer `model.layers.{num_hidden_layers}`: MTP).
    extra_layers: str | None = None

    @property
    def config_model_type(self) -> str:
        return self.model_type or self.name

    @property
    def hub_layout(self) -> Layout:
        return self.layouts[0]

    @property
    def stores_experts(self) -> bool:
        """Whether its layers hold routed experts (a rule reads an expert's tensor, or a tensor
        of every expert): what tells Mixtral's GGUF from Llama's, both llama.cpp's "llama"."""
        return any(rule.experts or "{e}" in rule.pattern for rule in self.hub_layout.rules)

    @property
    def spec_facts(self) -> dict:
        """What a spec's own lines ask of its family, held in the registry's index (JSON)."""
        return {"config_gives_d_head": "d_head" in self.config_keys,
                "encoder_only_norm": self.encoder_only_norm}

    def write_layout(self, spec) -> Layout:
        """The layout `build --out` writes `spec` in."""
        return self.writes(spec) if self.writes is not None else self.hub_layout


@dataclass(frozen=True)
class ComponentPrefix:
    """Stored names that start with `prefix` belong to `component`. The language model's part
    says what its family's layout calls the prefix (`text_as`): the name is read as
    `text_as + rest`, so its roles, heads and check are that family's, exactly. Canonical names
    outside the language model are the component's (`vision.layers.0.attn.query.weight`)."""
    prefix: str
    component: str
    text_as: str | None = None
    # For a part outside the language model: rules for its names after the prefix, where generic
    # name patterns cannot say (a fused vision `qkv`, CLIP's [CLS] vector); the rest by them.
    layout: Layout | None = None


@dataclass(frozen=True)
class Composite:
    """A multimodal `model_type` (LLaVA, Qwen2-VL, Gemma 3, Idefics 3): a language model of a
    known family beside a vision tower and a projector, told apart by stored-name prefixes.

    Tensors outside the language model get roles from generic name patterns
    (inspector.families.name_patterns); those none fits are still counted, as `unmapped`, under
    their component.
    """
    model_type: str
    text_family: str  # the family whose layout reads the language model (config: text_config)
    # the first whose prefix a name starts with decides; put longer first
    parts: tuple[ComponentPrefix, ...]

    def part(self, name: str) -> ComponentPrefix | None:
        return next((p for p in self.parts if name.startswith(p.prefix)), None)


def text_parts(text: str, *others: ComponentPrefix) -> tuple[ComponentPrefix, ...]:
    """The parts of a model whose language model's names sit under `text` (`language_model.`,
    `model.text_model.`): its `model.*` and `lm_head.*` as the text family stores them, after
    the `others`, whose longer prefixes must decide first."""
    return (*others, ComponentPrefix(f"{text}model.", LANGUAGE_MODEL, "model."),
            ComponentPrefix(f"{text}lm_head.", LANGUAGE_MODEL, "lm_head."),
            *((ComponentPrefix(text, LANGUAGE_MODEL, "model."),) if text else ()))


def tower_parts(tower: str, projector: str,
                vision: Layout | None = None) -> tuple[ComponentPrefix, ...]:
    """LLaVA's and Gemma 3's names, both ways transformers has written them: before version 5
    (`language_model.model.*`, `language_model.lm_head`, `vision_tower.*`, as `save_pretrained`
    still writes them) and its own (`model.language_model.*`, `model.vision_tower.*`,
    `lm_head`). `vision`: the tower's rules (inspector.families.vision)."""
    return (*text_parts("language_model.", ComponentPrefix(f"{tower}.", VISION, layout=vision),
                        ComponentPrefix(f"{projector}.", PROJECTOR)),
            *text_parts("model.language_model.",
                        ComponentPrefix(f"model.{tower}.", VISION, layout=vision),
                        ComponentPrefix(f"model.{projector}.", PROJECTOR)),
            ComponentPrefix("lm_head.", LANGUAGE_MODEL, "lm_head."))
