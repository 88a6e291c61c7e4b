"""The torch layers of the one model (inspector.building.transformer): each module of the spec's
description (inspector.spec.describe.module_entries) as a torch module, and the containers a
block is made of - attention, the MLP (dense or a mixture of experts), the residual block.

Linear, Embedding and Patches skip torch's default initialisation: values come from init_weights
or from a checkpoint, and on the meta device the default init is pure cost.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inspector.building.positions import apply_rotary
from inspector.errors import UsageError
from inspector.spec.describe import EMBEDDING, LINEAR, PATCHES, TABLE, ModuleEntry
from inspector.spec.schema import Spec

# The spec's activation name -> the torch function (inspector.vocab.words.ACTIVATIONS maps
# config.json's names to the spec's).
ACTIVATION_FUNCTIONS = {
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-2's "gelu_new"
    "gelu": F.gelu,  # the exact erf form (BERT)
    "relu": F.relu,
    "silu": F.silu,  # SwiGLU's gate (Llama)
}


class Linear(nn.Linear):
    """nn.Linear without torch's default initialisation: values come from init_weights or from a
    checkpoint, and on the meta device the default init is pure cost."""

    def reset_parameters(self) -> None:
        pass


class Embedding(nn.Embedding):
    """nn.Embedding without its default init: normal_() on a meta tensor imports torch._dynamo
    (about 2 s), which would make `build_model(gpt3-175b)` on the meta device slow."""

    def reset_parameters(self) -> None:
        pass


class Norm(nn.Module):
    """LayerNorm or RMSNorm over the last dim; `weight` unless the spec's norms have none
    (OLMo), `bias` when the spec gives norms a bias; a gain of 1 + weight where the spec stores
    gains as offsets from 1 (Gemma)."""

    def __init__(self, spec: Spec, entry: ModuleEntry):
        super().__init__()
        self.kind, self.eps = spec.norm, float(spec.norm_eps)
        self.unit_offset = spec.norm_unit_offset
        # over the last dim; a gain of shape (heads, d_head) is one per head (Command-R+'s q/k
        # norms), applied to a (..., heads, d_head) input
        shape = tuple(entry.shape)
        self.width = shape[-1]
        gain = torch.zeros(shape) if self.unit_offset else torch.ones(shape)
        self.weight = nn.Parameter(gain) if entry.weight else None
        self.bias = nn.Parameter(torch.zeros(shape)) if entry.bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "layernorm":
            if self.weight is not None and self.weight.dim() > 1:  # per head: in fp32, as Cohere
                h = F.layer_norm(x.float(), (self.width,), None, None, self.eps)
                h = h * self.weight.float() + (0 if self.bias is None else self.bias.float())
                return h.to(x.dtype)
            return F.layer_norm(x, (self.width,), self.weight, self.bias, self.eps)
        # RMSNorm as Llama computes it: in fp32, scaled back in the input's dtype.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.unit_offset:  # Gemma: (x * (1 + w)) in fp32, then cast back
            return (h * (1.0 + self.weight.float())).type_as(x)
        h = h.to(x.dtype)
        return h if self.weight is None else self.weight * h


class Patches(nn.Conv2d):
    """ViT's patch embedding: pixel values [b, channels, size, size] -> one d_model vector per
    patch [b, patches, d], patches in row-major order; no default init (as Linear)."""

    def __init__(self, spec: Spec, entry: ModuleEntry):
        d, channels, p, _ = entry.shape
        super().__init__(channels, d, kernel_size=p, stride=p, bias=entry.bias)
        self.size = spec.image_size

    def reset_parameters(self) -> None:
        pass

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if pixels.dim() != 4 or tuple(pixels.shape[1:]) != (self.in_channels, self.size,
                                                            self.size):
            raise UsageError("pixel values", f"expected [batch, {self.in_channels}, {self.size},"
                                             f" {self.size}], got {list(pixels.shape)}")
        return super().forward(pixels).flatten(2).transpose(1, 2)


class Table(nn.Module):
    """A parameter kept in its stored shape (ViT's [1, n, d] position table and [1, 1, d] [CLS]
    vector), read as rows of d_model."""

    def __init__(self, entry: ModuleEntry):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(entry.shape))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.weight.reshape(-1, self.weight.shape[-1])[index]


def make_module(entry: ModuleEntry, spec: Spec) -> nn.Module:
    """The torch module of one entry of the description (module_entries)."""
    if entry.kind == EMBEDDING:
        return Embedding(*entry.shape)
    if entry.kind == PATCHES:
        return Patches(spec, entry)
    if entry.kind == TABLE:
        return Table(entry)
    if entry.kind == LINEAR:
        n_out, n_in = entry.shape
        return Linear(n_in, n_out, bias=entry.bias)
    return Norm(spec, entry)


class Attention(nn.Module):
    """query/key/value/output (and q_norm/k_norm when the spec has them), added from the
    model's description. Queries have n_heads x d_head rows, keys and values n_kv_heads x d_head
    (grouped-query when fewer); the output maps n_heads x d_head back to d_model."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.d_head = spec.n_heads, spec.n_kv_heads, spec.d_head
        self.qk_norm = spec.qk_norm
        self.clip, self.scale = spec.clip_qkv, spec.attention_scale  # OLMo; Granite
        self.softcap = spec.attention_softcap  # Gemma 2
        self.interleaved = spec.rotary_interleaved

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None,
                rotary: tuple[torch.Tensor, torch.Tensor] | None,
                memory: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention, or cross-attention to `memory` (keys and values from the encoder's
        output, s tokens long)."""
        b, t, _ = x.shape
        source = x if memory is None else memory
        s = source.shape[1]
        q, k, v = self.query(x), self.key(source), self.value(source)
        if self.clip is not None:  # OLMo's clip_qkv: tames loss spikes in training
            q, k, v = (h.clamp(-self.clip, self.clip) for h in (q, k, v))
        if self.qk_norm == "full":  # OLMo 2: over the whole projection
            q, k = self.q_norm(q), self.k_norm(k)
        # "b t (h d) -> b h t d": heads are consecutive blocks of d_head rows of each projection.
        q = q.view(b, t, self.n_heads, self.d_head)
        k = k.view(b, s, self.n_kv_heads, self.d_head)
        if self.qk_norm == "per_head":  # Command-R+: each head its own gain, (heads, d_head)
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = v.view(b, s, self.n_kv_heads, self.d_head).transpose(1, 2)
        if self.qk_norm == "head":  # Qwen 3: each head's d_head values
            q, k = self.q_norm(q), self.k_norm(k)
        if rotary is not None:
            q = apply_rotary(q, *rotary, self.interleaved)
            k = apply_rotary(k, *rotary, self.interleaved)
        sinks = self.sinks.weight if "sinks" in self._modules else None
        if self.softcap is None and sinks is None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale,
                                               enable_gqa=self.n_kv_heads != self.n_heads)
        else:  # scaled_dot_product_attention has no soft cap and no sink
            y = eager_attention(q, k, v, mask, self.scale, self.softcap, sinks)
        return self.output(y.transpose(1, 2).reshape(b, t, self.n_heads * self.d_head))


def eager_attention(q, k, v, mask: torch.Tensor | None, scale: float | None,
                    cap: float | None, sinks: torch.Tensor | None = None) -> torch.Tensor:
    """Attention as transformers' eager Gemma 2 and gpt-oss compute it: scores x scale, capped
    to cap x tanh(scores / cap) where there is a cap, then masked (a bool mask, or ALiBi's
    additive one); each head's sink logit joins the softmax (in fp32) as one more key, whose
    share is then dropped (its value is zero). Query head h reads key/value head
    h // (n_heads / n_kv_heads)."""
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5 if scale is None else scale)
    if cap is not None:
        scores = torch.tanh(scores / cap) * cap
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool \
            else scores + mask
    if sinks is not None:
        sink = sinks.reshape(1, -1, 1, 1).expand(*scores.shape[:-1], 1)
        return torch.softmax(torch.cat((scores, sink), dim=-1), dim=-1,
                             dtype=torch.float32)[..., :-1].to(q.dtype) @ v
    return torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype) @ v


class MLP(nn.Module):
    """down(act(up x)), or gated (SwiGLU): down(act(gate x) * up x). With a router (a mixture
    of experts' layer), each token goes through the k experts the router scores highest, their
    outputs weighted by the softmax of the scores (renormalised over the k where
    norm_topk_prob), plus the shared experts (scaled by sigmoid(shared_gate x) when gated)."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.act = ACTIVATION_FUNCTIONS[spec.activation]
        self.gated = spec.gated_mlp
        self.k, self.norm_topk = spec.experts_per_token, spec.norm_topk_prob
        self.limit, self.alpha = spec.swiglu_limit, spec.swiglu_alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if "router" in self._modules:
            return self._routed(x)
        if self.limit is not None:  # gpt-oss: clamped, gate x sigmoid(alpha gate) x (up + 1)
            gate = self.gate(x).clamp(max=self.limit)
            up = self.up(x).clamp(-self.limit, self.limit)
            return self.down(gate * torch.sigmoid(gate * self.alpha) * (up + 1))
        h = self.act(self.gate(x)) * self.up(x) if self.gated else self.act(self.up(x))
        return self.down(h)

    def _routed(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(-1, x.shape[-1])
        probs = F.softmax(self.router(h), dim=-1, dtype=torch.float)
        weights, chosen = probs.topk(self.k, dim=-1)
        if self.norm_topk:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = weights.to(h.dtype)
        out = torch.zeros_like(h)
        for e, expert in enumerate(self.experts):
            tokens, slot = (chosen == e).nonzero(as_tuple=True)
            if tokens.numel():
                out.index_add_(0, tokens, expert(h[tokens]) * weights[tokens, slot, None])
        if "shared" in self._modules:
            shared = self.shared(h)
            if "shared_gate" in self._modules:
                shared = torch.sigmoid(self.shared_gate(h)) * shared
            out = out + shared
        return out.reshape(x.shape)


class TransformerBlock(nn.Module):
    """Pre-norm: x + f(norm(x)) (GPT-2, Llama). Post-norm: norm(x + f(x)) (BERT). Sandwich:
    x + post_norm(f(norm(x))) (Gemma 2). Output: x + post_norm(f(x)) (OLMo 2). Parallel:
    x + attn(norm(x)) + mlp(norm'(x)), norm' = norm when the block shares one (GPT-J, Phi).
    An encoder-decoder's decoder block (pre-norm) adds cross-attention to the encoder's output
    between the two: x + cross_attn(cross_attn_norm(x), memory) (T5)."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.placement, self.parallel = spec.norm_placement, spec.residual == "parallel"
        self.scale = spec.residual_multiplier  # Granite: each sublayer's output, before adding

    def _norm(self, name: str, x: torch.Tensor) -> torch.Tensor:
        norm = getattr(self, name, None)
        return x if norm is None else norm(x)

    def forward(self, x, mask, rotary, memory=None, memory_mask=None):
        if self.placement == "post":
            x = self.attn_norm(x + self.attn(x, mask, rotary))
            return self.mlp_norm(x + self.mlp(x))
        h = self._norm("attn_norm", x)
        a = self._norm("attn_post_norm", self.attn(h, mask, rotary))
        if self.parallel:
            m = self.mlp(h if getattr(self, "mlp_norm", None) is None else self.mlp_norm(x))
            return x + a + self._norm("mlp_post_norm", m)
        x = x + a * self.scale
        if memory is not None:
            x = x + self.cross_attn(self.cross_attn_norm(x), memory_mask, None, memory)
        return x + self._norm("mlp_post_norm", self.mlp(self._norm("mlp_norm", x))) * self.scale


# The containers a description's names pass through inside a block.
CONTAINERS = {"attn": Attention, "cross_attn": Attention, "mlp": MLP, "shared": MLP,
              "experts": lambda spec: nn.ModuleList(MLP(spec) for _ in range(spec.n_experts))}
