"""The model transformers builds from a config.json, read on the meta device: what its checkpoint
stores (names, shapes, dtypes, as save_pretrained writes them), which parameters are tied, and the
module that owns each tensor (inspector.spec.reference_roles gives its role).

The one place of the transformers path that imports torch and transformers; what it derives is a
plain dict that inspector.spec.reference caches, so that torch is paid once per config.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings

from inspector.spec.reference_fused import fused_cut
from inspector.spec.reference_roles import owner_chain, role_of


def build_description(config: dict) -> dict:
    """The description of the model transformers builds from `config` (a config.json dict):
    every stored tensor under its stored name with its role, layer, expert and kind, the tied
    repeats, num_parameters() and k of E. ValueError when transformers cannot build it, LookupError when it has no such model_type."""
    import torch

    with _quiet():
        model = _meta_model(config)
        stored = _stored_tensors(model)
        memory = dict(model.state_dict(keep_vars=True))
        sources_of = _stored_sources(model, memory, stored)
        sources = {name: found[0] for name, found in sources_of.items()}
        buffers = {name for name, _ in model.named_buffers()}
        unembedding = _output_embedding_names(model)
        n_experts = _config_int(model.config, EXPERT_COUNT_KEYS)
        tensors = []
        for name, (shape, dtype) in stored.items():
            source = sources.get(name, name)
            chain = owner_chain(model, source)
            if source != name and _split_per_expert(name, source):
                # one expert's slice of a tensor fused in memory (experts.gate_up_proj stored as
                # experts.0.gate_proj and experts.0.up_proj): the stored name says which part
                chain = chain[:-1] + [(part, "") for part in name.split(".")[-2:]]
            role, kind, layer, expert = role_of(name, source, chain, source in buffers,
                                                source in unembedding, shape)
            if expert == -1 and n_experts and shape[0] != n_experts:
                expert = None  # not one row per expert (JetMoE's attention experts' own bias)
            tensors.append({"name": name, "shape": list(shape), "dtype": dtype, "role": role,
                            "kind": kind, "layer": layer, "expert": expert})
            padded = _padded(memory.get(source), shape)
            if padded is not None and not _split_per_expert(name, source):
                tensors[-1]["logical"] = padded
            cut = fused_cut(model, name, chain, shape, role, expert == -1) or _joined(
                model, sources_of.get(name, ()), memory, shape, buffers)
            if cut is not None:
                tensors[-1]["cut"] = cut
        stored_as = {source: name for name, source in sources.items()}
        tied, bias_heads = _tied_repeats(model, stored, unembedding, stored_as)
        for tensor in tensors:
            if tensor["name"] in bias_heads:
                tensor["role"] = "unembedding"
        return {
            "model_type": config.get("model_type"),
            "class": type(model).__name__,
            "parameters": int(model.num_parameters()),
            "tensors": tensors,
            "tied": tied,
            "experts": _experts(model.config, tensors),
            "dtype_default": str(torch.get_default_dtype()).removeprefix("torch."),
        }


@contextlib.contextmanager
def _quiet():
    """transformers' warnings and log lines are its own business, not the command's output."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _meta_model(config: dict):
    """The model config.json's first architecture names (a class transformers has), else the
    causal LM of its model_type, else its base model: built on the meta device."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    model_type = config.get("model_type")
    try:
        hf_config = AutoConfig.for_model(model_type)
    except ValueError as e:
        raise LookupError(f"transformers {transformers.__version__} has no model_type"
                          f" {model_type!r}") from e
    # {"__float__": "Infinity"}: how transformers writes a float JSON has not (time_step_limit),
    # decoded as its from_pretrained decodes it
    decode = getattr(type(hf_config), "_decode_special_floats", lambda value: value)
    try:
        hf_config = type(hf_config).from_dict(
            {k: decode(v) for k, v in config.items() if k not in ("transformers_version",)})
    except Exception as e:  # transformers' validators raise their own classes
        raise ValueError(f"transformers {transformers.__version__} cannot read this config:"
                         f" {e}") from e
    named = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    model_class = getattr(transformers, named[0], None) if named else None
    try:
        with torch.device("meta"):
            if isinstance(model_class, type) and hasattr(model_class, "_from_config"):
                return model_class._from_config(hf_config)
            try:
                return AutoModelForCausalLM.from_config(hf_config)
            except ValueError:
                return AutoModel.from_config(hf_config)
    except Exception as e:  # whatever transformers raises for a config it cannot build
        raise ValueError(f"transformers {transformers.__version__} cannot build"
                         f" {model_type}: {type(e).__name__}: {e}") from e


def _stored_tensors(model) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, dtype) as save_pretrained writes them: its safetensors writer swapped for
    one that only records (meta tensors have no values to write)."""
    import transformers.modeling_utils as modeling

    recorded: dict[str, tuple[tuple[int, ...], str]] = {}

    def record(tensors, filename, metadata=None):
        for name, tensor in tensors.items():
            recorded[name] = (tuple(tensor.shape), _dtype_name(tensor.dtype))

    writer = modeling.safe_save_file
    modeling.safe_save_file = record
    try:
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder, max_shard_size="1000GB")
    finally:
        modeling.safe_save_file = writer
    return recorded


def _joined(model, sources: list[str], memory: dict, shape, buffers: set[str]) -> dict | None:
    """The cut of a tensor save_pretrained stores joined from several in-memory tensors
    (Param2MoE's query_key_value from q_proj, k_proj, v_proj): each part its source's role."""
    if len(sources) < 2:
        return None
    sizes = [tuple(memory[s].shape) for s in sources]
    if any(len(s) != len(shape) or s[1:] != tuple(shape[1:]) for s in sizes) or \
            sum(s[0] for s in sizes) != shape[0]:
        return None
    roles = [role_of(s, s, owner_chain(model, s), s in buffers, False, size)[0]
             for s, size in zip(sources, sizes)]
    return {"axis": 0, "sizes": [s[0] for s in sizes], "roles": roles}


def _padded(tensor, shape) -> list[int] | None:
    """The in-memory shape of a parameter save_pretrained stores padded (Inkling 2's
    vocabulary, stored vocab_size rows where the model holds unpadded_vocab_size), else None."""
    if tensor is None or len(tensor.shape) != len(shape):
        return None
    held = list(tensor.shape)
    if held == list(shape) or any(h > s for h, s in zip(held, shape)):
        return None
    return held


def _split_per_expert(stored: str, source: str) -> bool:
    """The stored name numbers an expert its in-memory source does not."""
    numbers = [p for p in stored.split(".") if p.isdigit()]
    return len(numbers) > len([p for p in source.split(".") if p.isdigit()])


def _dtype_name(dtype) -> str:
    """torch's dtype as safetensors names it."""
    from safetensors.torch import _TYPES

    return next((name for name, d in _TYPES.items() if d == dtype), str(dtype))


def _stored_sources(model, memory: dict, stored: dict) -> dict[str, list[str]]:
    """stored name -> the in-memory names it comes from, where save_pretrained renamed, split
    (experts fused in memory, stored one per expert) or fused them (separate q_proj, k_proj,
    v_proj stored as one query_key_value): each in-memory tensor reverted alone."""
    renamed = [name for name in stored if name not in memory]
    if not renamed:
        return {}
    from transformers.core_model_loading import revert_weight_conversion

    found: dict[str, list[str]] = {}
    for name, tensor in memory.items():
        try:
            reverted = revert_weight_conversion(model, {name: tensor})
        # transformers' conversions raise what they like when a many-to-one conversion lacks its
        # partners: such a tensor is named by its module instead
        except Exception:  # noqa: BLE001, S112
            continue
        for target in reverted:
            if target in stored:
                found.setdefault(target, []).append(name)
    return found


def _output_embedding_names(model) -> set[str]:
    """The in-memory names of the unembedding's tensors (get_output_embeddings())."""
    try:
        head = model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        head = None
    if head is None:
        return set()
    return {f"{module_name}.{p}" for module_name, module in model.named_modules()
            if module is head for p, _ in module.named_parameters(recurse=False)}


def _tied_repeats(model, stored: dict, unembedding: set[str],
                  stored_as: dict[str, str]) -> tuple[list[dict], set[str]]:
    """The parameters that are another's storage (transformers' ties, as the model holds them):
    each with its role and the role and stored name of the tensor it repeats (`stored_as`: the
    stored name of an in-memory name save_pretrained renames)."""
    names: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(parameter), []).append(name)
    repeats = []
    bias_heads = set()  # a stored bias the unembedding's bias is (BERT's cls.predictions.bias)
    for group in names.values():
        first = next((n for n in group if n in stored or n in stored_as), group[0])
        source = stored_as.get(first, first)
        first_role = role_of(first, first, owner_chain(model, first), False,
                             first in unembedding, ())[0]
        for name in group:
            if name == first:
                continue
            parameter = model.get_parameter(name)
            role, kind, layer, _ = role_of(name, name, owner_chain(model, name), False,
                                           name in unembedding, tuple(parameter.shape))
            if role == "unembedding" and first_role != "embedding":
                bias_heads.add(source)
                continue
            repeats.append({"name": name, "shape": list(parameter.shape), "role": role,
                            "kind": kind, "layer": layer, "tied_to": first_role,
                            "source": source})
    return repeats, bias_heads


# Where a config says how many experts a token is routed to, and how many there are.
EXPERTS_PER_TOKEN_KEYS = ("num_experts_per_tok", "num_experts_per_token", "moe_topk", "top_k",
                          "moe_k", "num_selected_experts", "experts_per_token", "topk",
                          "n_activated_experts", "moe_top_k")
EXPERT_COUNT_KEYS = ("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts",
                     "n_experts", "num_routed_experts", "experts")


def _experts(config, tensors: list[dict]) -> dict | None:
    """k of E of a mixture of experts: E counted off the stored experts, k from the config
    whatever its key (its text config's, for a multimodal one)."""
    stored = {(t["layer"], t["expert"]) for t in tensors if t["expert"] is not None
              and t["expert"] != -1}
    stacked = {(t["layer"], t["shape"][0]) for t in tensors if t["expert"] == -1}
    if not stored and not stacked:
        return None
    per_layer: dict = {}
    for layer, _ in stored:
        per_layer[layer] = per_layer.get(layer, 0) + 1
    for layer, n in stacked:  # every expert in one tensor: as many as its first axis
        per_layer[layer] = max(per_layer.get(layer, 0), n)
    k = _config_int(config, EXPERTS_PER_TOKEN_KEYS)
    if isinstance(k, int) and k <= 0:
        k = None
    return {"experts_per_token": k, "n_experts": max(per_layer.values())}


def _config_int(config, keys: tuple[str, ...]) -> int | None:
    for holder in (config, getattr(config, "text_config", None)):
        for key in keys:
            value = getattr(holder, key, None) if holder is not None else None
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None
