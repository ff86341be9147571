"""Shipped DeepSpeed / accelerate configs are valid, and the GPU recipe benchmark runs tiny on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DS = ROOT / "config" / "deepspeed"
ACC = ROOT / "config" / "accelerate"
# Keys HF's Trainer fills when they say "auto" (transformers.integrations.deepspeed.trainer_config_process).
AUTO_OK = {"train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping",
           "bf16.enabled", "fp16.enabled", "zero_optimization.reduce_bucket_size",
           "zero_optimization.stage3_prefetch_bucket_size", "zero_optimization.stage3_param_persistence_threshold"}


def _autos(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _autos(v, f"{prefix}{k}.")
        elif v == "auto":
            out.add(prefix + k)
    return out


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_configs(stage: int) -> None:
    cfg = json.loads((DS / f"zero{stage}.json").read_text())
    assert cfg["zero_optimization"]["stage"] == stage
    assert _autos(cfg) <= AUTO_OK, _autos(cfg) - AUTO_OK
    if stage == 3:  # the exported checkpoint needs whole 16-bit weights gathered on save
        assert cfg["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    deepspeed = pytest.importorskip("deepspeed")  # deeper check where DeepSpeed is installed (GPU images)
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig
    from trl import SFTConfig

    assert deepspeed
    hf = HfTrainerDeepSpeedConfig(str(DS / f"zero{stage}.json"))
    hf.trainer_config_process(SFTConfig(output_dir="/tmp/x", per_device_train_batch_size=4,
                                        gradient_accumulation_steps=2, report_to="none"))
    assert hf.config["train_micro_batch_size_per_gpu"] == 4


@pytest.mark.parametrize("name", ["zero2.yaml", "zero3.yaml", "multi_node_zero3.yaml"])
def test_accelerate_configs(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.utils import DistributedType

    cfg = ClusterConfig.from_yaml_file(str(ACC / name))  # accelerate's own loader rejects unknown keys
    assert cfg.distributed_type == DistributedType.DEEPSPEED
    ds_file = ROOT / cfg.deepspeed_config["deepspeed_config_file"]
    stage = json.loads(ds_file.read_text())["zero_optimization"]["stage"]
    assert f"zero{stage}" in name
    assert cfg.deepspeed_config.get("zero3_init_flag", False) == (stage == 3)
    raw = yaml.safe_load((ACC / name).read_text())
    assert raw["num_processes"] % raw["num_machines"] == 0


@pytest.mark.slow
def test_gpu_recipe_bench_runs_tiny_on_cpu(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_recipe_gpu", ROOT / "bench" / "bench_recipe_gpu.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu"
    assert bench.main(["--tiny", "--out", str(out), "--sft-steps", "2", "--grpo-steps", "1", "--group", "2",
                       "--gen-tokens", "4"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["sft_step_s"] > 0 and report["grpo_step_s"] > 0 and report["generate_tokens_per_s_backend"] > 0
