"""ViT: ViTModel (its pooler included), roles from modeling_vit.py and the names its
save_pretrained writes (the hub's)."""

from family_cases import FamilyCase

# A 16-pixel image in 4-pixel patches: 16 patches + [CLS] = 17 positions.
CONFIG = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 48, "image_size": 16, "patch_size": 4, "num_channels": 3}

VIT_ROLES = {
    # The Conv2d that turns each patch into a d_model vector: the input embedding.
    "embeddings.patch_embeddings.projection.weight": ("embedding",),
    "embeddings.patch_embeddings.projection.bias": ("embedding",),
    # A learned input vector in front of the patches, as BERT's [CLS] is an embedding row.
    "embeddings.cls_token": ("embedding",),
    "embeddings.position_embeddings": ("position",),
    "encoder.layer.{i}.layernorm_before.weight": ("norm",),
    "encoder.layer.{i}.layernorm_before.bias": ("norm",),
    **{f"encoder.layer.{{i}}.attention.attention.{p}.{kind}": (p,)
       for p in ("query", "key", "value") for kind in ("weight", "bias")},
    "encoder.layer.{i}.attention.output.dense.weight": ("output",),
    "encoder.layer.{i}.attention.output.dense.bias": ("output",),
    "encoder.layer.{i}.layernorm_after.weight": ("norm",),
    "encoder.layer.{i}.layernorm_after.bias": ("norm",),
    "encoder.layer.{i}.intermediate.dense.weight": ("up",),
    "encoder.layer.{i}.intermediate.dense.bias": ("up",),
    "encoder.layer.{i}.output.dense.weight": ("down",),
    "encoder.layer.{i}.output.dense.bias": ("down",),
    "layernorm.weight": ("norm",), "layernorm.bias": ("norm",),
    "pooler.dense.weight": ("pooler",), "pooler.dense.bias": ("pooler",),
}

CASES = (
    FamilyCase("vit", CONFIG, VIT_ROLES, auto_class="AutoModel", output="last_hidden_state"),
    # The pooled [CLS] (dense + tanh) as well: the pooler is in the model's forward too.
    FamilyCase("vit", CONFIG, VIT_ROLES, auto_class="AutoModel", output="pooler_output",
               id="vit-pooled"),
)
