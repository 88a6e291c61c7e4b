"""transformers models to compare ours against: tiny configs of each family, parameters scrambled
so that every bias, norm gain and head carries weight (transformers' own init leaves biases at 0
and gains at 1, which would hide a bias or norm loaded into the wrong place), and GPT-2's published
form written from a state dict. The largest differences measured are printed (`pytest -s`)."""

from __future__ import annotations

from pathlib import Path

FORWARD_TOLERANCE = 1e-4  # fp32, largest absolute difference


def scramble(model, seed: int = 0, std: float = 0.2):
    """Every parameter drawn anew: matrices normal(0, std), norm gains 1 + normal(0, std)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator) * std
            gain = p.dim() == 1 and ("ln" in name or "norm" in name.lower())
            p.copy_(1.0 + noise if gain and not name.endswith("bias") else noise)
    return model.eval()


def tiny_llama_config(**overrides):
    """Grouped-query (4 query heads, 2 key-value heads) with d_head 16, so the attention width
    4 x 16 = 64 differs from d_model 32; rope_theta and eps away from their defaults."""
    from transformers import LlamaConfig

    return LlamaConfig(**{
        "vocab_size": 120, "hidden_size": 32, "intermediate_size": 80, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 500000.0,
        "tie_word_embeddings": False, **overrides})


def tiny_bert_config(**overrides):
    from transformers import BertConfig

    return BertConfig(**{
        "vocab_size": 90, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 64, "max_position_embeddings": 40, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, **overrides})


def published_gpt2_state(state: dict, n_layers: int, n_ctx: int) -> dict:
    """GPT-2 as the hub published it: no `transformer.` prefix, no lm_head (tied), and a
    [1, 1, n_ctx, n_ctx] lower-triangular causal mask `h.N.attn.bias` per layer."""
    import torch

    out = {name.removeprefix("transformer."): t.detach().clone().contiguous()
           for name, t in state.items() if name != "lm_head.weight"}
    mask = torch.tril(torch.ones(n_ctx, n_ctx)).view(1, 1, n_ctx, n_ctx)
    for i in range(n_layers):
        out[f"h.{i}.attn.bias"] = mask.clone()
    return out


def save_state(state: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt"})
    return path


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def report(what: str, diff: float, scale: float) -> None:
    print(f"\n[forward] {what}: largest |difference| {diff:.3e} (largest |value| {scale:.3f})")
