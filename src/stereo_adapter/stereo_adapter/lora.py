"""LoRA with learned rank gates (StereoAdapter's adapter form), through PEFT, for both networks.

PEFT injects the adapters (``inject_adapter_in_model``); each adapter's ``lora_A`` is then
followed by a learned gate per rank component, so a wrapped layer computes
``y = W x + (α / r) · B · diag(σ(g)) · A x``. B starts at zero, so an injected model computes
exactly what the base model did; the gate logits ``g`` let training switch ranks off (an L1
penalty on σ(g) encourages it).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F  # noqa: N812
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from torch import nn


class GatedLoraA(nn.Linear):
    """PEFT's ``lora_A`` projection followed by a learned gate per rank component: σ(g) ⊙ A x.

    Only the forward pass knows the gates: PEFT's ``merge_adapter`` would ignore them, so the
    adapters are kept unmerged (as the benchmarks time them).
    """

    def __init__(self, base: nn.Linear, gate_init: float) -> None:
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None,
                         device=base.weight.device, dtype=base.weight.dtype)
        with torch.no_grad():
            self.weight.copy_(base.weight)
            if base.bias is not None and self.bias is not None:
                self.bias.copy_(base.bias)
        self.rank_gate = nn.Parameter(torch.full((base.out_features,), float(gate_init), device=base.weight.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-rank projection, each rank scaled by its gate."""
        return F.linear(x, self.weight, self.bias) * torch.sigmoid(self.rank_gate).to(x.dtype)

    def active_ranks(self, threshold: float = 0.5) -> int:
        """How many rank gates are open above ``threshold``."""
        return int((torch.sigmoid(self.rank_gate) > threshold).sum())


def add_lora(model: nn.Module, targets: Iterable[str], rank: int, alpha: float, gate_init: float = 0.0,
             within: str = "") -> list[str]:
    """PEFT LoRA on every ``nn.Linear`` named in ``targets`` (under module path ``within``), gates on top.

    Returns the wrapped modules' names.
    """
    if rank < 1:
        raise ValueError(f"LoRA rank must be at least 1, got {rank}")
    names = sorted(set(targets))
    prefix = rf"(.*\.)?{within}\.(.*\.)?" if within else r"(.*\.)?"
    pattern = prefix + r"(" + "|".join(names) + r")$"
    # PEFT types lora_alpha as int; a float keeps α/r exact for configs stored as floats.
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none",  # type: ignore[arg-type]
                     target_modules=pattern)
    try:
        inject_adapter_in_model(cfg, model)
    except ValueError as exc:  # PEFT: "Target modules ... not found in the base model"
        raise ValueError(f"no nn.Linear layers named {names} to adapt: {exc}") from exc
    wrapped = []
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            for key in list(module.lora_A.keys()):
                lora_a = module.lora_A[key]
                assert isinstance(lora_a, nn.Linear)
                module.lora_A[key] = GatedLoraA(lora_a, gate_init)
            wrapped.append(name)
    return wrapped


def is_lora_key(name: str) -> bool:
    """Whether a parameter/state-dict key is an adapter tensor (``lora_A``, ``lora_B``, rank gates)."""
    return any(part.startswith("lora_") for part in name.split("."))


def set_adapters_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every adapter on or off (off = the base model exactly)."""
    for m in model.modules():
        if isinstance(m, LoraLayer):
            m.enable_adapters(enabled)


def rank_gates(model: nn.Module) -> list[torch.Tensor]:
    """σ(g) of every gated adapter (one vector of ``rank`` entries each)."""
    return [torch.sigmoid(m.rank_gate) for m in model.modules() if isinstance(m, GatedLoraA)]


def gate_l1(model: nn.Module) -> torch.Tensor:
    """Mean open-ness of all rank gates (a sparsity penalty on the adapters' rank)."""
    gates = rank_gates(model)
    return torch.cat(gates).mean() if gates else torch.zeros(())
