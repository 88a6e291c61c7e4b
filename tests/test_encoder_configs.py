"""ModernBERT's and ViT's config.json files as specs: the keys the hub's files use (transformers
4), what transformers 5 writes, and configs the built model cannot be, refused in one line."""

import json

import pytest
from conftest import run_cli

from inspector.spec.config_json import spec_from_config

# ModernBERT-base's config.json keys as the hub has them (transformers 4.48): the layer pattern
# as global_attn_every_n_layers, the two rotary bases as global_/local_rope_theta.
MODERNBERT_HUB = {
    "architectures": ["ModernBertForMaskedLM"], "model_type": "modernbert",
    "vocab_size": 50368, "hidden_size": 768, "intermediate_size": 1152,
    "num_hidden_layers": 22, "num_attention_heads": 12, "max_position_embeddings": 8192,
    "hidden_activation": "gelu", "classifier_activation": "gelu", "norm_eps": 1e-5,
    "norm_bias": False, "attention_bias": False, "mlp_bias": False, "classifier_bias": False,
    "decoder_bias": True, "global_attn_every_n_layers": 3, "local_attention": 128,
    "global_rope_theta": 160000.0, "local_rope_theta": 10000.0, "tie_word_embeddings": True,
    "pad_token_id": 50283, "bos_token_id": 50281, "eos_token_id": 50282,
    "cls_token_id": 50281, "sep_token_id": 50282,
}


def test_modernbert_hub_config(tmp_path):
    """ModernBertModel: embedding 50368 x 768 = 38,682,624, embedding norm 768; a layer Wqkv
    3 x 768^2 = 1,769,472, Wo 589,824, Wi 2 x 1152 x 768 = 1,769,472, Wo 884,736, two norms
    1,536 = 5,015,040, x 22 less layer 0's attn_norm 768 = 110,330,112; final norm 768: total
    149,014,272. ModernBertForMaskedLM adds head.dense 589,824, head.norm 768 and the decoder's
    bias 50,368 (its weight is the embedding): 149,655,232, transformers' count on the meta
    device. Read as transformers 5 saves the same config (layer_types, rope_parameters), it is
    the same spec."""
    import torch
    from transformers import AutoConfig, ModernBertForMaskedLM

    hub = spec_from_config(MODERNBERT_HUB)
    assert hub.attention_pattern == ("dense", "local", "local") * 7 + ("dense",)
    assert (hub.rope_theta, hub.local_rope_theta, hub.local_window) == (160000.0, 10000.0, 128)
    config = AutoConfig.for_model(**MODERNBERT_HUB)
    with torch.device("meta"):
        assert ModernBertForMaskedLM(config).num_parameters() == 149_655_232
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "layer_types" in saved and "global_rope_theta" not in saved
    assert spec_from_config(saved, origin="saved") == spec_from_config(MODERNBERT_HUB,
                                                                       origin="saved")
    counted = run_cli("count", str(tmp_path / "config.json"), "--format", "json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)["total"] == 149_655_232


@pytest.mark.parametrize("config, said", [
    ({"model_type": "vit", "image_size": [224, 160]}, "image_size and patch_size must be"),
    ({"model_type": "vit", "pooler_output_size": 512}, "pooler_output_size 512 differs"),
    ({"model_type": "modernbert", "architectures": ["ModernBertForMaskedLM"],
      "classifier_activation": "relu"}, "classifier_activation 'relu' differs"),
    ({"model_type": "modernbert", "layer_types": ["full_attention", "chunked"]},
     "layer_types must be full_attention or sliding_attention"),
])
def test_configs_the_model_cannot_be(tmp_path, config, said):
    """One line on stderr, exit 2, no traceback."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = run_cli("count", str(path))
    assert result.returncode == 2
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_vit_from_tensor_shapes_alone(tmp_path):
    """Without config.json, ViT's names choose its layout and its shapes say d_model (the patch
    convolution's first dim, 32) and n_ctx (the position table's second, 4 x 4 patches + 1)."""
    import torch
    from transformers import AutoConfig, AutoModel

    with torch.device("cpu"):
        model = AutoModel.from_config(AutoConfig.for_model(
            "vit", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=48, image_size=16, patch_size=4))
    model.save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    result = run_cli("inspect", str(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    shape = json.loads(result.stdout)["shape"]
    assert (shape["family"], shape["d_model"], shape["n_ctx"], shape["vocab_size"]) == \
        ("vit", 32, 17, None)
