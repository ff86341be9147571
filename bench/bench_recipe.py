"""The R1 recipe end to end on CPU: data -> SFT -> GRPO -> closed-loop evaluation, against controls.

1. ``nav-r1 data``'s engine records the sim expert on seeded procedural scenes (small images).
2. A tiny Qwen2.5-VL-architecture model is built from a config (random weights; its byte-level BPE
   tokenizer is trained on the data's text so replies are tens of tokens).
3. (b) SFT on the expert's replies (brief chain-of-thought: the decision sentence); (c) GRPO from
   (b) with nav_r1.rewards; (d) the blind control:
   the same SFT + GRPO on blanked images, evaluated blind.  (a) is the untrained model.
4. Each model drives held-out seeded episodes (other scenes) in closed loop through the reasoning
   node's core (:func:`nav_r1.sim_loop.drive_episode`): SR, SPL, share of well-formed replies and the
   mean per-reply reward R_format + R_path + R_end (the reference: the privileged expert's plan from
   the same pose, k = 1).  The expert's own figures are printed as the upper bound (true map).

Run: ``python bench/bench_recipe.py [--out runs/bench_recipe] [--quick]`` (2 CPU cores shared with other jobs: 8-13 min;
``--quick`` is a smoke run of a minute or two).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nav_r1.data.engine import DataConfig, build_dataset, procedural_episodes
from nav_r1.data.rows import load_split
from nav_r1.prompt import SYSTEM_PROMPT, NavPrompt
from nav_r1.rewards import executed_poses, format_reward, navigation_reward
from nav_r1.sim_loop import LoopConfig, Step, drive_episode
from nav_r1.train.common import TrainOptions
from nav_r1.train.grpo import GrpoOptions, run_grpo
from nav_r1.train.sft import run_sft
from r1_core.backends import make_backend
from r1_core.nav import metrics
from r1_core.nav.parse import parse_response
from r1_core.reasoner import PromptedReasoner, Reasoner
from r1_core.testing.tiny_qwen import build_tiny_qwen
from r1_sim.expert import ExpertReasoner
from r1_sim.navmap import NavMap
from r1_sim.robots import robot_profile
from r1_sim.world import SimConfig, Simulator


@dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run."""

    train_episodes: int
    eval_episodes: int
    image: int
    sft_steps: int
    grpo_steps: int
    group: int
    gen_tokens: int
    hidden: int
    layers: int
    max_replies: int


FULL = Plan(train_episodes=16, eval_episodes=20, image=56, sft_steps=240, grpo_steps=20, group=4, gen_tokens=36,
            hidden=64, layers=2, max_replies=24)
QUICK = Plan(train_episodes=3, eval_episodes=2, image=56, sft_steps=4, grpo_steps=1, group=2, gen_tokens=16,
             hidden=64, layers=2, max_replies=4)


def corpus(root: Path) -> list[str]:
    """The data's texts (prompt wording, instructions, targets) for the tokenizer."""
    rows = load_split(root, "train", check_images=False)
    prompt = NavPrompt()
    texts = [SYSTEM_PROMPT, *prompt.action_space]
    texts += [f"Instruction: {r.instruction}" for r in rows[::5]]
    texts += [r.target for r in rows]
    texts += ["Images 1-5 are your previous views, oldest first: Image 6 is your current view: "
              "Feasible actions: Think about where you are, what you have done and where the instruction leads, "
              "then choose the single next action from the feasible actions. Output your reasoning inside "
              "<think></think> and the action inside <action></action>, for example"] * 20
    return texts


def evaluate(name: str, reasoner: Reasoner, episodes: list[Any], plan: Plan, *, blank: bool = False) -> dict[str, Any]:
    """SR, SPL, well-formed share and mean reward of ``reasoner`` over ``episodes``."""
    cfg = SimConfig(width=plan.image, height=plan.image)
    loop = LoopConfig(max_replies=plan.max_replies, blank_images=blank, max_time_s=120.0)
    sr, spl, formats, rewards = [], [], [], []
    t0 = time.perf_counter()
    for scene, eps in episodes:
        navmap = NavMap(scene, robot_profile(eps[0].robot).radius)
        sim = Simulator(eps[0].robot, scene, cfg)
        try:
            for ep in eps:
                oracle = ExpertReasoner(scene, navmap, ep, actions_per_reply=1)

                def score(step: Step, ep: Any = ep, oracle: ExpertReasoner = oracle) -> None:
                    text = step.response.text
                    formats.append(format_reward(text))
                    ref = oracle.infer(step.observation)
                    plan_xy = executed_poses(step.pose, parse_response(ref.text).actions)
                    rewards.append(formats[-1] + navigation_reward(text, step.pose, plan_xy, ep.goal_xy))

                res = drive_episode(sim, ep, reasoner, loop, score)
                ok = metrics.success(res.path, ep.goal_xy, res.stopped, threshold=ep.success_radius)
                sr.append(float(ok))
                spl.append(metrics.spl(ok, ep.shortest_length, metrics.path_length(res.path)))
        finally:
            sim.close()
    out = {"model": name, "episodes": len(sr), "SR": statistics.mean(sr), "SPL": statistics.mean(spl),
           "well_formed": statistics.mean(formats) if formats else 0.0,
           "mean_reward": statistics.mean(rewards) if rewards else 0.0, "replies": len(formats),
           "seconds": round(time.perf_counter() - t0, 1)}
    print(f"  {name:<22} SR {out['SR']:.2f}  SPL {out['SPL']:.2f}  well-formed {out['well_formed']:.2f}  "
          f"mean reward {out['mean_reward']:.3f}  ({out['replies']} replies, {out['seconds']} s)", flush=True)
    return out


class _Expert:
    """The privileged expert for whichever episode is running (upper bound; plans on the true map)."""

    name = "sim-expert"

    def __init__(self, experts: dict[str, ExpertReasoner]) -> None:
        self._experts = experts
        self._by_instruction = {e.episode.instruction: e for e in experts.values()}

    def infer(self, observation: Any) -> Any:
        return self._by_instruction[observation.instruction].infer(observation)

    def reset(self) -> None:
        """Nothing to forget."""


def model_reasoner(ckpt: Path, plan: Plan) -> Reasoner:
    """The reasoning node's reasoner for a checkpoint (``transformers:CKPT``), generation capped."""
    backend = make_backend(f"transformers:{ckpt}", device="cpu", max_new_tokens=plan.gen_tokens,
                           local_files_only=True)
    return PromptedReasoner(backend, NavPrompt(max_history=5))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench_recipe"))
    parser.add_argument("--quick", action="store_true", help="Tiny sizes: a smoke run")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--sft-steps", type=int, default=None, help="Override the plan's SFT steps")
    parser.add_argument("--grpo-steps", type=int, default=None, help="Override the plan's GRPO steps")
    parser.add_argument("--grpo-lr", type=float, default=5e-5, help="GRPO learning rate")
    ns = parser.parse_args()
    plan = QUICK if ns.quick else FULL
    if ns.sft_steps or ns.grpo_steps:
        plan = replace(plan, sft_steps=ns.sft_steps or plan.sft_steps, grpo_steps=ns.grpo_steps or plan.grpo_steps)
    import torch

    torch.set_num_threads(ns.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    shutil.rmtree(ns.out, ignore_errors=True)
    ns.out.mkdir(parents=True)
    t_all = time.perf_counter()
    times: dict[str, float] = {}

    t = time.perf_counter()
    data = ns.out / "data"
    dcfg = DataConfig(episodes=plan.train_episodes, episodes_per_scene=4, rooms=2, width=plan.image,
                      height=plan.image, min_length_m=1.5, max_length_m=4.0, val_fraction=0.0, test_fraction=0.0,
                      seed=0, cot="brief")
    counts = build_dataset(data, dcfg, progress=False, command="bench_recipe.py")
    held_out = procedural_episodes(DataConfig(episodes=plan.eval_episodes, episodes_per_scene=2, rooms=2,
                                              min_length_m=1.5, max_length_m=2.5, seed=1000))
    times["data"] = time.perf_counter() - t
    print(f"data: {counts['train']} train rows from {plan.train_episodes} episodes; {plan.eval_episodes} held-out "
          f"episodes in {len(held_out)} other scenes ({times['data']:.0f} s)", flush=True)

    t = time.perf_counter()
    base = build_tiny_qwen(ns.out / "untrained", corpus=corpus(data), vocab_size=1200, hidden_size=plan.hidden,
                           num_layers=plan.layers, max_pixels=plan.image * plan.image, seed=0)
    times["model"] = time.perf_counter() - t

    def opts(name: str, model: Path, steps: int, lr: float, blank: bool) -> TrainOptions:
        return TrainOptions(data=data, model=model, out=ns.out / name, run_dir=ns.out / f"{name}.run",
                            max_steps=steps, batch_size=8, learning_rate=lr, save_steps=max(steps, 1),
                            blank_images=blank, logging_steps=5)

    grpo = GrpoOptions(num_generations=plan.group, max_completion_length=plan.gen_tokens, action_weight=1.0,
                       temperature=1.0)
    results: list[dict[str, Any]] = []

    def save() -> None:
        report = {"plan": plan.__dict__, "results": results, "seconds": {k: round(v, 1) for k, v in times.items()},
                  "threads": ns.threads}
        (ns.out / "report.json").write_text(json.dumps(report, indent=2))

    print(f"closed loop on {plan.eval_episodes} held-out episodes (max {plan.max_replies} replies each):", flush=True)
    t = time.perf_counter()
    experts = {ep.episode_id: ExpertReasoner(scene, NavMap(scene, robot_profile(ep.robot).radius), ep,
                                             actions_per_reply=1) for scene, eps in held_out for ep in eps}
    results.append(evaluate("expert (privileged)", _Expert(experts), held_out, plan))
    ckpts: dict[str, Path] = {}
    # Trained models first, so an interrupted run still reports them; the untrained baseline last.
    for tag, blank in (("", False), ("blind_", True)):
        t = time.perf_counter()
        ckpts[tag + "sft"] = run_sft(opts(tag + "sft", base, plan.sft_steps, 2e-3, blank))
        times[tag + "sft"] = time.perf_counter() - t
        if not blank:
            results.append(evaluate("(b) SFT", model_reasoner(ckpts["sft"], plan), held_out, plan))
            save()
        t = time.perf_counter()
        ckpts[tag + "grpo"] = run_grpo(opts(tag + "grpo", ckpts[tag + "sft"], plan.grpo_steps, ns.grpo_lr, blank), grpo)
        times[tag + "grpo"] = time.perf_counter() - t
        print(f"trained {tag or 'visual '}SFT {times[tag + 'sft']:.0f} s, GRPO {times[tag + 'grpo']:.0f} s",
              flush=True)
        name = "(d) blind SFT+GRPO" if blank else "(c) SFT+GRPO"
        results.append(evaluate(name, model_reasoner(ckpts[tag + "grpo"], plan), held_out, plan, blank=blank))
        save()
    t = time.perf_counter()
    results.append(evaluate("(a) untrained", model_reasoner(base, plan), held_out, plan))
    times["eval_untrained"] = time.perf_counter() - t
    total = time.perf_counter() - t_all
    times["total"] = total
    save()
    print(f"total {total / 60:.1f} min; report in {ns.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
