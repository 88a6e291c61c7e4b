"""The words a spec and a family share: activation names as config.json spells them, rotary
scalings and their keys, and the largest stack counted. Specs validate against them; families
read and write config.json with them; both sit above this module (docs/architecture.md)."""

# Every per-layer table has a row per layer, so a corrupt or hostile n_layers of 10**9 would run
# for hours. Far past any published model (DeepNet's 1,000 layers); counting 10,000 takes ~1 s.
MAX_LAYERS = 10_000

# config.json activation names -> ours.
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu",
               "relu": "relu", "silu": "silu", "swish": "silu"}

# Our activation name -> the first config name read as it (what `build --out` writes).
HF_ACTIVATIONS = {ours: theirs for theirs, ours in reversed(ACTIVATIONS.items())}


# Llama 3.1's rope_parameters, rope_type llama3 (transformers' _compute_llama3_parameters).
ROPE_SCALING_KEYS = ("rope_type", "factor", "low_freq_factor", "high_freq_factor",
                     "original_max_position_embeddings")
# Rotary scalings kept as config.json gives them: they change no tensor, so counting needs
# nothing of them, but inspector's model does not compute them (Phi-3's longrope: short and long
# per-frequency factors, switched by sequence length; dynamic NTK: theta grown with the sequence
# past the trained context), so building such a spec refuses.
UNBUILT_ROPE_TYPES = ("longrope", "dynamic")
# Scalings whose keys vary from config to config (yarn's mscale, mscale_all_dim, truncate,
# attention_factor): kept as config.json gives them, as the unbuilt ones are.
KEPT_ROPE_TYPES = (*UNBUILT_ROPE_TYPES, "yarn")
# Linear scaling (rope_type linear, Gemma 3's global layers): every frequency divided by factor.
LINEAR_ROPE_KEYS = ("rope_type", "factor")
ROPE_TYPES = {"llama3": ROPE_SCALING_KEYS, "linear": LINEAR_ROPE_KEYS}
