"""SmolLM3: Llama's names and tensors; some layers attend without rotary ("NoPE").

SmolLM3Config.no_rope_layers holds a flag per layer, 1 where rotary is applied; absent, it is
derived from no_rope_layer_interval (every interval-th layer has none). The embedding is tied
by default."""

from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, family, read_rope, write_rope

NO_ROPE_INTERVAL = 4  # SmolLM3Config's default


def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    n_layers = data.get("n_layers")
    if "rotary_layers" not in data and isinstance(n_layers, int) and 0 < n_layers <= 10_000:
        interval = config.get("no_rope_layer_interval") or NO_ROPE_INTERVAL
        data["rotary_layers"] = [int((i + 1) % interval != 0) for i in range(n_layers)]


def write_config(spec, config: dict) -> None:
    write_rope(spec, config)
    config["no_rope_layers"] = list(spec.rotary_layers or [1] * spec.n_layers)


SMOLLM3 = family("smollm3", "SmolLM3ForCausalLM",
                 config_keys={**CONFIG_KEYS, "rotary_layers": "no_rope_layers"},
                 # SmolLM3Config's defaults (SmolLM3-3B's sizes), tied
                 defaults={**DEFAULTS, "vocab_size": 128256, "n_ctx": 32768, "d_model": 2048,
                           "n_layers": 36, "n_heads": 16, "tied_embeddings": True,
                           "n_kv_heads": 4, "rope_theta": 2_000_000.0},
                 read_config=read_config, write_config=write_config,
                 gguf_rotary_permuted=False)

FAMILIES = (SMOLLM3,)
