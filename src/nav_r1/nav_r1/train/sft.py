"""Cold-start supervised fine-tuning on Nav-CoT (or scene) rows with TRL's ``SFTTrainer`` (loss on the reply only)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from transformers import TrainerCallback

from nav_r1.train.common import (
    CurveLogger,
    TrainOptions,
    export_checkpoint,
    last_complete_checkpoint,
    load_model,
    load_processor,
    lora_config,
    plot_curves,
    prepare_run,
    run_info,
)
from nav_r1.train.examples import training_dataset

LOG = logging.getLogger(__name__)


class TrainInterruptedError(RuntimeError):
    """Ctrl-C during training; the message names the last complete checkpoint."""


def interrupted(opts: TrainOptions) -> TrainInterruptedError:
    """The error raised on Ctrl-C, naming what survives."""
    last = last_complete_checkpoint(opts.run_dir)
    where = f"last complete checkpoint: {last} (continue with --resume)" if last else "no checkpoint was completed"
    kept = f"; '{opts.out}' is untouched" if opts.out.exists() else f"; '{opts.out}' was not written"
    return TrainInterruptedError(f"interrupted: {where}{kept}")


def run_sft(opts: TrainOptions, callbacks: Sequence[TrainerCallback] = ()) -> Path:
    """Train, then export the merged model to ``opts.out``; returns it."""
    from trl import SFTConfig, SFTTrainer

    resume = prepare_run(opts)
    processor = load_processor(opts.model)
    dataset, n_rows, task = training_dataset(opts, with_completion=True)
    dataset = dataset.select_columns(["prompt", "completion", "images"])
    model = load_model(opts.model, opts)
    args = SFTConfig(
        output_dir=str(opts.run_dir), max_steps=opts.max_steps, num_train_epochs=opts.epochs,
        per_device_train_batch_size=opts.batch_size, gradient_accumulation_steps=opts.grad_accum,
        learning_rate=opts.learning_rate, lr_scheduler_type="constant_with_warmup", warmup_steps=0,
        logging_steps=opts.logging_steps, save_steps=opts.save_steps, save_total_limit=2,
        use_cpu=opts.device == "cpu", bf16=opts.bf16, report_to="none", seed=opts.seed,
        completion_only_loss=True, max_length=None, deepspeed=opts.deepspeed,
        dataloader_num_workers=0, disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor,
                         peft_config=lora_config(model, opts),
                         callbacks=[CurveLogger(opts.run_dir, ("loss", "grad_norm", "learning_rate")), *callbacks])
    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    except KeyboardInterrupt:
        plot_curves(opts.run_dir / "log.jsonl", opts.run_dir / "curves.png", ("loss",))
        raise interrupted(opts) from None
    if not trainer.is_world_process_zero():
        return opts.out
    info = run_info("sft", opts, {"task": task, "rows": n_rows, "steps": trainer.state.global_step,
                                  "resumed_from": str(resume) if resume else None})
    return export_checkpoint(trainer.model, processor, opts.model, opts.out, info, force=opts.force)
