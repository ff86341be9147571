"""StereoAdapter on its real architecture: a LoRA-adapted Depth Anything V2 encoder + ConvGRU stereo.

The monocular foundation model is transformers' ``DepthAnythingForDepthEstimation`` (a Dinov2
backbone, the DPT neck and the relative-depth head). Both views go through it once: the fused
neck features feed the matching features (``fnet``) and the GRU's context (``cnet``), the head's
relative inverse depth is the monocular prior. The prior is turned into disparity by a scale and
shift fitted (weighted least squares) to a first stereo estimate — the winner-take-all match of
the correlation volume, weighted by its peak probability — and starts a RAFT-style ConvGRU
refinement over a 3-level 1-D correlation pyramid (12 iterations by default).

LoRA comes from PEFT (``inject_adapter_in_model``) on the backbone's ``q_proj``/``k_proj``/
``v_proj``/``o_proj``/``fc1``/``fc2`` (transformers' Dinov2 names); each adapter's rank components
pass through a learned gate, ``y = W x + (α/r)·B·diag(σ(g))·A x``. Released weights load from a
local folder (``from_pretrained(path, local_files_only=True)``); nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation

from stereo_adapter.lora import add_lora
from stereo_adapter.model import UpdateBlock, correlation_pyramid, refine

#: transformers' Dinov2 names for StereoAdapter's qkv / proj / fc1 / fc2 targets.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_PATCH = 14

# Depth Anything V2's published encoder sizes (DINOv2 ViT-S/B/L with their DPT heads), plus a
# tiny one for tests. Keys: Dinov2 backbone kwargs, then the DPT neck/head sizes.
ENCODER_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"backbone": {"hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2, "mlp_ratio": 2,
                          "image_size": 56, "out_indices": [1, 2, 3, 4]},
             "reassemble_hidden_size": 32, "neck_hidden_sizes": [8, 16, 32, 32], "fusion_hidden_size": 16,
             "head_hidden_size": 8},
    "vits": {"backbone": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6,
                          "image_size": 518, "out_indices": [3, 6, 9, 12]},
             "reassemble_hidden_size": 384, "neck_hidden_sizes": [48, 96, 192, 384], "fusion_hidden_size": 64,
             "head_hidden_size": 32},
    "vitb": {"backbone": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                          "image_size": 518, "out_indices": [3, 6, 9, 12]},
             "reassemble_hidden_size": 768, "neck_hidden_sizes": [96, 192, 384, 768], "fusion_hidden_size": 128,
             "head_hidden_size": 32},
    "vitl": {"backbone": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                          "image_size": 518, "out_indices": [5, 12, 18, 24]},
             "reassemble_hidden_size": 1024, "neck_hidden_sizes": [256, 512, 1024, 1024],
             "fusion_hidden_size": 256, "head_hidden_size": 32},
}


def encoder_config(preset: str) -> DepthAnythingConfig:
    """The ``DepthAnythingConfig`` of a named encoder size (random weights)."""
    if preset not in ENCODER_PRESETS:
        raise ValueError(f"unknown encoder '{preset}'; choose one of {sorted(ENCODER_PRESETS)}")
    p = ENCODER_PRESETS[preset]
    backbone = {"model_type": "dinov2", "reshape_hidden_states": False, "patch_size": _PATCH, **p["backbone"]}
    return DepthAnythingConfig(backbone_config=backbone, patch_size=_PATCH,
                               reassemble_hidden_size=p["reassemble_hidden_size"],
                               neck_hidden_sizes=list(p["neck_hidden_sizes"]),
                               fusion_hidden_size=p["fusion_hidden_size"], head_hidden_size=p["head_hidden_size"],
                               depth_estimation_type="relative")


@dataclass(frozen=True)
class DAv2Config:
    """Architecture of :class:`DAv2StereoNet` (stored in the weights file's metadata)."""

    # Encoder size: a key of ENCODER_PRESETS, or "custom" when encoder_json holds the config.
    encoder: str = "vitb"
    # DepthAnythingConfig as JSON (filled from a released model's folder; empty for presets).
    encoder_json: str = ""
    # Refinement grid stride (4 or 8) relative to the input; also the convex upsampling factor.
    stride: int = 4
    hidden_dim: int = 64
    corr_levels: int = 3
    corr_radius: int = 4
    iters: int = 12
    # Largest disparity searched, in full-resolution pixels (StereoAdapter: 80).
    max_disp: float = 80.0
    lora_rank: int = 16
    lora_alpha: int = 16
    # Initial rank-gate logit (σ(0) = 0.5: every rank starts half open, free to open or close).
    gate_init: float = 0.0

    def __post_init__(self) -> None:
        if self.stride not in (4, 8):
            raise ValueError(f"stride must be 4 or 8, got {self.stride}")
        if self.encoder != "custom" and self.encoder not in ENCODER_PRESETS:
            raise ValueError(f"unknown encoder '{self.encoder}'; choose one of {sorted(ENCODER_PRESETS)} or 'custom'")
        if self.encoder == "custom" and not self.encoder_json:
            raise ValueError("encoder 'custom' needs encoder_json (a DepthAnythingConfig)")
        if self.lora_rank < 1:
            raise ValueError(f"lora_rank must be at least 1, got {self.lora_rank}")
        if self.iters < 1 or self.max_disp <= 0:
            raise ValueError(f"iters ({self.iters}) and max_disp ({self.max_disp}) must be positive")

    def depth_anything_config(self) -> DepthAnythingConfig:
        """The transformers config this architecture builds."""
        if self.encoder == "custom":
            return DepthAnythingConfig.from_dict(json.loads(self.encoder_json))
        return encoder_config(self.encoder)

    def to_json(self) -> str:
        """JSON for the safetensors metadata."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> DAv2Config:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def fit_scale_shift(mono: torch.Tensor, target: torch.Tensor,
                    weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image (s, t) minimising Σ w·(s·mono + t − target)², Bx1x1x1 each.

    Fallbacks: an inverted fit (s ≤ 0, e.g. random weights) becomes a pure median-ratio scale; a
    flat prior (a dead ReLU head gives all zeros) becomes s = 0, t = the weighted mean target.
    """
    m, d, w = (x.flatten(1).to(torch.float32) for x in (mono, target, weight))
    sw = w.sum(1).clamp_min(1e-6)
    mm, md = (w * m).sum(1) / sw, (w * d).sum(1) / sw
    var = (w * (m - mm[:, None]) ** 2).sum(1) / sw
    cov = (w * (m - mm[:, None]) * (d - md[:, None])).sum(1) / sw
    s = cov / var.clamp_min(1e-8)
    t = md - s * mm
    ratio = (d.median(1).values / m.median(1).values.clamp_min(1e-6)).clamp_min(0.0)
    inverted = (s <= 0) | ~torch.isfinite(s) | ~torch.isfinite(t)
    s, t = torch.where(inverted, ratio, s), torch.where(inverted, torch.zeros_like(t), t)
    flat = var < 1e-8
    s, t = torch.where(flat, torch.zeros_like(s), s), torch.where(flat, md, t)
    return s.view(-1, 1, 1, 1).to(mono.dtype), t.view(-1, 1, 1, 1).to(mono.dtype)


def winner_take_all(f1: torch.Tensor, f2: torch.Tensor, max_disp: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First stereo estimate: argmax of the 1-D correlation over 0..max_disp, and its peak probability."""
    c, w = f1.shape[1], f1.shape[-1]
    corr = torch.einsum("bchi,bchj->bhij", f1, f2) / c**0.5
    i = torch.arange(w, device=f1.device).view(w, 1)
    j = torch.arange(w, device=f1.device).view(1, w)
    allowed = (j <= i) & (i - j <= max_disp)
    prob = corr.masked_fill(~allowed, float("-inf")).softmax(-1)
    peak, arg = prob.max(-1)
    disp = (torch.arange(w, device=f1.device).view(1, 1, w) - arg).to(f1.dtype)
    return disp[:, None], peak[:, None].to(f1.dtype)


class MatchFeatures(nn.Module):
    """Matching features: Depth Anything's fused neck features plus a small conv stem on the image.

    The ViT sees 14-pixel patches, too coarse alone for sub-patch correspondence (RAFT-Stereo
    has its own CNN feature encoder for that reason); the stem gives the fine detail, the
    foundation features the semantics. Bx64xhxw at the refinement grid.
    """

    def __init__(self, feat_dim: int, stride: int, stem_dim: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = 3
        for _ in range(stride.bit_length() - 1):
            layers += [nn.Conv2d(ch, stem_dim, 3, stride=2, padding=1), nn.ReLU()]
            ch = stem_dim
        self.stem = nn.Sequential(*layers)
        self.fuse = nn.Sequential(nn.Conv2d(stem_dim + feat_dim, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 1))

    def forward(self, images: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """``images``: normalised, padded to the grid times the stride; ``feats`` at the grid."""
        return self.fuse(torch.cat([self.stem(images), feats], 1))


class DAv2StereoNet(nn.Module):
    """LoRA-adapted Depth Anything V2 + mono-initialised ConvGRU refinement; full-resolution disparities."""

    arch = "dav2"

    def __init__(self, cfg: DAv2Config | None = None, depth_anything: DepthAnythingForDepthEstimation | None = None,
                 with_lora: bool = True) -> None:
        super().__init__()
        self.cfg = cfg or DAv2Config()
        c = self.cfg
        self.depth_anything = depth_anything or DepthAnythingForDepthEstimation(c.depth_anything_config())
        feat = int(self.depth_anything.config.fusion_hidden_size)
        self.fnet = MatchFeatures(feat, c.stride)
        self.cnet = nn.Conv2d(feat, 2 * c.hidden_dim, 3, padding=1)
        self.update = UpdateBlock(c.hidden_dim, c.corr_levels, c.corr_radius, c.stride)
        self.pixel_mean: torch.Tensor
        self.pixel_std: torch.Tensor
        self.register_buffer("pixel_mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.lora_layers = (add_lora(self.depth_anything, LORA_TARGETS, c.lora_rank, c.lora_alpha, c.gate_init,
                                     within="backbone") if with_lora else [])

    @classmethod
    def from_released(cls, path: str | Path, cfg: DAv2Config | None = None) -> DAv2StereoNet:
        """Encoder weights from a local Depth Anything V2 folder (transformers format), no download."""
        da = DepthAnythingForDepthEstimation.from_pretrained(str(path), local_files_only=True)
        assert isinstance(da, DepthAnythingForDepthEstimation)
        base = cfg or DAv2Config()
        custom = dataclasses.replace(base, encoder="custom", encoder_json=json.dumps(da.config.to_dict()))
        return cls(custom, da)

    @property
    def max_disp(self) -> float:
        """Largest disparity [full-resolution px] searched."""
        return float(self.cfg.max_disp)

    @staticmethod
    def is_adapter_param(name: str) -> bool:
        """What adaptation trains and saves: LoRA A/B, the rank gates and the stereo refinement."""
        return "lora_" in name or name.startswith(("fnet.", "cnet.", "update."))

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Depth Anything on Bx3xHxW in [0, 1]: (fused neck features, relative inverse depth Bx1xH'xW').

        The network sees the image resized to multiples of 14 (480x640 -> 462x630, as in the paper).
        """
        h, w = images.shape[-2:]
        nh, nw = max(_PATCH, h // _PATCH * _PATCH), max(_PATCH, w // _PATCH * _PATCH)
        x = (images - self.pixel_mean) / self.pixel_std
        if (nh, nw) != (h, w):
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        da = self.depth_anything
        feats = da.backbone.forward_with_filtered_kwargs(x).feature_maps
        ph, pw = nh // _PATCH, nw // _PATCH
        neck = da.neck(list(feats), ph, pw)
        rel = da.head(neck, ph, pw)[:, None]
        return neck[-1], rel

    def forward(self, left: torch.Tensor, right: torch.Tensor,
                iters: int | None = None) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """``left``/``right``: Bx3xHxW in [0, 1]. Returns 'disparity', 'sequence', 'mono' (Bx1xHxW px)."""
        c = self.cfg
        s = c.stride
        h, w = left.shape[-2:]
        gh, gw = -(-h // s), -(-w // s)
        pair = torch.cat([left, right], 0)
        feats, rel = self.encode(pair)
        feats = F.interpolate(feats, size=(gh, gw), mode="bilinear", align_corners=False)
        fl = feats[: left.shape[0]]
        mono_rel = F.interpolate(rel.chunk(2, 0)[0], size=(gh, gw), mode="bilinear", align_corners=False)
        hidden, ctx = self.cnet(fl).chunk(2, 1)
        hidden, ctx = torch.tanh(hidden), torch.relu(ctx)
        padded = F.pad((pair - self.pixel_mean) / self.pixel_std, (0, gw * s - w, 0, gh * s - h), mode="replicate")
        gl, gr = self.fnet(padded, feats).chunk(2, 0)
        pyramid = correlation_pyramid(gl, gr, c.corr_levels)
        max_coarse = c.max_disp / s
        with torch.no_grad():
            wta, conf = winner_take_all(gl, gr, int(max_coarse))
            scale, shift = fit_scale_shift(mono_rel, wta, conf)
        mono = (scale * mono_rel + shift).clamp(0.0, max_coarse)
        sequence = refine(self.update, pyramid, mono, hidden, ctx, iters or c.iters, c.corr_radius, s, (h, w),
                          self.training)
        mono_up = F.interpolate(mono * s, scale_factor=s, mode="bilinear", align_corners=False)[..., :h, :w]
        return {"disparity": sequence[-1], "sequence": sequence, "mono": mono_up}
