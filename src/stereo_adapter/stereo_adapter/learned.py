"""Weights files (safetensors, architecture in the metadata) and the learned ``DepthBackend``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors import safe_open
from safetensors.torch import save_file

from stereo_adapter.backends import DisparityResult, StereoCalib, check_pair, to_rgb
from stereo_adapter.lora import base_state_dict, is_lora_name, lora_state_dict
from stereo_adapter.model import ModelConfig, StereoAdapterNet


class WeightsError(ValueError):
    """A weights or adapter file is missing, unreadable or does not fit the model."""


def save_base(model: StereoAdapterNet, path: str | Path) -> Path:
    """Write the base (non-adapter) weights with the architecture as metadata."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().cpu() for k, v in base_state_dict(model).items()}
    save_file(tensors, str(p), metadata={"kind": "base", "config": model.cfg.to_json()})
    return p


def save_adapters(model: StereoAdapterNet, path: str | Path) -> Path:
    """Write only the LoRA adapter tensors (A, B and rank gates)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().cpu() for k, v in lora_state_dict(model).items()}
    save_file(tensors, str(p), metadata={"kind": "adapters", "config": model.cfg.to_json()})
    return p


def _read(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], ModelConfig]:
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
    try:
        cfg = ModelConfig.from_json(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{p} has no valid model config in its metadata: {exc}") from exc
    return tensors, cfg


def load_adapters(model: StereoAdapterNet, path: str | Path) -> None:
    """Load adapter tensors into ``model``; every adapter must be present with the right shape."""
    tensors, cfg = _read(path, "adapters")
    if cfg != model.cfg:
        raise WeightsError(f"adapters in {path} were trained for a different architecture")
    expected = lora_state_dict(model)
    if set(tensors) != set(expected):
        missing = sorted(set(expected) - set(tensors))[:3]
        raise WeightsError(f"adapters in {path} do not match the model (missing e.g. {missing})")
    model.load_state_dict(tensors, strict=False)


def load_model(weights: str | Path, adapters: str | Path | None = None,
               device: str = "cpu") -> StereoAdapterNet:
    """Build the network described by ``weights``, load it (and optional adapters), eval mode."""
    tensors, cfg = _read(weights, "base")
    model = StereoAdapterNet(cfg)
    expected = {k for k in model.state_dict() if not is_lora_name(k)}
    if set(tensors) != expected:
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
    """The LoRA-adapted StereoAdapter-style network behind the ``DepthBackend`` protocol."""

    name = "learned"

    def __init__(self, model: StereoAdapterNet, iters: int | None = None) -> None:
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
        max_disp = float(self.model.cfg.max_disp) * 1.5
        valid = (disp > 0.25) & (disp <= max_disp) & np.isfinite(disp)
        disp = np.where(valid, disp, 0.0).astype(np.float32)
        return DisparityResult(disp, valid, 0.25, max_disp, {"infer_ms": (time.perf_counter() - t0) * 1e3})
