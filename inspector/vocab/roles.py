"""The role vocabulary: where a tensor's values come from. Every number is a sum over roles."""

from enum import Enum


class Role(str, Enum):
    EMBEDDING = "embedding"
    POSITION = "position"
    TOKEN_TYPE = "token_type"
    QUERY = "query"
    KEY = "key"
    VALUE = "value"
    OUTPUT = "output"
    # The gate of a mixture of experts: scores the experts for each token (and Qwen2-MoE's gate
    # of its shared expert). Not `gate`, which is a gated MLP's second projection.
    ROUTER = "router"
    UP = "up"
    GATE = "gate"
    DOWN = "down"
    UNEMBEDDING = "unembedding"
    NORM = "norm"
    POOLER = "pooler"
    # A task head's own layers (BERT's masked-LM transform, its next-sentence classifier): not
    # the embedding, not a block, not the unembedding the transform feeds.
    HEAD = "head"
    # What a token mixer other than attention holds of its own: a state-space layer's input and
    # state projections, convolution, decay (A_log), skip (D) and step bias (dt_bias) (Mamba,
    # Jamba, Falcon-H1, Nemotron-H), a linear attention's convolutions and gates (Qwen3-Next,
    # Kimi-Linear), a short convolution (LFM2). None of query/key/value says them, and they are
    # neither MLP nor norm; their output projection is still `output`.
    MIXER = "mixer"

    def __str__(self) -> str:
        return self.value


# Display order: the order a token meets them.
ROLE_ORDER = {role: i for i, role in enumerate(Role)}
_ORDER_BY_NAME = {role.value: i for role, i in ROLE_ORDER.items()}


def role_sort_key(name: str) -> int:
    """Sort key of a role by its name in tables: ROLE_ORDER, a name outside the vocabulary
    ("unmapped") last."""
    return _ORDER_BY_NAME.get(name, len(_ORDER_BY_NAME))

# Roles whose matrices are cut into attention heads.
HEAD_ROLES = (Role.QUERY, Role.KEY, Role.VALUE, Role.OUTPUT)

# `--weights-only` keeps the matrices that transform activations: no biases, no norms, and no
# position table (the seed note's GPT-3 175B table counts exactly these).
NOT_WEIGHTS = (Role.POSITION, Role.NORM)
