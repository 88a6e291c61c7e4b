"""GPT-2 checkpoints in both of their real forms, with transformers as the source of names and
shapes: as new transformers saves them, and as the hub published them (no prefix, a causal-mask
buffer per layer, no lm_head). Header-only hole files, so the full sizes cost nothing."""

from __future__ import annotations

from pathlib import Path

from conftest import write_hole_safetensors


def transformers_shapes(**config) -> dict[str, list[int]]:
    """Names and shapes of GPT2LMHeadModel's state dict as save_pretrained writes it
    (the tied lm_head.weight is dropped on saving, as transformers does)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    with torch.device("meta"):
        model = GPT2LMHeadModel(GPT2Config(**config))
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        shapes.pop("lm_head.weight")
    return shapes


def published_shapes(**config) -> dict[str, list[int]]:
    """The hub's original layout: no `transformer.` prefix, and `h.N.attn.bias`
    [1, 1, n_ctx, n_ctx] causal masks."""
    shapes = {name.removeprefix("transformer."): shape
              for name, shape in transformers_shapes(**config).items()}
    n_ctx = config.get("n_positions", 1024)
    for i in range(config.get("n_layer", 12)):
        shapes[f"h.{i}.attn.bias"] = [1, 1, n_ctx, n_ctx]
    return shapes


def write_gpt2(folder: Path, form: str = "transformers", drop: tuple[str, ...] = (),
               with_config: bool = True, **config) -> Path:
    """A header-only GPT-2 folder (model.safetensors, and config.json unless told not to)."""
    import json

    from transformers import GPT2Config

    folder.mkdir(parents=True, exist_ok=True)
    shapes = published_shapes(**config) if form == "published" else transformers_shapes(**config)
    tensors = {name: ("F32", shape) for name, shape in shapes.items() if name not in drop}
    write_hole_safetensors(folder / "model.safetensors", tensors)
    if with_config:
        (folder / "config.json").write_text(json.dumps(GPT2Config(**config).to_dict()))
    return folder
