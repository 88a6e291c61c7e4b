"""Mixtures of experts on Llama's block: Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE. Roles written from
transformers' modeling code: the router (`mlp.gate`, Mixtral's `block_sparse_moe.gate`) scores
the experts; each expert is a SwiGLU MLP. transformers 5.24 holds a layer's experts as 3-D
tensors but `save_pretrained` writes them one tensor per expert, as the hub's checkpoints have
them: Mixtral's w1 (gate), w3 (up), w2 (down), the others' gate_proj, up_proj, down_proj.
(tests/test_moe.py reads the 3-D form.)"""

from family_cases import FamilyCase
from family_cases.base_families import LLAMA_CONFIG, LLAMA_ROLES

M = "model.layers.{i}"
EXPERTS = 4


def without(roles: dict, *names: str) -> dict:
    return {k: v for k, v in roles.items() if k not in names}


DENSE_MLP = (f"{M}.mlp.gate_proj.weight", f"{M}.mlp.up_proj.weight", f"{M}.mlp.down_proj.weight")
MOE_MLP = {f"{M}.mlp.gate.weight": ("router",),
           **{f"{M}.mlp.experts.{e}.{p}_proj.weight": (p,)
              for e in range(EXPERTS) for p in ("gate", "up", "down")}}
MIXTRAL_MLP = {f"{M}.block_sparse_moe.gate.weight": ("router",),
               **{f"{M}.block_sparse_moe.experts.{e}.{w}.weight": (role,)
                  for e in range(EXPERTS) for w, role in (("w1", "gate"), ("w3", "up"),
                                                          ("w2", "down"))}}
MOE_ROLES = {**without(LLAMA_ROLES, *DENSE_MLP), **MOE_MLP}
QKV_BIASES = {f"{M}.self_attn.{p}_proj.bias": (role,)
              for p, role in (("q", "query"), ("k", "key"), ("v", "value"))}
QK_NORMS = {f"{M}.self_attn.q_norm.weight": ("norm",), f"{M}.self_attn.k_norm.weight": ("norm",)}
SHARED = {f"{M}.mlp.shared_expert.gate_proj.weight": ("gate",),
          f"{M}.mlp.shared_expert.up_proj.weight": ("up",),
          f"{M}.mlp.shared_expert.down_proj.weight": ("down",),
          f"{M}.mlp.shared_expert_gate.weight": ("router",)}


def at_layer(roles: dict, layer: int) -> dict:
    return {k.replace("{i}", str(layer)): v for k, v in roles.items()}


# Layer 0 dense (mlp_only_layers), layer 1 an MoE layer.
DENSE_THEN_MOE = {
    **without(MOE_ROLES, *MOE_MLP),
    **at_layer({k: LLAMA_ROLES[k] for k in DENSE_MLP}, 0),
    **at_layer(MOE_MLP, 1),
}

ROUTING = {"num_experts": EXPERTS, "num_experts_per_tok": 2, "moe_intermediate_size": 24}

CASES = (
    FamilyCase("mixtral", {**LLAMA_CONFIG, "num_local_experts": EXPERTS,
                           "num_experts_per_tok": 2},
               {**without(LLAMA_ROLES, *DENSE_MLP), **MIXTRAL_MLP},
               changed={"num_local_experts": 3}),
    FamilyCase("qwen2_moe", {**{k: v for k, v in LLAMA_CONFIG.items() if k != "head_dim"},
                             **ROUTING, "shared_expert_intermediate_size": 40},
               {**MOE_ROLES, **QKV_BIASES, **SHARED}, changed={"moe_intermediate_size": 16}),
    FamilyCase("qwen3_moe", {**LLAMA_CONFIG, **ROUTING, "norm_topk_prob": True,
                             "mlp_only_layers": [0]},
               {**DENSE_THEN_MOE, **QK_NORMS}, changed={"mlp_only_layers": []}),
    FamilyCase("olmoe", {**{k: v for k, v in LLAMA_CONFIG.items() if k != "head_dim"},
                         "num_experts": EXPERTS, "num_experts_per_tok": 2,
                         "intermediate_size": 24, "pad_token_id": None, "eos_token_id": None},
               {**MOE_ROLES, **QK_NORMS}, changed={"num_experts": 3}),
)
