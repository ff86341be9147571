"""GRPO with verifiable rewards (TRL's ``GRPOTrainer``): Nav-R1's format and navigation rewards.

The reward functions adapt :mod:`nav_r1.rewards` to TRL's calling convention (a batch of
completions plus the dataset's columns as keyword lists); the formulas live there only.
Rewards per row: R_format, R_navigation = R_path + R_end (the reply's actions executed from the
row's ``pose``, compared with the expert's plan from that pose, ``expert_path``, and the episode
goal), and optionally the exact action match with the expert's reply.  On a scene dataset
(``nav-r1 scene-data``) the rewards are 3D-R1's instead: format, perception (3D IoU on grounding
rows) and semantic similarity (:mod:`nav_r1.train.scene`).  Weights are options; Nav-R1's KL
coefficient β = 0.02 is the default.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from nav_r1.rewards import action_match_reward, format_reward, navigation_reward
from nav_r1.train.common import (
    CurveLogger,
    TrainError,
    TrainOptions,
    export_checkpoint,
    load_model,
    load_processor,
    lora_config,
    plot_curves,
    prepare_run,
    run_info,
)
from nav_r1.train.examples import training_dataset
from nav_r1.train.scene import SceneDataError, scene_reward_functions
from nav_r1.train.sft import interrupted

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class GrpoOptions:
    """GRPO-specific options."""

    num_generations: int = 4  # group size G
    max_completion_length: int = 128
    beta: float = 0.02  # KL coefficient (Nav-R1)
    temperature: float = 1.0
    format_weight: float = 1.0
    navigation_weight: float = 1.0
    action_weight: float = 0.0
    perception_weight: float = 1.0  # scene data: 3D IoU of the reply's box (grounding rows)
    semantic_weight: float = 1.0  # scene data: embedding similarity of the answer (other rows)
    embedding_model: str = ""  # scene data: sentence-transformers folder ("" = the bundled MiniLM)
    reward_k: float = 1.0  # distance scale of exp(-k d)
    use_vllm: bool = False
    vllm_mode: str = "colocate"

    def __post_init__(self) -> None:
        if self.num_generations < 2:
            raise TrainError(f"--num-generations must be >= 2 (GRPO compares a group), got {self.num_generations}")
        if self.max_completion_length < 1:
            raise TrainError("--max-completion-length must be >= 1")
        if self.beta < 0 or min(self.format_weight, self.navigation_weight, self.action_weight,
                                self.perception_weight, self.semantic_weight) < 0:
            raise TrainError("--beta and the reward weights must be >= 0")
        if self.vllm_mode not in ("colocate", "server"):
            raise TrainError(f"--vllm-mode must be colocate or server, got {self.vllm_mode!r}")


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, or a conversation whose last turn holds the reply."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):
            return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else ""
    return ""


def nav_format(completions: Sequence[Any], **_: Any) -> list[float]:
    """R_format of each completion (TRL reward function)."""
    return [format_reward(completion_text(c)) for c in completions]


def make_navigation_reward(k: float) -> Any:
    """R_navigation = R_path + R_end with distance scale ``k`` (TRL reward function)."""

    def nav_navigation(completions: Sequence[Any], pose: Sequence[Sequence[float]],
                       expert_path: Sequence[Any], goal: Sequence[Sequence[float]], **_: Any) -> list[float]:
        return [navigation_reward(completion_text(c), p, ref, g, k)
                for c, p, ref, g in zip(completions, pose, expert_path, goal, strict=True)]

    return nav_navigation


def nav_action_match(completions: Sequence[Any], target: Sequence[str], **_: Any) -> list[float]:
    """1 when the completion's actions equal the expert's (TRL reward function)."""
    return [action_match_reward(completion_text(c), t) for c, t in zip(completions, target, strict=True)]


def reward_functions(g: GrpoOptions, task: str = "navigation") -> tuple[list[Any], list[float]]:
    """The reward functions of the dataset's task with non-zero weight, and their weights."""
    if task == "scene":
        try:
            funcs, weights = scene_reward_functions(g.format_weight, g.perception_weight, g.semantic_weight,
                                                    g.embedding_model)
        except SceneDataError as exc:
            raise TrainError(str(exc)) from None
    else:
        nav = [(nav_format, g.format_weight), (make_navigation_reward(g.reward_k), g.navigation_weight),
               (nav_action_match, g.action_weight)]
        funcs, weights = [f for f, w in nav if w > 0], [w for _, w in nav if w > 0]
    if not funcs:
        raise TrainError(f"every {task} reward weight is 0: nothing to optimise")
    return funcs, weights


def run_grpo(opts: TrainOptions, g: GrpoOptions, callbacks: Sequence[TrainerCallback] = ()) -> Path:
    """GRPO from ``opts.model`` (usually an SFT checkpoint), then export to ``opts.out``."""
    from trl import GRPOConfig, GRPOTrainer

    resume = prepare_run(opts)
    processor = load_processor(opts.model)
    dataset, n_rows, task = training_dataset(opts, with_completion=False)
    funcs, weights = reward_functions(g, task)
    # TRL needs the generation batch (batch x accumulation) to be a multiple of the group size.
    batch = max(opts.batch_size, g.num_generations)
    batch -= batch % g.num_generations
    args = GRPOConfig(
        output_dir=str(opts.run_dir), max_steps=opts.max_steps, num_train_epochs=opts.epochs,
        per_device_train_batch_size=batch, gradient_accumulation_steps=opts.grad_accum,
        learning_rate=opts.learning_rate, logging_steps=opts.logging_steps, save_steps=opts.save_steps,
        save_total_limit=2, use_cpu=opts.device == "cpu", bf16=opts.bf16, report_to="none", seed=opts.seed,
        num_generations=g.num_generations, max_completion_length=g.max_completion_length, beta=g.beta,
        temperature=g.temperature, reward_weights=weights, use_vllm=g.use_vllm, vllm_mode=g.vllm_mode,
        deepspeed=opts.deepspeed, dataloader_num_workers=0, log_completions=False,
    )
    model = load_model(opts.model, opts)
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=dataset,
                          processing_class=processor, peft_config=lora_config(model, opts),
                          callbacks=[CurveLogger(opts.run_dir, ("loss", "reward", "rewards/", "kl")), *callbacks])
    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    except KeyboardInterrupt:
        plot_curves(opts.run_dir / "log.jsonl", opts.run_dir / "curves.png", ("loss", "reward", "rewards/", "kl"))
        raise interrupted(opts) from None
    if not trainer.is_world_process_zero():
        return opts.out
    info = run_info("grpo", opts, {"grpo": g.__dict__, "task": task, "rows": n_rows, "steps": trainer.state.global_step,
                                   "reward_functions": [getattr(f, "__name__", str(f)) for f in funcs],
                                   "resumed_from": str(resume) if resume else None})
    return export_checkpoint(trainer.model, processor, opts.model, opts.out, info, force=opts.force)
