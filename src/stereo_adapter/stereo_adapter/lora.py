"""LoRA adapters with learned rank gates (StereoAdapter's adapter form) for ``nn.Linear`` layers.

``y = W x + (α / r) · B · diag(σ(g)) · A x``: B starts at zero so an injected model computes
exactly what the base model did; the gate logits ``g`` let training switch individual ranks off
(an L1 penalty on σ(g) encourages it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

LORA_MARK = "lora_"


class LoRALinear(nn.Module):
    """A frozen-able ``nn.Linear`` plus a gated low-rank update."""

    def __init__(self, base: nn.Linear, rank: int = 16, alpha: float = 16.0) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be at least 1, got {rank}")
        self.base = base
        self.rank = rank
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.lora_gate = nn.Parameter(torch.zeros(rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Base projection plus the gated low-rank update (when enabled)."""
        y = self.base(x)
        if not self.enabled:
            return y
        low = nn.functional.linear(x, self.lora_a) * torch.sigmoid(self.lora_gate)
        return y + nn.functional.linear(low, self.lora_b) * self.scale

    def active_ranks(self, threshold: float = 0.5) -> int:
        """How many rank gates are open above ``threshold``."""
        return int((torch.sigmoid(self.lora_gate) > threshold).sum())


def inject_lora(
    model: nn.Module, targets: Iterable[str] = ("qkv", "proj", "fc1", "fc2"), rank: int = 16, alpha: float = 16.0
) -> list[str]:
    """Wrap every ``nn.Linear`` whose attribute name is in ``targets``; return the wrapped names."""
    wanted = set(targets)
    wrapped: list[str] = []
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            if child_name in wanted and isinstance(child, nn.Linear):
                setattr(parent, child_name, LoRALinear(child, rank, alpha))
                wrapped.append(f"{parent_name}.{child_name}" if parent_name else child_name)
    if not wrapped:
        raise ValueError(f"no nn.Linear layers named {sorted(wanted)} to adapt")
    return wrapped


def is_lora_name(name: str) -> bool:
    """Whether a parameter name belongs to an adapter."""
    return LORA_MARK in name.rsplit(".", 1)[-1]


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter tensors (what adaptation saves)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if is_lora_name(k)}


def base_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Everything but the adapters (what pre-training saves)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not is_lora_name(k)}


def train_only_lora(model: nn.Module) -> list[nn.Parameter]:
    """Freeze the base model, unfreeze the adapters; return the trainable parameters."""
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(is_lora_name(name))
        if p.requires_grad:
            params.append(p)
    return params


def set_lora_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every adapter on or off (off = the base model exactly)."""
    for m in model.modules():
        if isinstance(m, LoRALinear):
            m.enabled = enabled


def gate_l1(model: nn.Module) -> torch.Tensor:
    """Mean open-ness of all rank gates (a sparsity penalty on the adapters' rank)."""
    gates = [torch.sigmoid(m.lora_gate) for m in model.modules() if isinstance(m, LoRALinear)]
    if not gates:
        return torch.zeros(())
    return torch.cat(gates).mean()
