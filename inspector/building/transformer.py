"""Spec -> a real PyTorch model whose parameter names ARE the canonical names
(inspector.vocab.canonical).

One model for every family: the spec's fields switch each feature on or off (position kind, norm
kind and placement, activation, gated MLP, grouped-query attention, d_head apart from d_model,
causal or bidirectional, local attention layers, soft caps, Gemma's 1 + w norm gains and
sqrt(d_model) embedding scale, token types, pooler, tied unembedding, mixtures of experts,
attention sinks, yarn rotary, gpt-oss's clamped SwiGLU), so that
`inspector.spec.describe.spec_rows(spec)` and `build_model(spec).named_parameters()` agree name
by name.

Masks are non-persistent buffers (never parameters, never saved). Its layers are in
inspector.building.layers, positions and masks in inspector.building.positions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inspector.building.layers import (
    ACTIVATION_FUNCTIONS,
    CONTAINERS,
    TransformerBlock,
    make_module,
)
from inspector.building.positions import (
    alibi_bias,
    allowed_keys,
    relative_buckets,
    rotary_tables,
    sinusoid_table,
)
from inspector.errors import UsageError
from inspector.spec.describe import last_norm, module_entries
from inspector.spec.schema import Spec
from inspector.vocab.canonical import parse
from inspector.vocab.roles import Role
from inspector.vocab.words import UNBUILT_ROPE_TYPES

# Modules whose output is added to the residual stream: GPT-2 scales their initial weights by
# 1/sqrt(2 n_layers) (Radford et al. 2019, section 2.3) so the stream's variance does not grow.
RESIDUAL_PROJECTIONS = ("attn.output.weight", "mlp.down.weight")
INIT_STD = 0.02


class Transformer(nn.Module):
    """The whole model. Decoders return logits [b, t, vocab]; encoders return
    (last_hidden_state [b, t, d_model], pooled [b, d_model] or None).

    Its modules are made from `module_entries(spec)`, one per entry under the entry's name,
    so the parameters are exactly the ones `inspector count` counts."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.spec = spec
        for entry in module_entries(spec):
            *path, leaf = entry.module.split(".")
            self._container(path).add_module(leaf, make_module(entry, spec))
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
                    made = nn.ModuleList(TransformerBlock(self.spec) for _ in
                                         range(self.spec.n_layers + self.spec.n_decoder_layers))
                module.add_module(name, made)
            module = module._modules[name]
        return module

    def tie(self) -> None:
        """One Parameter for embedding and unembedding, so named_parameters shows it once."""
        if self.spec.tied_embeddings and hasattr(self, "unembed"):
            self.unembed.weight = self.embed.weight

    def fill_buffers(self) -> None:
        for kind, name in (("dense", "causal_mask"), ("local", "local_mask")):
            if name in self._buffers:
                self._buffers[name] = allowed_keys(self.spec, kind, self._buffers[name].device)

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
        act = ACTIVATION_FUNCTIONS[spec.activation]
        logits = self.unembed(self.mlm_norm(act(self.mlm_transform(x))))
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
