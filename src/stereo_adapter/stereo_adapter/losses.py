"""Self-supervised stereo losses: photometric (SSIM + L1) with occlusion masking, edge-aware
smoothness and consistency with the monocular prior; plus the supervised sequence loss used for
pre-training. All images are Bx3xHxW in [0, 1], disparities Bx1xHxW in pixels (left view).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812


def ssim_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1 - SSIM) / 2 per pixel over 3x3 windows (Monodepth2's form), Bx3xHxW."""
    c1, c2 = 0.01**2, 0.03**2
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x**2
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y**2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2)
    return torch.clamp((1 - num / den) / 2, 0, 1)


def photometric_error(a: torch.Tensor, b: torch.Tensor, alpha: float = 0.85) -> torch.Tensor:
    """alpha·(1-SSIM)/2 + (1-alpha)·L1, averaged over channels: Bx1xHxW."""
    return (alpha * ssim_distance(a, b) + (1 - alpha) * (a - b).abs()).mean(1, keepdim=True)


def warp_right_to_left(right: torch.Tensor, disp: torch.Tensor) -> torch.Tensor:
    """Sample the right image at x - d for every left pixel (bilinear, border padding)."""
    b, _, h, w = disp.shape
    xs = torch.arange(w, device=disp.device, dtype=disp.dtype).view(1, 1, w).expand(b, h, w)
    ys = torch.arange(h, device=disp.device, dtype=disp.dtype).view(1, h, 1).expand(b, h, w)
    gx = 2 * (xs - disp[:, 0]) / max(w - 1, 1) - 1
    gy = 2 * ys / max(h - 1, 1) - 1
    return F.grid_sample(right, torch.stack([gx, gy], -1), align_corners=True, padding_mode="border")


def visibility_mask(disp: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """1 where a left pixel is seen by the right camera under ``disp``, 0 where occluded/outside.

    Left pixel x lands at u(x) = x - d(x) in the right view. It is hidden when a pixel further
    right lands at or left of it (a nearer surface covers it): u(x) > min_{x' > x} u(x'). The
    reverse cumulative minimum makes this exact per scanline, without a second network pass.
    """
    d = disp.detach()[:, 0]
    w = d.shape[-1]
    u = torch.arange(w, device=d.device, dtype=d.dtype).view(1, 1, w) - d
    rev_min = torch.flip(torch.cummin(torch.flip(u, [-1]), dim=-1).values, [-1])
    # The minimum over strictly-right pixels: shift by one, the last column has none.
    right_min = torch.cat([rev_min[..., 1:], torch.full_like(rev_min[..., :1], float("inf"))], -1)
    visible = (u <= right_min + margin) & (u >= 0)
    return visible.unsqueeze(1).to(disp.dtype)


def edge_aware_smoothness(disp: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """First-order smoothness of mean-normalised disparity, relaxed at image edges."""
    d = disp / (disp.mean(dim=(2, 3), keepdim=True) + 1e-6)
    dx = (d[..., :, 1:] - d[..., :, :-1]).abs()
    dy = (d[..., 1:, :] - d[..., :-1, :]).abs()
    ix = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    iy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    return (dx * torch.exp(-10 * ix)).mean() + (dy * torch.exp(-10 * iy)).mean()


def mono_consistency(disp: torch.Tensor, mono: torch.Tensor) -> torch.Tensor:
    """Scale-invariant L1 between stereo disparity and the (detached) monocular prior.

    The prior is only trusted up to scale, so it is first aligned by the median ratio.
    """
    mono = mono.detach().clamp_min(1e-3)
    scale = (disp.detach() / mono).flatten(1).median(dim=1).values.view(-1, 1, 1, 1)
    return ((disp - scale * mono).abs() / (disp.detach().mean(dim=(2, 3), keepdim=True) + 1e-6)).mean()


@dataclass(frozen=True)
class SelfSupWeights:
    """Weights of the self-supervised terms."""

    photometric: float = 1.0
    smoothness: float = 0.02
    mono: float = 0.005
    gate_l1: float = 1e-3


def self_supervised_loss(
    left: torch.Tensor, right: torch.Tensor, disp: torch.Tensor, mono: torch.Tensor,
    weights: SelfSupWeights | None = None,
) -> dict[str, torch.Tensor]:
    """The adaptation objective for one disparity estimate; returns each term and 'total'.

    Occlusion handling: pixels the right camera cannot see under the current disparity
    (:func:`visibility_mask`) are left out. (Monodepth2's auto-mask is not used: with a stereo
    baseline it wrongly drops far, small-disparity pixels whose unwarped match is already good.)
    """
    w = weights or SelfSupWeights()
    warped = warp_right_to_left(right, disp)
    err = photometric_error(warped, left)
    mask = visibility_mask(disp)
    photo = (err * mask).sum() / mask.sum().clamp_min(1.0)
    smooth = edge_aware_smoothness(disp, left)
    mono_term = mono_consistency(disp, mono)
    total = w.photometric * photo + w.smoothness * smooth + w.mono * mono_term
    return {"total": total, "photometric": photo, "smoothness": smooth, "mono": mono_term,
            "mask_fraction": mask.mean()}


def sequence_loss(sequence: list[torch.Tensor], mono: torch.Tensor, disp_gt: torch.Tensor,
                  valid: torch.Tensor, gamma: float = 0.8, mono_weight: float = 0.5) -> torch.Tensor:
    """Supervised L1 over the refinement iterations (later ones weigh more) plus the mono head."""
    n = len(sequence)
    valid_f = valid.to(disp_gt.dtype)
    denom = valid_f.sum().clamp_min(1.0)
    loss = mono_weight * ((mono - disp_gt).abs() * valid_f).sum() / denom
    for i, pred in enumerate(sequence):
        loss = loss + gamma ** (n - 1 - i) * ((pred - disp_gt).abs() * valid_f).sum() / denom
    return loss
