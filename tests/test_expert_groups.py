"""A layer's routed experts read once per template of names (inspector.checkpoint.expert_groups):
the rows, tables and answers are those of reading every tensor, and the FP8 scales of routed
experts are listed under their expert's role."""

import json
import subprocess
import sys

import pytest

from inspector.building.hole_files import deepseek_fp8_tensors, write_hole_shards
from inspector.checkpoint.tensor_rows import decouple
from inspector.formats import open_checkpoint
from inspector.spec.config_json import spec_from_config
from inspector.vocab.rows import Repeated

# DeepSeek-V3's config.json keys at a small size: 3 layers (the first dense), 6 routed experts
# of width 128 (2 a token) and a shared one, 4 heads of 64 + 32, latents 96 (kv) and 128 (q).
SMALL = {"model_type": "deepseek_v3", "architectures": ["DeepseekV3ForCausalLM"],
         "vocab_size": 512, "hidden_size": 256, "intermediate_size": 384,
         "moe_intermediate_size": 128, "num_hidden_layers": 3, "num_nextn_predict_layers": 0,
         "num_attention_heads": 4, "num_key_value_heads": 4, "n_shared_experts": 1,
         "n_routed_experts": 6, "kv_lora_rank": 96, "q_lora_rank": 128, "qk_rope_head_dim": 32,
         "v_head_dim": 64, "qk_nope_head_dim": 64, "n_group": 1, "topk_group": 1,
         "num_experts_per_tok": 2, "first_k_dense_replace": 1, "norm_topk_prob": True,
         "hidden_act": "silu", "max_position_embeddings": 4096, "rms_norm_eps": 1e-6,
         "rope_theta": 10000.0, "tie_word_embeddings": False, "attention_bias": False,
         "quantization_config": {"quant_method": "fp8", "fmt": "e4m3",
                                 "activation_scheme": "dynamic",
                                 "weight_block_size": [128, 128]}}


def _write(folder, config=SMALL, drop=(), shards=3):
    tensors = {k: v for k, v in deepseek_fp8_tensors(config).items()
               if not any(d in k for d in drop)}
    write_hole_shards(folder, tensors, shards)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _inspector(*args):
    done = subprocess.run([sys.executable, "-m", "inspector", *map(str, args)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_grouped_rows_are_every_tensors_rows(tmp_path):
    """2 MoE layers x 6 experts x 3 matrices, each weight and its scale: 12 templates of 6
    experts held once each (Repeated), expanded into exactly the rows of reading all 3 + 20 +
    2 x 50 = 123 tensors one by one, in the same order."""
    checkpoint = open_checkpoint(str(_write(tmp_path / "ckpt")))
    assert len(checkpoint.tensors) == 3 + 20 + 2 * (14 + 2 + 6 * 6 + 6)
    spec = spec_from_config(SMALL, origin="SMALL")
    grouped = decouple(checkpoint, spec=spec)
    one_by_one = decouple(checkpoint, spec=spec, grouped=False)
    held = [r for r in grouped.held if isinstance(r, Repeated)]
    assert [(r.first, r.count) for r in held] == [(0, 6)] * 12
    assert grouped.rows == one_by_one.rows
    assert one_by_one.placed is None


def test_a_gap_in_the_experts_reads_one_by_one(tmp_path):
    """Expert 3 of layer 1 missing: its layer's templates hold experts 0-2 and 4-5, not a run
    first .. first + n - 1, so that layer is read tensor by tensor; layer 2 is still held."""
    checkpoint = open_checkpoint(str(_write(tmp_path / "ckpt", drop=("layers.1.mlp.experts.3.",))))
    grouped = decouple(checkpoint)
    held = [r for r in grouped.held if isinstance(r, Repeated)]
    assert {r.rows[0].layer for r in held} == {2}
    assert grouped.rows == decouple(checkpoint, grouped=False).rows


def test_routed_experts_scales_are_their_roles_bookkeeping(tmp_path):
    """Each expert's gate, up and down (128 x 256, 256 x 128) has a float32 scale per 128 x 128
    block: 2 blocks, 8 bytes. gate's bookkeeping: 2 MoE layers x (6 routed + 1 shared) x 8 +
    the dense layer's gate (384 x 256: 3 x 2 blocks, 24 bytes) = 112 + 24 = 136 bytes. Its
    parameters: 2 x 7 x 32,768 + 98,304 = 557,056 in F8 (1 byte each): bits per parameter
    (557,056 + 136) x 8 / 557,056 = 8.00195..., shown 8.002."""
    folder = _write(tmp_path / "ckpt")
    roles = {r["role"]: r for r in json.loads(_inspector("inspect", folder, "--format",
                                                         "json"))["roles"]}
    assert roles["gate"]["parameters"] == 557_056
    assert roles["gate"]["bookkeeping_bytes"] == 136
    assert roles["gate"]["bits_per_parameter"] == 8.002


@pytest.mark.parametrize("args", [("inspect", "--format", "json"),
                                  ("inspect", "--by", "tensor", "--format", "csv"),
                                  ("inspect", "--by", "layer"), ("inspect", "--by", "expert"),
                                  ("check", "--spec", "config.json", "--format", "json")])
def test_answers_are_those_of_reading_one_by_one(tmp_path, args, monkeypatch):
    """Every answer of the grouped reading equals the one-by-one reading's (the command run in
    this process with decouple's grouping switched off where inspect_source calls it)."""
    from click.testing import CliRunner

    from inspector.checkpoint import inspection
    from inspector.cli.main import cli

    folder = _write(tmp_path / "ckpt")
    command, *rest = args
    rest = [str(folder / a) if a == "config.json" else a for a in rest]
    grouped = CliRunner().invoke(cli, [command, str(folder), *rest])
    assert grouped.exit_code == 0, grouped.output
    plain = inspection.decouple
    monkeypatch.setattr(inspection, "decouple",
                        lambda *a, **k: plain(*a, **{**k, "grouped": False}))
    one_by_one = CliRunner().invoke(cli, [command, str(folder), *rest])
    assert grouped.output == one_by_one.output


@pytest.mark.parametrize("args", [("diagram", "--out", "d.svg"), ("export", "--out", "tables")])
def test_files_written_are_those_of_reading_one_by_one(tmp_path, args, monkeypatch):
    """The diagram (its boxes count each expert held once as many times as it has experts) and
    the exported tables are byte for byte those of the one-by-one reading."""
    from click.testing import CliRunner

    from inspector.checkpoint import inspection
    from inspector.cli.main import cli

    folder = _write(tmp_path / "ckpt")
    command, flag, out = args
    plain = inspection.decouple

    def written(where, grouped):
        monkeypatch.setattr(inspection, "decouple",
                            lambda *a, **k: plain(*a, **{**k, "grouped": grouped}))
        result = CliRunner().invoke(cli, [command, str(folder), flag, str(where / out)])
        assert result.exit_code == 0, result.output
        target = where / out
        files = sorted(target.iterdir()) if target.is_dir() else [target]
        return [(f.name, f.read_bytes()) for f in files]

    assert written(tmp_path / "a", True) == written(tmp_path / "b", False)
