"""`assert_matches_spec`: the one-line CI assertion a user writes in their own test suite."""

import sys

import pytest
from gpt2_files import write_gpt2

from inspector.errors import CheckpointError
from inspector.testing import assert_matches_spec


def test_passes_on_a_matching_checkpoint(tmp_path):
    verdict = assert_matches_spec(str(write_gpt2(tmp_path / "gpt2", form="published")),
                                  "gpt2-124m")
    assert verdict["ok"] is True
    assert verdict["total"] == {"expected": 124_439_808, "actual": 124_439_808}


def test_fails_with_the_role_table(tmp_path):
    """n_inner 3000: up 12 x (3000 x 768 + 3000) = 27,684,000 vs 28,348,416 expected;
    down 12 x (768 x 3000 + 768) = 27,657,216 vs 28,320,768. Problems: the cause first (d_ff
    3,072 vs 3,000), then 12 layers x 3 tensors (up weight, up bias, down weight) = 37; 20 shown,
    17 more."""
    folder = write_gpt2(tmp_path / "wide", n_inner=3000)
    with pytest.raises(AssertionError) as failure:
        assert_matches_spec(str(folder), "gpt2-124m")
    message = str(failure.value)
    lines = message.splitlines()
    assert lines[0] == (f"{folder} does not match spec gpt2-124m: total expected 124,439,808,"
                        " found 123,111,840")
    assert lines[2].split() == ["role", "expected", "actual", "tied_to", "ok"]
    assert "up           28,348,416  27,684,000  -          NO" in message
    assert "down         28,320,768  27,657,216  -          NO" in message
    assert "query         7,087,104   7,087,104  -          yes" in message
    assert "problems (37):\n  d_ff: spec 3,072, checkpoint 3,000\n" in message
    assert ("layers.0.mlp.up.weight (up): expected [3072, 768], found [3000, 768] in"
            " 'transformer.h.0.mlp.c_fc.weight'") in message
    assert "... and 17 more" in message


def test_unreadable_input_is_not_an_assertion(tmp_path):
    with pytest.raises(CheckpointError):
        assert_matches_spec(str(tmp_path / "nothing-here"), "gpt2-124m")


def test_header_only(tmp_path):
    """The assertion reads headers only: importing and running it pulls in no torch."""
    import subprocess

    folder = write_gpt2(tmp_path / "gpt2")
    code = ("import sys; from inspector.testing import assert_matches_spec;"
            f" assert_matches_spec({str(folder)!r}, 'gpt2-124m');"
            " assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
