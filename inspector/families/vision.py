"""The vision towers of multimodal models, where generic name patterns
(inspector.families.name_patterns) do not say a tensor's role: only these rules; q/k/v/out_proj,
fc1/fc2, norms, the patch and position embeddings are read by the patterns. Canonical names as the
language model's, kept under the component (`vision.layers.0.attn.query.weight`).
"""

from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"

# CLIP's vision transformer (LLaVA's tower): its [CLS] vector ([d]), an embedding as ViT's is.
CLIP_VISION = Layout(name="clip_vision", has_lm_head=False, rules=(
    Rule("embeddings.class_embedding", ("cls.weight",)),
))

# Qwen2-VL's and Qwen2.5-VL's tower: one `qkv` Linear(dim, 3 dim) a block, cut into query, key
# and value thirds (VisionAttention: `qkv(x).reshape(seq, 3, heads, -1)`).
QWEN2_VL_VISION = Layout(name="qwen2_vl_vision", has_lm_head=False, rules=tuple(
    Rule(f"blocks.{{i}}.attn.qkv.{kind}",
         tuple(f"{L}.attn.{part}.{kind}" for part in ("query", "key", "value")), split_axis=0)
    for kind in ("weight", "bias")))
