"""A compact network in StereoAdapter's design.

A ViT-style monocular encoder (conv stem + transformer blocks whose qkv/proj/fc1/fc2 layers carry
LoRA adapters) stands in for Depth Anything V2; a monocular head gives a disparity prior; a
RAFT-Stereo style ConvGRU refines disparity over a 3-level 1-D correlation pyramid, starting from
that prior; convex upsampling returns full resolution. No foundation weights can be downloaded
here: base weights come from ``stereo_adapter.pretrain`` (supervised, clean synthetic pairs).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from stereo_adapter.lora import add_lora, is_lora_key

_MEAN, _STD = 0.45, 0.225


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`StereoAdapterNet` (stored in the weights file's metadata)."""

    embed_dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    # Encoder output stride (4 or 8); also the convex upsampling factor.
    stride: int = 8
    hidden_dim: int = 32
    corr_levels: int = 3
    corr_radius: int = 3
    iters: int = 8
    # Largest disparity the monocular prior can express, in full-resolution pixels.
    max_disp: float = 64.0
    lora_rank: int = 16
    lora_alpha: float = 16.0

    def __post_init__(self) -> None:
        if self.stride not in (4, 8):
            raise ValueError(f"stride must be 4 or 8, got {self.stride}")
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim {self.embed_dim} must be divisible by heads {self.heads}")

    def to_json(self) -> str:
        """JSON for the safetensors metadata."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


class Attention(nn.Module):
    """Multi-head self-attention with fused ``qkv`` and output ``proj`` (LoRA targets)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block with ``fc1``/``fc2`` MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Encoder(nn.Module):
    """Conv stem to 1/stride, transformer blocks on a 2x coarser token grid, fused back; BxCxhxw."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = 3
        n_down = int(math.log2(cfg.stride))
        for i in range(n_down):
            out = cfg.embed_dim if i == n_down - 1 else max(16, cfg.embed_dim // 2 ** (n_down - 1 - i))
            layers += [nn.Conv2d(ch, out, 3, stride=2, padding=1), nn.GELU()]
            ch = out
        self.stem = nn.Sequential(*layers)
        # Tokens at twice the stem's stride keep global attention affordable on a CPU at 640x480.
        self.patch = nn.Conv2d(cfg.embed_dim, cfg.embed_dim, 2, stride=2)
        self.pos = nn.Conv2d(cfg.embed_dim, cfg.embed_dim, 3, padding=1, groups=cfg.embed_dim)
        self.blocks = nn.ModuleList(Block(cfg.embed_dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.fuse = nn.Conv2d(2 * cfg.embed_dim, cfg.embed_dim, 3, padding=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        fine = self.stem((img - _MEAN) / _STD)
        x = self.patch(fine)
        x = x + self.pos(x)
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        for blk in self.blocks:
            tokens = blk(tokens)
        coarse = self.norm(tokens).transpose(1, 2).reshape(b, c, h, w)
        up = F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([fine, up], 1))


class ConvGRU(nn.Module):
    """Convolutional GRU cell (3x3)."""

    def __init__(self, hidden: int, inp: int) -> None:
        super().__init__()
        self.convz = nn.Conv2d(hidden + inp, hidden, 3, padding=1)
        self.convr = nn.Conv2d(hidden + inp, hidden, 3, padding=1)
        self.convq = nn.Conv2d(hidden + inp, hidden, 3, padding=1)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        hx = torch.cat([h, x], 1)
        z = torch.sigmoid(self.convz(hx))
        r = torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], 1)))
        return (1 - z) * h + z * q


class UpdateBlock(nn.Module):
    """Motion encoder (correlation + disparity) -> ConvGRU -> disparity delta (+ upsampling mask)."""

    def __init__(self, hidden_dim: int, corr_levels: int, corr_radius: int, stride: int) -> None:
        super().__init__()
        corr_ch = corr_levels * (2 * corr_radius + 1)
        hd = hidden_dim
        self.convc = nn.Sequential(nn.Conv2d(corr_ch, 48, 1), nn.ReLU(), nn.Conv2d(48, 32, 3, padding=1), nn.ReLU())
        self.convd = nn.Sequential(nn.Conv2d(1, 16, 7, padding=3), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                                   nn.ReLU())
        self.motion = nn.Sequential(nn.Conv2d(48, 31, 3, padding=1), nn.ReLU())
        self.gru = ConvGRU(hd, hd + 32)
        self.delta = nn.Sequential(nn.Conv2d(hd, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 1, 3, padding=1))
        self.mask = nn.Sequential(nn.Conv2d(hd, 32, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(32, 9 * stride**2, 1))

    def forward(self, h: torch.Tensor, ctx: torch.Tensor, corr: torch.Tensor,
                disp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        motion = self.motion(torch.cat([self.convc(corr), self.convd(disp)], 1))
        h = self.gru(h, torch.cat([ctx, motion, disp], 1))
        return h, self.delta(h)

    def upsample_mask(self, h: torch.Tensor) -> torch.Tensor:
        """Convex-upsampling weights (scaled down as in RAFT to balance gradients)."""
        return 0.25 * self.mask(h)


def correlation_pyramid(f1: torch.Tensor, f2: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """1-D all-pairs correlation along rows, pooled along the right view's width per level."""
    b, c, h, w = f1.shape
    corr = torch.einsum("bchi,bchj->bhij", f1, f2) / math.sqrt(c)
    corr = corr.reshape(b * h * w, 1, 1, w)
    pyramid = [corr]
    for _ in range(levels - 1):
        corr = F.avg_pool2d(corr, (1, 2), stride=(1, 2))
        pyramid.append(corr)
    return pyramid


def lookup(pyramid: list[torch.Tensor], disp: torch.Tensor, radius: int) -> torch.Tensor:
    """Sample each level at x - d ± radius (linear interpolation); returns Bx(L·(2r+1))xhxw."""
    b, _, h, w = disp.shape
    x = torch.arange(w, device=disp.device, dtype=disp.dtype).view(1, 1, 1, w)
    target = (x - disp).permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 1)
    offsets = torch.arange(-radius, radius + 1, device=disp.device, dtype=disp.dtype).view(1, 1, -1, 1)
    out = []
    for level, corr in enumerate(pyramid):
        wl = corr.shape[-1]
        xs = target / 2**level + offsets
        grid = torch.cat([2 * xs / max(wl - 1, 1) - 1, torch.zeros_like(xs)], dim=-1)
        sampled = F.grid_sample(corr, grid, align_corners=True, padding_mode="zeros")
        out.append(sampled.reshape(b, h, w, -1))
    return torch.cat(out, -1).permute(0, 3, 1, 2)


def convex_upsample(disp: torch.Tensor, mask: torch.Tensor, factor: int) -> torch.Tensor:
    """RAFT's learned convex combination of 3x3 coarse neighbours (disparity scaled by factor)."""
    b, _, h, w = disp.shape
    mask = mask.view(b, 1, 9, factor, factor, h, w).softmax(dim=2)
    up = F.unfold(factor * disp, (3, 3), padding=1).view(b, 1, 9, 1, 1, h, w)
    up = (mask * up).sum(dim=2).permute(0, 1, 4, 2, 5, 3)
    return up.reshape(b, 1, factor * h, factor * w)


def refine(update: UpdateBlock, pyramid: list[torch.Tensor], disp: torch.Tensor, hidden: torch.Tensor,
           ctx: torch.Tensor, iters: int, radius: int, stride: int, out_size: tuple[int, int],
           training: bool) -> list[torch.Tensor]:
    """RAFT-style recurrence from ``disp`` (coarse px); full-resolution estimates, last one convex-upsampled.

    In eval mode only the final estimate is returned (the others are never upsampled).
    """
    h, w = out_size
    sequence: list[torch.Tensor] = []
    for i in range(iters):
        # Gradients flow through the update, not through the lookup position (as in RAFT).
        disp = disp.detach()
        corr = lookup(pyramid, disp, radius)
        hidden, delta = update(hidden, ctx, corr, disp)
        disp = disp + delta
        if i == iters - 1:
            up = convex_upsample(disp, update.upsample_mask(hidden), stride)
        elif training:
            up = F.interpolate(disp * stride, scale_factor=stride, mode="bilinear", align_corners=False)
        else:
            continue
        sequence.append(up[..., :h, :w])
    return sequence


class StereoAdapterNet(nn.Module):
    """Monocular prior + ConvGRU stereo refinement; forward returns full-resolution disparities."""

    def __init__(self, cfg: ModelConfig | None = None, with_lora: bool = True) -> None:
        super().__init__()
        self.cfg = cfg or ModelConfig()
        c = self.cfg
        self.encoder = Encoder(c)
        self.mono_head = nn.Sequential(nn.Conv2d(c.embed_dim, 64, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(64, 1, 3, padding=1))
        self.fnet = nn.Conv2d(c.embed_dim, 64, 1)
        self.cnet = nn.Conv2d(c.embed_dim, 2 * c.hidden_dim, 3, padding=1)
        self.update = UpdateBlock(c.hidden_dim, c.corr_levels, c.corr_radius, c.stride)
        self.lora_layers = (add_lora(self.encoder, ("qkv", "proj", "fc1", "fc2"), c.lora_rank, c.lora_alpha)
                            if with_lora else [])

    arch = "compact"

    @property
    def max_disp(self) -> float:
        """Largest disparity [full-resolution px] the monocular prior can express."""
        return float(self.cfg.max_disp)

    @staticmethod
    def is_adapter_param(name: str) -> bool:
        """What self-supervised adaptation trains and saves here: the LoRA tensors only."""
        return is_lora_key(name)

    def forward(self, left: torch.Tensor, right: torch.Tensor,
                iters: int | None = None) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """``left``/``right``: Bx3xHxW in [0, 1]. Returns 'disparity', 'sequence' and 'mono' (Bx1xHxW px)."""
        s = self.cfg.stride
        h, w = left.shape[-2:]
        ph, pw = (-h) % s, (-w) % s
        if ph or pw:
            left = F.pad(left, (0, pw, 0, ph), mode="replicate")
            right = F.pad(right, (0, pw, 0, ph), mode="replicate")
        feats = self.encoder(torch.cat([left, right], 0))
        fl, fr = feats.chunk(2, 0)
        # Monocular prior, as disparity in coarse pixels; sigmoid bounds it to the search range.
        mono = torch.sigmoid(self.mono_head(fl)) * (self.cfg.max_disp / s)
        hidden, ctx = self.cnet(fl).chunk(2, 1)
        hidden, ctx = torch.tanh(hidden), torch.relu(ctx)
        pyramid = correlation_pyramid(self.fnet(fl), self.fnet(fr), self.cfg.corr_levels)
        sequence = refine(self.update, pyramid, mono, hidden, ctx, iters or self.cfg.iters, self.cfg.corr_radius,
                          s, (h, w), self.training)
        mono_up = F.interpolate(mono * s, scale_factor=s, mode="bilinear", align_corners=False)[..., :h, :w]
        return {"disparity": sequence[-1], "sequence": sequence, "mono": mono_up}
