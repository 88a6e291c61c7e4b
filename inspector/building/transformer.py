"""Spec -> a real PyTorch model whose parameter names ARE the canonical names (inspector.vocab.canonical).

One model for every family: the spec's fields switch each feature on or off (position kind, norm
kind and placement, activation, gated MLP, grouped-query attention, d_head apart from d_model,
causal or bidirectional, local attention layers, soft caps, Gemma's 1 + w norm gains and
sqrt(d_model) embedding scale, token types, pooler, tied unembedding, mixtures of experts,
attention sinks, yarn rotary, gpt-oss's clamped SwiGLU), so that
`inspector.spec.describe.spec_rows(spec)` and `build_model(spec).named_parameters()` agree name by name.

Masks are non-persistent buffers (never parameters, never saved). Rotary and sinusoidal tables are
computed in fp32 per call, so a half-precision model keeps exact frequencies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from inspector.spec.describe import EMBEDDING, LINEAR, PATCHES, TABLE, Part, describe, last_norm
from inspector.vocab.canonical import parse
from inspector.errors import UsageError
from inspector.vocab.roles import Role
from inspector.spec.schema import Spec
from inspector.vocab.words import UNBUILT_ROPE_TYPES

ACTIVATIONS = {
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-2's "gelu_new"
    "gelu": F.gelu,  # the exact erf form (BERT)
    "relu": F.relu,
    "silu": F.silu,  # SwiGLU's gate (Llama)
}

# Modules whose output is added to the residual stream: GPT-2 scales their initial weights by
# 1/sqrt(2 n_layers) (Radford et al. 2019, section 2.3) so the stream's variance does not grow.
RESIDUAL_PROJECTIONS = ("attn.output.weight", "mlp.down.weight")
INIT_STD = 0.02


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

    def __init__(self, spec: Spec, part: Part):
        super().__init__()
        self.kind, self.eps = spec.norm, float(spec.norm_eps)
        self.unit_offset = spec.norm_unit_offset
        # over the last dim; a gain of shape (heads, d_head) is one per head (Command-R+'s q/k
        # norms), applied to a (..., heads, d_head) input
        shape = tuple(part.shape)
        self.width = shape[-1]
        gain = torch.zeros(shape) if self.unit_offset else torch.ones(shape)
        self.weight = nn.Parameter(gain) if part.weight else None
        self.bias = nn.Parameter(torch.zeros(shape)) if part.bias else None

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

    def __init__(self, spec: Spec, part: Part):
        d, channels, p, _ = part.shape
        super().__init__(channels, d, kernel_size=p, stride=p, bias=part.bias)
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

    def __init__(self, part: Part):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(part.shape))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.weight.reshape(-1, self.weight.shape[-1])[index]


def make_module(part: Part, spec: Spec) -> nn.Module:
    """The torch module of one entry of `analytic.describe`."""
    if part.kind == EMBEDDING:
        return Embedding(*part.shape)
    if part.kind == PATCHES:
        return Patches(spec, part)
    if part.kind == TABLE:
        return Table(part)
    if part.kind == LINEAR:
        n_out, n_in = part.shape
        return Linear(n_in, n_out, bias=part.bias)
    return Norm(spec, part)


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
        self.act = ACTIVATIONS[spec.activation]
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


class Block(nn.Module):
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


class Transformer(nn.Module):
    """The whole model. Decoders return logits [b, t, vocab]; encoders return
    (last_hidden_state [b, t, d_model], pooled [b, d_model] or None).

    Its modules are made from `analytic.describe(spec)`, one per entry under the entry's name,
    so the parameters are exactly the ones `inspector count` counts."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.spec = spec
        for part in describe(spec):
            *path, leaf = part.module.split(".")
            self._container(path).add_module(leaf, make_module(part, spec))
        if "layers" not in self._modules:
            self.layers = nn.ModuleList()
        self.tie()
        # [n_ctx, n_ctx] bool, True where a query may look: one per attention kind, shared by
        # every layer of that kind. Only shaped here (the model is built on the meta device, where
        # even arange costs an import of torch._dynamo); fill_buffers() computes them once the
        # model has real storage.
        shape = (spec.n_ctx, spec.n_ctx)
        if spec.architecture != "encoder":
            self.register_buffer("causal_mask", torch.empty(shape, dtype=torch.bool),
                                 persistent=False)
        if "local" in spec.attention_pattern:
            self.register_buffer("local_mask", torch.empty(shape, dtype=torch.bool),
                                 persistent=False)

    def _container(self, path: list[str]) -> nn.Module:
        """The module at `path`, made when first named, so that parameters are registered in
        the order of the description (layers, then each block's attn and mlp, as they come)."""
        module: nn.Module = self
        for depth, name in enumerate(path):
            if name not in module._modules:
                made = CONTAINERS[name](self.spec) if depth else None
                if name == "layers":
                    made = nn.ModuleList(Block(self.spec) for _ in
                                         range(self.spec.n_layers + self.spec.n_decoder_layers))
                module.add_module(name, made)
            module = module._modules[name]
        return module

    def tie(self) -> None:
        """One Parameter for embedding and unembedding, so named_parameters shows it once."""
        if self.spec.tied_embeddings and hasattr(self, "unembed"):
            self.unembed.weight = self.embed.weight

    def _mask(self, kind: str, device=None) -> torch.Tensor:
        n = self.spec.n_ctx
        i = torch.arange(n, device=device)
        if self.spec.architecture == "encoder":  # ModernBERT's local band: w/2 each side
            return (i[:, None] - i[None, :]).abs() <= self.spec.local_window // 2
        allowed = i[None, :] <= i[:, None]  # key position <= query position
        if kind == "local":  # GPT-3's banded layers: only the last local_window tokens
            allowed &= i[:, None] - i[None, :] < self.spec.local_window
        return allowed

    def fill_buffers(self) -> None:
        for kind, name in (("dense", "causal_mask"), ("local", "local_mask")):
            if name in self._buffers:
                self._buffers[name] = self._mask(kind, self._buffers[name].device)

    def causal(self, layer: int) -> bool:
        """Whether a layer's tokens see only those before them: a decoder's, and an
        encoder-decoder's blocks after the encoder's."""
        spec = self.spec
        return spec.architecture == "decoder" or (spec.architecture == "encoder-decoder"
                                                  and layer >= spec.n_layers)

    def attention_mask(self, layer: int, t: int,
                       padding: torch.Tensor | None = None) -> torch.Tensor | None:
        """The bool mask layer `layer` uses for t tokens (None: every token sees every token)."""
        mask = None
        kind = self.spec.layer_attention(layer)
        if self.causal(layer):
            mask = (self.local_mask if kind == "local" else self.causal_mask)[:t, :t]
        elif kind == "local":
            mask = self.local_mask[:t, :t]
        if padding is not None:  # [b, t], 1 for a real token, 0 for padding
            keys = padding.bool()[:, None, None, :]
            mask = keys if mask is None else mask & keys
        return mask

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                decoder_input_ids: torch.Tensor | None = None):
        spec = self.spec
        if spec.architecture == "encoder-decoder":
            return self.encode_decode(input_ids, decoder_input_ids, attention_mask)
        x = self.embed(input_ids) * spec.embedding_multiplier  # ViT: input_ids are pixel values
        if spec.embedding_scale == "sqrt_d_model":  # Gemma: the factor as an fp32 tensor, then
            x = x * torch.tensor(spec.d_model ** 0.5).to(x.device, x.dtype)  # the model's dtype
        if spec.patch_size:  # the [CLS] vector first, then the patches
            x = torch.cat((self.cls.weight.expand(len(x), -1, -1), x), dim=1)
        t = x.shape[1]
        positions = torch.arange(t, device=input_ids.device)
        if t > spec.n_ctx - spec.position_offset:
            raise UsageError(spec.name, f"{t} tokens given, the model takes at most"
                                        f" {spec.n_ctx - spec.position_offset}")
        pos_ids = positions[None, :] + spec.position_offset
        if spec.positions_skip_padding:  # RoBERTa: cumsum of real tokens, padding keeps its id
            real = (input_ids != spec.position_offset - 1).long()
            pos_ids = torch.cumsum(real, dim=1) * real + spec.position_offset - 1
        if spec.type_vocab_size:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = x + self.token_type(token_type_ids)
        if spec.position == "learned":
            x = x + self.pos(pos_ids)
        elif spec.position == "sinusoidal":
            x = x + sinusoid_table(positions, spec.d_model).to(x.dtype)
        if spec.embedding_norm:
            x = self.embed_norm(x)
        rotary = {}  # per attention kind: Gemma 3's local layers turn at a theta of their own
        if spec.position == "rotary":
            rotary = {kind: rotary_tables(positions, spec, x.dtype, kind)
                      for kind in set(spec.attention_pattern)}
        masks = {kind: self.attention_mask(i, t, attention_mask)
                 for i, kind in enumerate(spec.attention_pattern[:spec.n_layers])}
        if spec.position == "relative":  # an encoder alone (T5EncoderModel): one table's bias
            masks = {kind: self.relative_bias(0, t, attention_mask) for kind in masks}
        if spec.position == "alibi":
            masks = {kind: alibi_bias(mask, positions, spec.n_heads, x.dtype)
                     for kind, mask in masks.items()}
        for i, layer in enumerate(self.layers):
            rotates = spec.rotary_layers is None or spec.rotary_layers[i]  # SmolLM3's NoPE layers
            kind = spec.layer_attention(i)
            x = layer(x, masks[kind], rotary.get(kind) if rotates else None)
        if spec.final_norm:
            x = getattr(self, last_norm(spec))(x)
        if spec.architecture == "decoder":
            logits = self.unembed(x) * spec.logit_scale
            if spec.logit_softcap is not None:  # Gemma 2: cap x tanh(logits / cap)
                logits = torch.tanh(logits / spec.logit_softcap) * spec.logit_softcap
            return logits
        pooled = torch.tanh(self.pooler(x[:, 0])) if spec.pooler else None
        if not spec.mlm_head:
            return x, pooled
        logits = self.unembed(self.mlm_norm(ACTIVATIONS[spec.activation](self.mlm_transform(x))))
        return (x, pooled, logits) + ((self.nsp(pooled),) if spec.nsp_head else ())

    def encode_decode(self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor | None,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """An encoder-decoder (T5): the encoder's blocks read input_ids, the decoder's read
        decoder_input_ids causally and attend to the encoder's normed output; the decoder's
        logits [b, t, vocab]. Positions only as each stack's relative biases."""
        spec, n = self.spec, self.spec.n_layers
        if decoder_input_ids is None:
            raise UsageError(spec.name, "an encoder-decoder reads decoder_input_ids too")
        x = self.embed(input_ids)
        bias = self.relative_bias(0, x.shape[1], attention_mask)
        for layer in self.layers[:n]:
            x = layer(x, bias, None)
        memory = self.encoder_norm(x)
        memory_mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        y = self.embed(decoder_input_ids)
        if y.shape[1] > spec.n_ctx:  # the causal mask's size; the encoder's stack has none
            raise UsageError(spec.name, f"{y.shape[1]} decoder tokens given, the model takes at"
                                        f" most {spec.n_ctx}")
        bias = self.relative_bias(n, y.shape[1])
        for layer in self.layers[n:]:
            y = layer(y, bias, None, memory, memory_mask)
        return self.unembed(self.final_norm(y)) * spec.logit_scale

    def relative_bias(self, layer: int, t: int,
                      padding: torch.Tensor | None = None) -> torch.Tensor:
        """The additive scores of the stack whose first block is `layer`: its relative bias
        table read at the bucket of (key - query), [1 or b, n_heads, t, t], -inf where the
        layer's mask forbids (shared by every block of the stack)."""
        spec = self.spec
        positions = torch.arange(t, device=self.embed.weight.device)
        buckets = relative_buckets(positions[None, :] - positions[:, None],
                                   not self.causal(layer), spec.relative_buckets,
                                   spec.relative_max_distance)
        bias = self.layers[layer].attn.rel_bias(buckets).permute(2, 0, 1)[None]
        mask = self.attention_mask(layer, t, padding)
        return bias if mask is None else bias.masked_fill(~mask, float("-inf"))


def relative_buckets(relative: torch.Tensor, bidirectional: bool, n_buckets: int,
                     max_distance: int) -> torch.Tensor:
    """T5's bucket of each relative position (key - query), as Mesh TensorFlow computes it:
    half the buckets (bidirectional: for each sign) hold the small distances exactly, the
    other half log-spaced distances up to max_distance, beyond which all share the last."""
    buckets = torch.zeros_like(relative)
    if bidirectional:
        n_buckets //= 2
        buckets = (relative > 0).long() * n_buckets
        relative = relative.abs()
    else:
        relative = -torch.clamp(relative, max=0)  # a causal layer never looks ahead
    exact = n_buckets // 2
    logged = exact + (torch.log(relative.float() / exact) / math.log(max_distance / exact)
                      * (n_buckets - exact)).long()
    logged = logged.clamp(max=n_buckets - 1)
    return buckets + torch.where(relative < exact, relative, logged)


def rotary_tables(positions: torch.Tensor, spec: Spec, dtype: torch.dtype,
                  kind: str = "dense") -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [t, rotated dims], as transformers computes them, in fp32. The rotated dims
    are the first rotary_fraction of each head; frequency j serves dims (j, j + half) in the
    "rotate half" convention (Llama), dims (2j, 2j + 1) when interleaved (GLM-4, Cohere).
    Layers of `kind` local take local_rope_theta, unscaled, where the spec gives one (Gemma 3's
    and ModernBERT's local layers)."""
    dim = int(spec.d_head * spec.rotary_fraction)
    theta, scaling = spec.rope_theta, spec.rope_scaling
    if kind == "local" and spec.local_rope_theta is not None:
        theta, scaling = spec.local_rope_theta, None
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64,
                                             device=positions.device).float() / dim))
    gain = 1.0  # cos and sin x gain: yarn's attention factor
    if scaling is not None and scaling["rope_type"] == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif scaling is not None and scaling["rope_type"] == "yarn":
        inv_freq, gain = yarn_frequencies(inv_freq, scaling, theta, dim)
    elif scaling is not None:
        inv_freq = llama3_frequencies(inv_freq, scaling)
    angles = positions.float()[:, None] * inv_freq[None, :]
    angles = angles.repeat_interleave(2, dim=-1) if spec.rotary_interleaved \
        else torch.cat((angles, angles), dim=-1)
    return (angles.cos() * gain).to(dtype), (angles.sin() * gain).to(dtype)


def yarn_frequencies(inv_freq: torch.Tensor, scaling: dict, theta: float,
                     dim: int) -> tuple[torch.Tensor, float]:
    """YaRN (Peng et al. 2023), as transformers' _compute_yarn_parameters: frequencies that turn
    fewer than beta_slow times over original_max positions are divided by factor, those past
    beta_fast kept, a linear ramp between (over dims cut to whole numbers unless truncate is
    false); cos and sin scaled by attention_factor (default 0.1 ln(factor) + 1, or the ratio of
    mscale's to mscale_all_dim's)."""
    factor, original = scaling["factor"], scaling["original_max_position_embeddings"]

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    gain = scaling.get("attention_factor")
    if gain is None:
        m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
        gain = mscale(factor, m) / mscale(factor, m_all) if m and m_all else mscale(factor)

    def correction_dim(rotations: float) -> float:
        return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low = correction_dim(scaling.get("beta_fast") or 32)
    high = correction_dim(scaling.get("beta_slow") or 1)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # (transformers' guard against a zero-width ramp)
    ramp = ((torch.arange(dim // 2, dtype=torch.float32, device=inv_freq.device) - low)
            / (high - low)).clamp(0, 1)
    kept = 1 - ramp  # the share of each frequency left as it is
    return inv_freq / factor * (1 - kept) + inv_freq * kept, float(gain)


def llama3_frequencies(inv_freq: torch.Tensor, scaling: dict) -> torch.Tensor:
    """Llama 3.1's long-context frequencies (transformers' _compute_llama3_parameters): slow
    rotations (wavelength past original_max / low_freq_factor) are divided by `factor`, fast ones
    (wavelength below original_max / high_freq_factor) are kept, and the band between is a
    linear blend of the two in original_max / wavelength."""
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    original = scaling["original_max_position_embeddings"]
    wavelength = 2 * math.pi / inv_freq
    scaled = torch.where(wavelength > original / low, inv_freq / factor, inv_freq)
    smooth = (original / wavelength - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelength >= original / high) & (wavelength <= original / low)
    return torch.where(medium, blended, scaled)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 interleaved: bool = False) -> torch.Tensor:
    """Rotate the first cos.shape[-1] dims of each head; the rest pass through (partial rotary)."""
    dim = cos.shape[-1]
    x, rest = x[..., :dim], x[..., dim:]
    if interleaved:  # pairs (2j, 2j + 1): (a, b) -> (-b, a)
        rotated = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
    else:
        rotated = torch.cat((-x[..., dim // 2:], x[..., :dim // 2]), dim=-1)
    return torch.cat((x * cos + rotated * sin, rest), dim=-1)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi's per-head slopes (Press et al. 2022, as BLOOM computes them): the geometric
    sequence 2^(-8/n), 2^(-16/n), ... for the largest power of two n <= n_heads, then every other
    term of the sequence for 2n for the heads beyond it."""
    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = [2 ** (-8 * k / closest) for k in range(1, closest + 1)]
    extra = min(closest, n_heads - closest)
    slopes += [2 ** (-4 * k / closest) for k in range(1, 2 * extra, 2)]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(mask: torch.Tensor | None, positions: torch.Tensor, n_heads: int,
               dtype: torch.dtype) -> torch.Tensor:
    """The additive attention mask of ALiBi: slope x (key - query) where `mask` allows,
    -inf elsewhere, [.., n_heads, t, t]. (BLOOM adds slope x key; softmax does not see the
    per-query constant.)"""
    distance = (positions[None, :] - positions[:, None]).float()
    bias = alibi_slopes(n_heads).to(positions.device)[:, None, None] * distance
    if mask is not None:
        bias = bias.masked_fill(~mask, float("-inf"))
    return bias.to(dtype)


def sinusoid_table(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Vaswani et al. 2017, section 3.5: sin on even dimensions, cos on odd, wavelengths from
    2 pi to 10000 x 2 pi."""
    rates = torch.exp(torch.arange(0, d_model, 2, device=positions.device).float()
                      * (-math.log(10000.0) / d_model))
    angles = positions.float()[:, None] * rates[None, :]
    table = torch.zeros(len(positions), d_model, device=positions.device)
    table[:, 0::2] = angles.sin()
    table[:, 1::2] = angles.cos()[:, : d_model // 2]
    return table


# What `encode_decode` computes of an encoder-decoder: a spec that says otherwise would be built
# with the difference silently ignored.
ENCODER_DECODER = {"position": "relative", "norm_placement": "pre", "residual": "sequential",
                   "type_vocab_size": 0, "embedding_norm": False, "embedding_multiplier": 1.0,
                   "final_norm": True, "pooler": False, "mlm_head": False, "qk_norm": "none",
                   "attention_pattern": ("dense",)}


def refuse_unbuilt(spec: Spec) -> None:
    """What this model cannot compute is refused, not built wrong (nor approximated): a rotary
    scaling it does not compute, relative position biases in a decoder alone, or an
    encoder-decoder other than T5's kind."""
    if spec.kv_lora_rank:
        raise UsageError(spec.name, "multi-head latent attention changes no count (counts are"
                                    " exact) but inspector's model does not compute it: build"
                                    " and forward refuse")
    rope_type = (spec.rope_scaling or {}).get("rope_type")
    if rope_type in UNBUILT_ROPE_TYPES:
        raise UsageError(spec.name, f"rope_type {rope_type} changes no tensor (counts are exact)"
                                    " but inspector's model does not compute it (it has default,"
                                    " linear, llama3 and yarn rotary): build and forward refuse")
    if spec.architecture != "encoder-decoder":
        if spec.position == "relative" and spec.architecture == "decoder":
            raise UsageError(spec.name, "can build relative position biases only in an"
                                        " encoder or an encoder-decoder")
        return
    differ = [f"{key} {getattr(spec, key)!r}" for key, value in ENCODER_DECODER.items()
              if getattr(spec, key) != value]
    if differ:
        raise UsageError(spec.name, "cannot build an encoder-decoder with " + ", ".join(differ)
                         + "; it builds " + ", ".join(f"{k} {v!r}"
                                                       for k, v in ENCODER_DECODER.items()))


def build_model(spec: Spec, device: str | torch.device = "meta",
                dtype: torch.dtype = torch.float32, seed: int = 0) -> Transformer:
    """The model of `spec`. On "meta" no memory is allocated and nothing initialised (a 175B
    model is built in well under a second); on a real device the weights are GPT-2-style random
    values drawn from `seed` (see init_weights), ready to be overwritten by weights.load_into."""
    refuse_unbuilt(spec)
    with torch.device("meta"):
        model = Transformer(spec)
    model.to(dtype=dtype)
    if torch.device(device).type != "meta":
        materialize(model, device)
        init_weights(model, seed)
    return model


def materialize(model: Transformer, device: str | torch.device = "cpu") -> Transformer:
    """Give a meta model real (uninitialised) storage on `device`, keeping the tie and masks."""
    model.to_empty(device=device)
    model.tie()  # to_empty makes a new Parameter per module holding the tied one
    model.fill_buffers()
    return model


@torch.no_grad()
def init_weights(model: Transformer, seed: int = 0) -> None:
    """GPT-2's initialisation: matrices and embeddings normal(0, 0.02), residual projections
    normal(0, 0.02 / sqrt(2 n_layers)), biases 0, norm gains 1. Deterministic in `seed`."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    residual_std = INIT_STD / math.sqrt(2 * model.spec.n_layers)
    for name, p in model.named_parameters():
        role, _, kind = parse(name)
        if kind == "bias":
            p.zero_()
        elif role == Role.NORM:
            p.fill_(0.0 if model.spec.norm_unit_offset else 1.0)  # a gain of 1 either way
        else:
            std = residual_std if name.endswith(RESIDUAL_PROJECTIONS) else INIT_STD
            values = torch.empty(p.shape, dtype=torch.float32).normal_(0.0, std,
                                                                        generator=generator)
            p.copy_(values)
