"""What SFT and GRPO share: options, model and processor loading, LoRA, curves, checkpoints.

Checkpoints: TRL's trainers write ``checkpoint-N`` folders into the run folder (``--run-dir``,
default ``<out>.run``) every ``--save-steps``; a folder counts as complete once its
``trainer_state.json`` exists (the Trainer writes it last), and ``--resume`` continues from the
newest complete one.  The final model is merged (LoRA folded in), saved with its tokenizer and
image processor under a temporary name beside ``--out`` and renamed, so ``--out`` is either
absent or a whole checkpoint that ``--reasoner transformers:OUT`` loads.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transformers import (
    AutoImageProcessor,
    AutoTokenizer,
    PreTrainedModel,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    TrainerCallback,
)
from transformers.processing_utils import ProcessorMixin

from r1_core.backends.transformers_vlm import find_chat_template
from r1_core.paths import swap_in

LOG = logging.getLogger(__name__)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
#: Files copied from the base model when present (real Qwen2.5-VL exports keep the template there).
_EXTRA_FILES = ("chat_template.jinja", "chat_template.json", "generation_config.json")


class TrainError(RuntimeError):
    """A training input is unusable; the message is one line naming what and where."""


@dataclass(frozen=True)
class TrainOptions:
    """Options both trainers take (the CLI's flags)."""

    data: Path
    model: Path
    out: Path
    run_dir: Path
    max_steps: int = 100
    epochs: float = 1.0
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float = 1e-4
    lora_rank: int = 0  # 0: full fine-tuning
    lora_alpha: int = 0  # 0: 2 x rank
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_last_blocks: int = 0  # 0: every block; Nav-R1 adapts the last 8
    device: str = "cpu"
    bf16: bool = False
    save_steps: int = 50
    logging_steps: int = 1
    seed: int = 0
    resume: bool = False
    force: bool = False
    blank_images: bool = False  # the blind control: images replaced by zeros
    max_rows: int = 0  # 0: every training row
    deepspeed: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "grad_accum", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.lora_rank < 0 or self.lora_last_blocks < 0:
            raise TrainError("--lora-rank and --lora-last-blocks must be >= 0")
        if self.learning_rate <= 0:
            raise TrainError(f"--learning-rate must be > 0, got {self.learning_rate}")
        if self.device not in ("cpu", "cuda"):
            raise TrainError(f"--device must be cpu or cuda, got {self.device!r}")


class NavProcessor(Qwen2_5_VLProcessor):
    """Qwen2.5-VL's processor without its video half (which needs torchvision); images only.

    Built from the checkpoint's tokenizer and ``AutoImageProcessor`` -- the same two the reasoning
    node's transformers backend loads -- so training tokenises prompts as inference does.
    """

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        self.image_token = "<|image_pad|>"
        self.video_token = "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)


def check_model_dir(path: Path) -> None:
    """One clear line when ``path`` is not a local Qwen2.5-VL checkpoint folder."""
    if not path.is_dir():
        raise TrainError(f"model path '{path}' is not a folder (give a local Qwen2.5-VL checkpoint)")
    if not (path / "config.json").is_file():
        raise TrainError(f"model path '{path}' has no config.json (not a saved checkpoint)")
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError) as exc:
        raise TrainError(f"model path '{path}': unreadable config.json: {exc}") from None
    if model_type != "qwen2_5_vl":
        raise TrainError(f"model path '{path}' holds a '{model_type}' model, not Qwen2.5-VL (qwen2_5_vl)")


def load_processor(path: Path) -> NavProcessor:
    """The tokenizer + image processor of a checkpoint, as one processor for TRL."""
    check_model_dir(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True)
        image_processor = AutoImageProcessor.from_pretrained(path, trust_remote_code=False, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainError(f"model path '{path}': cannot load tokenizer/image processor: {exc}") from None
    template, _ = find_chat_template(tokenizer, str(path))
    tokenizer.chat_template = template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return NavProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=template)


def load_model(path: Path, opts: TrainOptions) -> PreTrainedModel:
    """The checkpoint's weights (fp32 on CPU, bf16 with ``--bf16``), safetensors only."""
    import torch

    check_model_dir(path)
    if opts.device == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: torch sees no CUDA device")
    dtype = torch.bfloat16 if opts.bf16 else torch.float32
    try:
        model: PreTrainedModel = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            path, dtype=dtype, use_safetensors=True, trust_remote_code=False, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise TrainError(f"model path '{path}': cannot load weights: {str(exc).splitlines()[0]}") from None
    return model


def lora_config(model: PreTrainedModel, opts: TrainOptions) -> Any:
    """PEFT LoRA on ``lora_targets`` of the language model's last ``lora_last_blocks`` blocks; None if off."""
    if opts.lora_rank == 0:
        return None
    from peft import LoraConfig

    n_layers = int(model.config.text_config.num_hidden_layers)
    last = opts.lora_last_blocks or n_layers
    if last > n_layers:
        raise TrainError(f"--lora-last-blocks {last} exceeds the model's {n_layers} language blocks")
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [t for t in opts.lora_targets if t not in names]
    if missing:
        raise TrainError(f"--lora-targets {missing} name no module of the model")
    # A regex keeps LoRA on the language model's blocks (the vision tower has its own 'blocks').
    layers = "|".join(str(i) for i in range(n_layers - last, n_layers))
    targets = "|".join(re.escape(t) for t in opts.lora_targets)
    return LoraConfig(
        r=opts.lora_rank, lora_alpha=opts.lora_alpha or 2 * opts.lora_rank, lora_dropout=0.0,
        target_modules=rf".*language_model\.layers\.({layers})\..*\.({targets})$", task_type="CAUSAL_LM",
    )


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` with its ``trainer_state.json`` (written last, so the folder is whole)."""
    if not run_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := _CHECKPOINT.match(p.name)) and p.is_dir()
             and (p / "trainer_state.json").is_file()]
    return max(found)[1] if found else None


def prepare_run(opts: TrainOptions) -> Path | None:
    """Check ``--out`` and the run folder; the checkpoint to resume from (None: start afresh)."""
    if opts.out.exists() and not opts.force:
        raise TrainError(f"output '{opts.out}' exists; choose another --out or pass --force")
    resume = last_complete_checkpoint(opts.run_dir) if opts.resume else None
    if opts.resume and resume is None:
        raise TrainError(f"--resume: no complete checkpoint in '{opts.run_dir}'")
    if not opts.resume and opts.run_dir.exists() and any(opts.run_dir.glob("checkpoint-*")):
        raise TrainError(f"run folder '{opts.run_dir}' has checkpoints; pass --resume to continue or remove it")
    opts.run_dir.mkdir(parents=True, exist_ok=True)
    return resume


class CurveLogger(TrainerCallback):
    """Appends every log record to ``run_dir/log.jsonl`` and redraws ``run_dir/curves.png``."""

    def __init__(self, run_dir: Path, keys: tuple[str, ...]) -> None:
        self.path = run_dir / "log.jsonl"
        self.plot = run_dir / "curves.png"
        self.keys = keys

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        """Record one log event (only on the main process)."""
        if not logs or not state.is_world_process_zero:
            return
        rec = {"step": state.global_step, "time": time.time(),
               **{k: v for k, v in logs.items() if isinstance(v, int | float)}}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        """Draw the curves when training ends."""
        if state.is_world_process_zero:
            plot_curves(self.path, self.plot, self.keys)


def plot_curves(log: Path, out: Path, keys: tuple[str, ...]) -> list[str]:
    """One panel per logged key among ``keys`` (prefix match), against the step; the keys drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not log.is_file():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if any(k == p or k.startswith(p) for p in keys):
                series.setdefault(k, []).append((r["step"], v))
    if not series:
        return []
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.2 * len(series)), squeeze=False)
    for ax, (k, pts) in zip(axes[:, 0], sorted(series.items()), strict=True):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".")
        ax.set_ylabel(k, fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return sorted(series)


def export_checkpoint(model: Any, processor: NavProcessor, base: Path, out: Path, info: dict[str, Any],
                      *, force: bool = False) -> Path:
    """Merge LoRA, save model + tokenizer + image processor under a temporary name, rename to ``out``."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.tokenizer.save_pretrained(tmp)
        processor.image_processor.save_pretrained(tmp)
        for name in _EXTRA_FILES:
            if (base / name).is_file() and not (tmp / name).exists():
                shutil.copy2(base / name, tmp / name)
        (tmp / "nav_r1_training.json").write_text(json.dumps(info, indent=2, default=str))
        if out.exists() and not force:
            raise TrainError(f"output '{out}' appeared while training; not overwritten (pass --force)")
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def run_info(kind: str, opts: TrainOptions, extra: dict[str, Any]) -> dict[str, Any]:
    """Provenance stored in the checkpoint as ``nav_r1_training.json``."""
    return {"kind": kind, "options": asdict(opts), **extra}
