"""Where each token is, as the one model (inspector.building.transformer) computes it: rotary
tables and their scalings (linear, Llama 3.1's, YaRN), ALiBi's biases, sinusoidal tables, T5's
relative buckets, and the causal and local masks.

Rotary and sinusoidal tables are computed in fp32 per call, so a half-precision model keeps
exact frequencies.
"""

from __future__ import annotations

import math

import torch

from inspector.spec.schema import Spec


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


def allowed_keys(spec: Spec, kind: str, device=None) -> torch.Tensor:
    """[n_ctx, n_ctx] bool, True where a query may look, for layers of attention `kind`."""
    n = spec.n_ctx
    i = torch.arange(n, device=device)
    if spec.architecture == "encoder":  # ModernBERT's local band: w/2 each side
        return (i[:, None] - i[None, :]).abs() <= spec.local_window // 2
    allowed = i[None, :] <= i[:, None]  # key position <= query position
    if kind == "local":  # GPT-3's banded layers: only the last local_window tokens
        allowed &= i[:, None] - i[None, :] < spec.local_window
    return allowed
