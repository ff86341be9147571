"""Weights files (safetensors, architecture in the metadata) and the learned ``DepthBackend``.

Two architectures share the files and the backend: ``compact`` (:mod:`stereo_adapter.model`, small,
trained from scratch) and ``dav2`` (:mod:`stereo_adapter.dav2`, StereoAdapter's Depth Anything V2
encoder with PEFT LoRA). A base file holds everything but the LoRA tensors; an adapters file holds
what self-supervised adaptation trains (``model.is_adapter_param``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from stereo_adapter.backends import DisparityResult, StereoCalib, check_pair, to_rgb
from stereo_adapter.dav2 import DAv2Config, DAv2StereoNet
from stereo_adapter.lora import gate_l1, is_lora_key
from stereo_adapter.model import ModelConfig, StereoAdapterNet


class WeightsError(ValueError):
    """A weights or adapter file is missing, unreadable or does not fit the model."""


#: The learned architectures, by the name stored in a weights file's metadata.
ARCHS = ("compact", "dav2")
StereoNet = StereoAdapterNet | DAv2StereoNet
NetConfig = ModelConfig | DAv2Config


def build_model(cfg: NetConfig) -> StereoNet:
    """A freshly initialised network of the architecture ``cfg`` describes."""
    if isinstance(cfg, DAv2Config):
        return DAv2StereoNet(cfg)
    return StereoAdapterNet(cfg)


def base_state_dict(model: StereoNet) -> dict[str, torch.Tensor]:
    """Everything but the LoRA tensors (what a base file holds)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not is_lora_key(k)}


def gate_penalty(model: StereoNet) -> torch.Tensor:
    """Mean open-ness σ(g) of all rank gates (an L1 sparsity penalty on the adapters' rank)."""
    return gate_l1(model)


def adapter_state_dict(model: StereoNet) -> dict[str, torch.Tensor]:
    """The tensors self-supervised adaptation trains (what an adapters file holds)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if model.is_adapter_param(k)}


def train_only_adapters(model: StereoNet) -> list[nn.Parameter]:
    """Freeze everything but the adapters (and, for 'dav2', the refinement); return the trainable parameters."""
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(model.is_adapter_param(name))
        if p.requires_grad:
            params.append(p)
    return params


def _metadata(model: StereoNet, kind: str) -> dict[str, str]:
    return {"kind": kind, "arch": model.arch, "config": model.cfg.to_json()}


def save_base(model: StereoNet, path: str | Path) -> Path:
    """Write the base (non-LoRA) weights with the architecture as metadata."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().cpu() for k, v in base_state_dict(model).items()}
    save_file(tensors, str(p), metadata=_metadata(model, "base"))
    return p


def save_adapters(model: StereoNet, path: str | Path) -> Path:
    """Write only what adaptation trains (LoRA A, B, rank gates; for 'dav2' also the refinement)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().cpu() for k, v in adapter_state_dict(model).items()}
    save_file(tensors, str(p), metadata=_metadata(model, "adapters"))
    return p


def _read(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], NetConfig]:
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{kind} file not found: {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise WeightsError(f"cannot read {kind} file {p}: {exc}") from exc
    if meta.get("kind") != kind:
        raise WeightsError(f"{p} holds '{meta.get('kind')}' weights, expected '{kind}'")
    # Files from before the 'dav2' architecture carry no 'arch' entry: they are compact, with the
    # hand-written LoRA's key names.
    arch = meta.get("arch", "compact")
    if "arch" not in meta:
        tensors = _legacy_compact_keys(tensors)
    if arch not in ARCHS:
        raise WeightsError(f"{p} is for architecture '{arch}'; this version knows {list(ARCHS)}")
    try:
        cfg: NetConfig = (DAv2Config if arch == "dav2" else ModelConfig).from_json(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{p} has no valid model config in its metadata: {exc}") from exc
    return tensors, cfg


def _legacy_compact_keys(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the pre-PEFT compact network's keys (``X.base.*``, ``X.lora_a/b/gate``) to PEFT's."""
    out = {}
    for k, v in tensors.items():
        k = re.sub(r"\.(qkv|proj|fc1|fc2)\.base\.", r".\1.base_layer.", k)
        k = re.sub(r"\.lora_a$", ".lora_A.default.weight", k)
        k = re.sub(r"\.lora_b$", ".lora_B.default.weight", k)
        k = re.sub(r"\.lora_gate$", ".lora_A.default.rank_gate", k)
        out[k] = v
    return out


def load_adapters(model: StereoNet, path: str | Path) -> None:
    """Load adapter tensors into ``model``; every adapter must be present with the right shape."""
    tensors, cfg = _read(path, "adapters")
    if cfg != model.cfg:
        raise WeightsError(f"adapters in {path} were trained for a different architecture")
    expected = adapter_state_dict(model)
    if set(tensors) != set(expected):
        missing = sorted(set(expected) - set(tensors))[:3]
        raise WeightsError(f"adapters in {path} do not match the model (missing e.g. {missing})")
    bad = [k for k, v in tensors.items() if v.shape != expected[k].shape]
    if bad:
        raise WeightsError(f"adapters in {path} have wrong shapes (e.g. {bad[0]})")
    model.load_state_dict(tensors, strict=False)


def load_model(weights: str | Path, adapters: str | Path | None = None,
               device: str = "cpu") -> StereoNet:
    """Build the network described by ``weights``, load it (and optional adapters), eval mode."""
    tensors, cfg = _read(weights, "base")
    model = build_model(cfg)
    expected = base_state_dict(model)
    if set(tensors) != set(expected) or any(v.shape != expected[k].shape for k, v in tensors.items()):
        raise WeightsError(f"{weights} does not match the architecture in its own metadata")
    model.load_state_dict(tensors, strict=False)
    if adapters is not None:
        load_adapters(model, adapters)
    return model.to(resolve_device(device)).eval()


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when available; asking for CUDA without it is an error, not a fallback."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WeightsError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


class LearnedBackend:
    """A learned stereo network (either architecture) behind the ``DepthBackend`` protocol."""

    name = "learned"

    def __init__(self, model: StereoNet, iters: int | None = None) -> None:
        self.model = model.eval()
        self.iters = iters
        self.device = next(model.parameters()).device

    @classmethod
    def from_files(cls, weights: str | Path, adapters: str | Path | None = None, device: str = "cpu",
                   iters: int | None = None) -> LearnedBackend:
        """Load base weights (and adapters) from safetensors files."""
        return cls(load_model(weights, adapters, device), iters)

    @torch.inference_mode()
    def compute(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calib: StereoCalib) -> DisparityResult:
        """Run the network on one pair; disparities outside (0, max_disp] are marked invalid."""
        t0 = time.perf_counter()
        lft, rgt = check_pair(left, right, calib)
        pair = [torch.from_numpy(np.ascontiguousarray(to_rgb(im))).permute(2, 0, 1)[None] for im in (lft, rgt)]
        lt, rt = (t.to(self.device, dtype=torch.float32) / 255.0 for t in pair)
        out = self.model(lt, rt, iters=self.iters)
        disp_t = out["disparity"]
        assert isinstance(disp_t, torch.Tensor)
        disp = disp_t[0, 0].float().cpu().numpy()
        max_disp = self.model.max_disp * 1.5
        valid = (disp > 0.25) & (disp <= max_disp) & np.isfinite(disp)
        disp = np.where(valid, disp, 0.0).astype(np.float32)
        return DisparityResult(disp, valid, 0.25, max_disp, {"infer_ms": (time.perf_counter() - t0) * 1e3})
