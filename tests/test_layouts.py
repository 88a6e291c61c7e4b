"""The Llama and BERT layout tables against files transformers itself writes (tiny configs), and
what `inspect` can say of a checkpoint's shape: from config.json, else from the tensor shapes, and
the head count only when something says it. (GPT-2's two forms: test_gpt2_checkpoints.)"""

import json

import pytest
from conftest import run_cli, write_hole_safetensors
from gguf_files import tiny_llama_model, tiny_llama_spec_yaml

# Tiny Llama (TINY in gguf_files): V=96, d=32, L=2, 4 heads / 2 kv heads of 8, F=64.
# Per layer q 32x32 + k, v 16x32 each + o 32x32 + gate, up, down 64x32 each + 2 norms of 32
# = 1,024 + 1,024 + 1,024 + 6,144 + 64 = 9,280; embedding 96 x 32 = 3,072; final norm 32.
TINY_LLAMA_TIED = 3_072 + 2 * 9_280 + 32  # 21,664
TINY_LLAMA_UNTIED = TINY_LLAMA_TIED + 3_072  # 24,736


def save_llama(folder, **overrides):
    model = tiny_llama_model(**overrides)
    model.save_pretrained(folder)
    return model


def inspect_json(source, *args) -> dict:
    result = run_cli("inspect", str(source), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    assert "unmapped" not in result.stderr
    return json.loads(result.stdout)


def check_ok(source, spec) -> dict:
    result = run_cli("check", str(source), "--spec", str(spec), "--format", "json")
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize("tied", [False, True])
def test_llama_as_transformers_saves_it(tmp_path, tied):
    """q/k/v/o_proj, gate/up/down_proj, input_layernorm, post_attention_layernorm, embed_tokens,
    model.norm, and lm_head unless tied (then absent: the config's tie_word_embeddings says so).
    Untied 24,736 parameters, tied 21,664, equal to transformers' num_parameters()."""
    model = save_llama(tmp_path, tie_word_embeddings=tied)
    found = inspect_json(tmp_path)
    assert found["layout"] == "llama" and found["tied"] is tied
    assert found["parameters"] == model.num_parameters() == \
        (TINY_LLAMA_TIED if tied else TINY_LLAMA_UNTIED)
    assert found["shape"]["basis"] == "config.json"
    assert (found["shape"]["n_heads"], found["shape"]["n_kv_heads"]) == (4, 2)
    check_ok(tmp_path, tiny_llama_spec_yaml(tmp_path / "spec.yaml", tied=tied))
    check_ok(tmp_path, tmp_path / "config.json")  # the config itself as the spec


def test_llama_with_attention_and_mlp_biases(tmp_path):
    """attention_bias and mlp_bias put a bias on every projection: q 32 + k 16 + v 16 + o 32 +
    gate 64 + up 64 + down 32 = 256 a layer, 512 in all; 24,736 + 512 = 25,248. The config.json
    read as a spec expects exactly those biases."""
    model = save_llama(tmp_path, attention_bias=True, mlp_bias=True)
    found = inspect_json(tmp_path)
    assert found["parameters"] == model.num_parameters() == 25_248
    biases = {r["role"]: r["biases"] for r in found["roles"]}
    assert biases == {"embedding": 0, "query": 64, "key": 32, "value": 32, "output": 64,
                      "up": 128, "gate": 128, "down": 64, "unembedding": 0, "norm": 0}
    check_ok(tmp_path, tmp_path / "config.json")


def tiny_bert_config():
    from transformers import BertConfig

    return BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64)


def bert_spec(path):
    import yaml

    path.write_text(yaml.safe_dump({
        "name": "tiny-bert", "family": "bert", "source": "test", "architecture": "encoder",
        "vocab_size": 100,
        "n_ctx": 64, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64, "activation": "gelu",
        "norm_placement": "post", "norm_eps": 1e-12, "embedding_norm": True, "final_norm": False,
        "type_vocab_size": 2, "pooler": True, "biases": True}))
    return path


def test_bert_as_transformers_saves_it(tmp_path):
    """BertModel: embeddings.*, encoder.layer.N.attention.self.query ..., pooler.dense.
    d=32, F=64, L=2: 100x32 + 64x32 + 2x32 + 64 (embedding LayerNorm) + 2 x (4 x (32x32 + 32) +
    (32x64 + 64) + (64x32 + 32) + 4 x 32) + 32x32 + 32 = 3,200 + 2,048 + 64 + 64 + 2 x 8,544 +
    1,056 = 23,520."""
    from transformers import BertModel

    model = BertModel(tiny_bert_config())
    model.save_pretrained(tmp_path)
    found = inspect_json(tmp_path)
    assert found["layout"] == "bert"
    assert found["parameters"] == model.num_parameters() == 23_520
    check_ok(tmp_path, bert_spec(tmp_path / "spec.yaml"))


def test_bert_in_a_task_model_and_legacy_norm_names(tmp_path):
    """Inside BertForSequenceClassification the encoder is prefixed `bert.`; its classifier head
    is not part of the BERT spec and is reported as unmapped (a mismatch, exit 1), never dropped
    silently. The original bert-base-uncased file names LayerNorm parameters gamma and beta
    (transformers issue #11809): those read as the same norms."""
    import torch
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification(tiny_bert_config())
    state = model.state_dict()
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
               .replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in state.items() if k.startswith("bert.")}
    torch.save(renamed, tmp_path / "pytorch_model.bin")
    found = inspect_json(tmp_path / "pytorch_model.bin")
    assert found["layout"] == "bert" and found["parameters"] == 23_520
    assert {r["role"]: r["parameters"] for r in found["roles"]}["norm"] == 2 * 32 * 5
    check_ok(tmp_path / "pytorch_model.bin", bert_spec(tmp_path / "spec.yaml"))

    torch.save(state, tmp_path / "with_head.bin")
    result = run_cli("check", str(tmp_path / "with_head.bin"), "--spec",
                     str(tmp_path / "spec.yaml"))
    assert result.returncode == 1
    assert "'classifier.weight': no layout rule recognises this tensor" in result.stdout


def test_shape_from_tensor_shapes_without_heads(tmp_path):
    """GPT-2 as published, no config.json: layers, width, vocabulary, MLP width and context come
    from the shapes (wte [100, 32], wpe [16, 32], c_fc [32, 128]); the heads cannot, and are not
    guessed."""
    from gpt2_files import write_gpt2

    folder = write_gpt2(tmp_path / "gpt2", form="published", with_config=False, vocab_size=100,
                        n_positions=16, n_embd=32, n_layer=2, n_head=4)
    shape = inspect_json(folder)["shape"]
    assert shape == {"family": "gpt2", "basis": "tensor shapes", "n_layers": 2, "d_model": 32,
                     "vocab_size": 100, "d_ff": 128, "n_ctx": 16, "n_heads": None,
                     "n_kv_heads": None, "d_head": None}


def test_heads_from_a_global_rotary_buffer(tmp_path):
    """`model.rotary_emb.inv_freq` [4]: d_head 8, so 32 query rows are 4 heads and 16 key rows
    2 key/value heads, with nothing else to say it."""
    tensors = {"model.embed_tokens.weight": ("F32", [96, 32]),
               "model.rotary_emb.inv_freq": ("F32", [4]),
               "model.layers.0.self_attn.q_proj.weight": ("F32", [32, 32]),
               "model.layers.0.self_attn.k_proj.weight": ("F32", [16, 32]),
               "model.layers.0.self_attn.v_proj.weight": ("F32", [16, 32]),
               "model.layers.0.self_attn.o_proj.weight": ("F32", [32, 32]),
               "model.norm.weight": ("F32", [32])}
    write_hole_safetensors(tmp_path / "model.safetensors", tensors)
    shape = inspect_json(tmp_path / "model.safetensors")["shape"]
    assert (shape["family"], shape["n_heads"], shape["n_kv_heads"], shape["d_head"]) == \
        ("llama", 4, 2, 8)


def test_a_config_that_describes_other_weights_does_not_choose_the_layout(tmp_path):
    """A Llama config.json beside GPT-2 weights: the tensor names decide (gpt2 layout, nothing
    unmapped), rather than 148 'unmapped' tensors under the llama layout."""
    from gpt2_files import write_gpt2

    folder = write_gpt2(tmp_path / "mixed")
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    found = inspect_json(str(folder))
    assert found["layout"] == "gpt2" and found["parameters"] == 124_439_808


@pytest.mark.parametrize(("c_attn", "c_fc", "layout"), [
    ((32, 96), (32, 128), "gpt2"),  # Conv1D: (in, out)
    ((48, 32), (128, 32), "gpt_bigcode"),  # nn.Linear (out, in): 32 + 2 x 8 query/key/value rows
])
def test_gpt2_and_starcoder_names_told_apart_by_shapes(c_attn, c_fc, layout):
    """GPT-2 and GPT-BigCode store the same names; without a config.json the side of c_attn
    and c_fc that holds d_model (the embedding's width, 32) tells which layout it is."""
    from inspector.families import choose_layout

    shapes = {"transformer.wte.weight": (100, 32), "transformer.wpe.weight": (16, 32),
              "transformer.h.0.attn.c_attn.weight": c_attn,
              "transformer.h.0.mlp.c_fc.weight": c_fc,
              "transformer.h.0.mlp.c_proj.weight": c_fc[::-1]}
    assert choose_layout(list(shapes), None, shapes=shapes).name == layout


def test_phi3_gguf_fused_and_longrope_factors(tmp_path):
    """llama.cpp's phi3: `attn_qkv` (query rows 32, then key and value 16 each: 2 of 4 heads) and
    `ffn_up` holding gate then up (64 rows each), as transformers orders them (the converter
    permutes no phi3 rows); the longrope factor tensors are buffers. Same parameters as the tiny Llama
    untied: 24,736."""
    import numpy as np
    from gguf import GGUFWriter
    from gguf_files import TINY

    v, d, f, heads, kv_heads = (TINY[k] for k in ("vocab", "d_model", "d_ff", "n_heads",
                                                  "n_kv_heads"))
    kv = kv_heads * d // heads
    writer = GGUFWriter(str(tmp_path / "phi3.gguf"), "phi3")
    for add, value in ((writer.add_block_count, TINY["n_layers"]), (writer.add_embedding_length, d),
                       (writer.add_context_length, TINY["n_ctx"]), (writer.add_head_count, heads),
                       (writer.add_head_count_kv, kv_heads), (writer.add_feed_forward_length, f)):
        add(value)
    tensors = {"token_embd": (v, d), "rope_factors_long": (2,), "rope_factors_short": (2,),
               "output_norm": (d,), "output": (v, d)}
    for i in range(TINY["n_layers"]):
        tensors.update({f"blk.{i}.attn_norm": (d,), f"blk.{i}.attn_qkv": (d + 2 * kv, d),
                        f"blk.{i}.attn_output": (d, d), f"blk.{i}.ffn_norm": (d,),
                        f"blk.{i}.ffn_up": (2 * f, d), f"blk.{i}.ffn_down": (d, f)})
    for name, shape in tensors.items():
        writer.add_tensor(f"{name}.weight", np.zeros(shape, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    found = inspect_json(tmp_path / "phi3.gguf", "--by", "tensor")
    assert found["parameters"] == TINY_LLAMA_UNTIED
    assert sorted(b["name"] for b in found["buffers"]) == ["rope_factors_long.weight",
                                                           "rope_factors_short.weight"]
    rows = {(r["tensor"], r["role"]): r["shape"] for r in found["tensor_rows"]}
    assert [rows[("blk.0.attn_qkv.weight", role)] for role in ("query", "key", "value")] == \
        [[32, 32], [16, 32], [16, 32]]
    assert [rows[("blk.0.ffn_up.weight", role)] for role in ("gate", "up")] == [[64, 32]] * 2


@pytest.mark.parametrize(("extra", "layout"), [
    ((), "olmo2"),
    (("input_layernorm", "pre_feedforward_layernorm"), "gemma2"),  # Gemma 3's, with q/k norms
])
def test_olmo2_and_gemma2_names_told_apart(extra, layout):
    """Gemma 2's layout knows every name OLMo 2 stores (post_attention_layernorm on attention's
    output, post_feedforward_layernorm, Gemma 3's q/k norms); without a config.json, names with
    no pre_feedforward_layernorm (which every Gemma 2 and 3 block has) are OLMo 2's."""
    from inspector.families import choose_layout

    block = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
             "self_attn.q_norm", "self_attn.k_norm", "post_attention_layernorm", "mlp.gate_proj",
             "mlp.up_proj", "mlp.down_proj", "post_feedforward_layernorm", *extra]
    names = ["model.embed_tokens.weight", *(f"model.layers.{i}.{n}.weight" for i in range(2)
                                            for n in block), "model.norm.weight", "lm_head.weight"]
    assert choose_layout(names, None).name == layout


# Tiny T5: V=100, d=32, 4 heads of d_kv 6 (24 wide), F=64, 2 + 2 blocks, 8 relative buckets.
# An attention: q, k, v 24 x 32 + o 32 x 24 = 4 x 768 = 3,072. MLP: ReLU wi + wo 2 x 2,048 =
# 4,096; gated wi_0 + wi_1 + wo 6,144. Each stack: one relative bias 8 x 4 = 32 and a final
# norm of 32.
TINY_T5 = {"vocab_size": 100, "d_model": 32, "d_kv": 6, "num_heads": 4, "d_ff": 64,
           "num_layers": 2, "num_decoder_layers": 2, "relative_attention_num_buckets": 8}


def tiny_t5(**overrides):
    import warnings

    import torch
    from transformers import AutoConfig, T5ForConditionalGeneration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        return T5ForConditionalGeneration(AutoConfig.for_model("t5", **{**TINY_T5, **overrides}))


def write_hub_flan_t5(folder) -> None:
    """A tiny Flan-T5 as the hub stores it: config.json says tie_word_embeddings false (no
    scale_decoder_outputs: written before transformers 5) and lm_head.weight is stored with
    values of its own."""
    import torch
    from safetensors.torch import save_file

    model = tiny_t5(feed_forward_proj="gated-gelu")
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()
             if "embed_tokens" not in k}
    state["lm_head.weight"] = torch.randn(100, 32, generator=torch.Generator().manual_seed(1))
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {k: v for k, v in model.config.to_dict().items() if k != "scale_decoder_outputs"}
    (folder / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": False}))


def test_flan_t5_as_the_hub_stores_it(tmp_path):
    """transformers loads the hub's Flan-T5 untied; so inspector counts the unembedding apart:
    encoder 2 x (2 x 32 + 3,072 + 6,144) + 32 + 32 = 18,624, decoder 2 x (3 x 32 + 2 x 3,072 +
    6,144) + 32 + 32 = 24,832, shared 3,200, lm_head 3,200: 49,856."""
    import warnings

    from transformers import T5ForConditionalGeneration

    write_hub_flan_t5(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = T5ForConditionalGeneration.from_pretrained(tmp_path)
    found = inspect_json(tmp_path)
    assert found["parameters"] == loaded.num_parameters() == 49_856
    assert found["tied"] is False and found["shape"]["family"] == "t5"
    assert found["shape"]["n_decoder_layers"] == 2 and found["shape"]["d_head"] == 6
    check_ok(tmp_path, tmp_path / "config.json")


def test_t5_heads_of_the_cross_attention_are_rows_apart(tmp_path):
    """An encoder-decoder's heads: the decoder's self-attention and its cross-attention are rows
    apart (attention self / cross), never summed into one head. Each head's parameters are its
    share of transformers' module: self and cross query alike d_model x d_kv = 32 x 6 = 192 per
    head here; and the table adds up, layer by layer, to transformers' attention modules."""
    from transformers import T5ForConditionalGeneration

    model = tiny_t5(feed_forward_proj="gated-gelu")
    model.save_pretrained(tmp_path)
    assert isinstance(model, T5ForConditionalGeneration)
    heads = inspect_json(tmp_path, "--by", "head")["heads"]
    n_heads, n_layers = model.config.num_heads, model.config.num_layers
    decoder = model.get_decoder().block
    for i, block in enumerate(decoder):
        layer = n_layers + i  # decoder blocks are numbered after the encoder's
        for kind, module in (("self", block.layer[0].SelfAttention),
                             ("cross", block.layer[1].EncDecAttention)):
            rows = [h for h in heads if h["layer"] == layer and h["attention"] == kind]
            expected = sum(getattr(module, p).weight.numel() for p in "qkvo")
            assert sum(h["parameters"] for h in rows) == expected
            assert len(rows) == 4 * n_heads
            assert {h["parameters"] for h in rows if h["role"] == "query"} == {
                module.q.weight.numel() // n_heads}
    assert {h["attention"] for h in heads if h["layer"] < n_layers} == {"self"}


def test_t5_v1_torch_bin_with_every_tied_name(tmp_path):
    """A torch .bin of T5 v1.0 holds shared.weight, encoder.embed_tokens.weight,
    decoder.embed_tokens.weight and lm_head.weight over one storage: the table once (the stacks'
    names are its tied copies, lm_head the tied unembedding), as transformers counts it:
    encoder 2 x (2 x 32 + 3,072 + 4,096) + 64 = 14,528, decoder 2 x (3 x 32 + 2 x 3,072 +
    4,096) + 64 = 20,736, shared 3,200: 38,464."""
    import torch

    model = tiny_t5()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    model.config.to_json_file(tmp_path / "config.json")
    found = inspect_json(tmp_path)
    assert found["parameters"] == model.num_parameters() == 38_464
    assert found["tied"] is True
    assert sorted(b["name"] for b in found["buffers"]) == ["decoder.embed_tokens.weight",
                                                          "encoder.embed_tokens.weight"]
    check_ok(tmp_path, tmp_path / "config.json")


def test_t5_without_config_numbers_decoder_blocks_after_the_encoder(tmp_path):
    """No config.json: the names alone say 2 encoder blocks and 3 decoder blocks (those with
    cross-attention), the decoder's first block is canonical layer 2, and the count is
    transformers': 14,528 (encoder) + 3 x 10,336 + 64 (decoder) + 3,200 = 48,800."""
    model = tiny_t5(num_decoder_layers=3)
    model.save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    found = inspect_json(tmp_path / "model.safetensors", "--by", "tensor")
    assert found["parameters"] == model.num_parameters() == 48_800
    assert (found["shape"]["n_layers"], found["shape"]["n_decoder_layers"]) == (2, 3)
    rows = {r["tensor"]: r for r in found["tensor_rows"]}
    cross = rows["decoder.block.0.layer.1.EncDecAttention.q.weight"]
    assert (cross["layer"], cross["canonical"], cross["role"]) == \
        (2, "layers.2.cross_attn.query.weight", "query")


def test_flan_t5_saved_again_by_transformers_5(tmp_path):
    """The Flan-T5 folder above loaded and saved by transformers 5: its config.json now says
    tie_word_embeddings true (T5Config forces it; scale_decoder_outputs false keeps v1.1's
    unscaled output) while lm_head.weight is stored with values of its own, which transformers
    unties on loading. The files decide: 49,856 parameters, untied, as transformers counts; the
    config checks (exit 0); and inspector's model, built as the files have it, gives
    transformers' logits."""
    import warnings

    import torch
    from transformers import T5ForConditionalGeneration

    from inspector.building.weights import load_model
    from inspector.spec.config_json import spec_from_config

    write_hub_flan_t5(tmp_path / "hub")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T5ForConditionalGeneration.from_pretrained(tmp_path / "hub").save_pretrained(
            tmp_path / "again")
        loaded = T5ForConditionalGeneration.from_pretrained(tmp_path / "again").eval()
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert (config["tie_word_embeddings"], config["scale_decoder_outputs"]) == (True, False)
    found = inspect_json(tmp_path / "again")
    assert found["parameters"] == loaded.num_parameters() == 49_856
    assert found["tied"] is False and found["tied_copy"] is False
    check_ok(tmp_path / "again", tmp_path / "again" / "config.json")
    ours = load_model(tmp_path / "again", spec_from_config(config))
    ids = torch.randint(0, 100, (2, 7), generator=torch.Generator().manual_seed(0))
    decoder_ids = torch.randint(0, 100, (2, 5), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = loaded(ids, decoder_input_ids=decoder_ids).logits
        mine = ours(ids, decoder_input_ids=decoder_ids)
    assert (mine - theirs).abs().max().item() < 1e-4
