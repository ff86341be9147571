"""The Depth Anything V2 backend: tiny random config, PEFT LoRA + rank gates, refinement, adaptation, files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from peft.tuners.lora import LoraLayer

from stereo_adapter.adapt import adapt_lora
from stereo_adapter.adapt import main as adapt_main
from stereo_adapter.data import synth_dataset
from stereo_adapter.dav2 import (
    LORA_TARGETS,
    DAv2Config,
    DAv2StereoNet,
    encoder_config,
    fit_scale_shift,
    winner_take_all,
)
from stereo_adapter.io import save_pairs_folder
from stereo_adapter.learned import (
    LearnedBackend,
    WeightsError,
    adapter_state_dict,
    load_adapters,
    load_model,
    save_adapters,
    save_base,
    train_only_adapters,
)
from stereo_adapter.lora import GatedLoraA, rank_gates, set_adapters_enabled
from stereo_adapter.losses import self_supervised_loss
from stereo_adapter.pretrain import batch_tensors, tiny_dav2_config

SIZE = (32, 48)


@pytest.fixture(scope="module")
def pairs():
    return synth_dataset(4, 21, SIZE)


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return DAv2StereoNet(tiny_dav2_config()).eval()


def test_forward_shapes_and_encoder_is_transformers_depth_anything(model):
    from transformers import DepthAnythingForDepthEstimation

    assert isinstance(model.depth_anything, DepthAnythingForDepthEstimation)
    x = torch.rand(2, 3, 30, 45)  # neither a multiple of 14 nor of the stride
    with torch.no_grad():
        out = model(x, x.flip(-1), iters=3)
    disp, mono = out["disparity"], out["mono"]
    assert isinstance(disp, torch.Tensor) and isinstance(mono, torch.Tensor)
    assert disp.shape == (2, 1, 30, 45) and mono.shape == (2, 1, 30, 45)
    assert torch.isfinite(disp).all() and (mono >= 0).all() and (mono <= model.max_disp).all()
    assert len(out["sequence"]) == 1
    model.train()
    assert len(model(x, x, iters=3)["sequence"]) == 3
    assert DAv2Config().iters == 12 and DAv2Config().lora_rank == 16 and DAv2Config().max_disp == 80.0


def test_peft_lora_on_every_dinov2_projection_with_gates_and_identity_start(model):
    n_layers = encoder_config("tiny").backbone_config.num_hidden_layers
    assert len(model.lora_layers) == len(LORA_TARGETS) * n_layers
    assert {name.rsplit(".", 1)[-1] for name in model.lora_layers} == set(LORA_TARGETS)
    lora = [m for m in model.modules() if isinstance(m, LoraLayer)]
    assert all(isinstance(m.lora_A["default"], GatedLoraA) for m in lora)
    assert all(g.shape == (tiny_dav2_config().lora_rank,) for g in rank_gates(model))
    x = torch.rand(1, 3, *SIZE)
    with torch.no_grad():
        on = model(x, x)["disparity"]
        set_adapters_enabled(model, False)
        off = model(x, x)["disparity"]
    assert isinstance(on, torch.Tensor) and isinstance(off, torch.Tensor)
    torch.testing.assert_close(on, off)  # lora_B = 0 at start: the adapters change nothing yet
    # ... and once B is non-zero they change the encoder, and switching them off restores the base exactly.
    pair = torch.cat([x, x.flip(-1)], 0)
    with torch.no_grad():
        feats_base, rel_base = model.encode(pair)
        set_adapters_enabled(model, True)
        for m in lora:
            m.lora_B["default"].weight.normal_(0, 0.5)
        feats_adapted, _ = model.encode(pair)
        set_adapters_enabled(model, False)
        feats_back, rel_back = model.encode(pair)
        back = model(x, x)["disparity"]
    assert (feats_adapted - feats_base).abs().max() > 0.01 * feats_base.abs().max()
    torch.testing.assert_close(feats_back, feats_base)
    torch.testing.assert_close(rel_back, rel_base)
    torch.testing.assert_close(back, off)


def test_only_adapters_gates_and_refinement_are_trainable(model):
    params = train_only_adapters(model)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert params and len(params) == len(names)
    assert any(n.endswith("rank_gate") for n in names) and any("lora_B" in n for n in names)
    assert any(n.startswith("update.") for n in names) and any(n.startswith("fnet.") for n in names)
    for n in names:
        assert "lora_" in n or n.split(".")[0] in ("fnet", "cnet", "update"), n
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert any("base_layer" in n for n in frozen) and any(n.startswith("depth_anything.neck") for n in frozen)
    assert any(n.startswith("depth_anything.head") for n in frozen)


def test_mono_scale_shift_fit_and_first_estimate():
    torch.manual_seed(1)
    rel = torch.rand(2, 1, 6, 8) + 0.1
    target = 3.0 * rel + 0.5
    s, t = fit_scale_shift(rel, target, torch.ones_like(rel))
    torch.testing.assert_close(s.flatten(), torch.tensor([3.0, 3.0]))
    torch.testing.assert_close(t.flatten(), torch.tensor([0.5, 0.5]))
    # An inverted fit (random weights) falls back to a positive pure scale.
    s, t = fit_scale_shift(rel, 2.0 - rel, torch.ones_like(rel))
    assert (s > 0).all() and (t == 0).all()
    # A flat prior (a dead ReLU head) starts from the mean stereo estimate instead of zero.
    s, t = fit_scale_shift(torch.zeros_like(rel), target, torch.ones_like(rel))
    assert (s == 0).all()
    torch.testing.assert_close(t.flatten(), target.flatten(1).mean(1))
    # Winner-take-all finds a known shift between two feature maps.
    f2 = torch.randn(1, 16, 4, 20)
    f1 = torch.roll(f2, shifts=3, dims=-1)
    disp, conf = winner_take_all(f1, f2, max_disp=6)
    assert (disp[..., 3:] == 3).all() and conf.shape == disp.shape


def test_adaptation_steps_reduce_the_self_supervised_loss_and_move_the_gates(model, pairs):
    left, right, _ = batch_tensors(pairs)
    unlabelled = [(s.left, s.right) for s in pairs]

    def loss() -> float:
        with torch.no_grad():
            out = model(left, right)
        disp, mono = out["disparity"], out["mono"]
        assert isinstance(disp, torch.Tensor) and isinstance(mono, torch.Tensor)
        return float(self_supervised_loss(left, right, disp, mono)["total"])

    gates_before = torch.cat(rank_gates(model)).detach().clone()
    frozen_before = {k: v.clone() for k, v in model.state_dict().items() if not model.is_adapter_param(k)}
    before = loss()
    # The whole adaptable set at one learning rate (the default slows the refinement to 0.1x).
    history = adapt_lora(model, unlabelled, steps=16, batch=4, lr=1e-3, seed=0, refine_lr_scale=1.0)
    after = loss()
    assert len(history) == 16 and all(np.isfinite(h["total"]) for h in history)
    assert after < before, (before, after)
    assert np.mean([h["total"] for h in history[-3:]]) < np.mean([h["total"] for h in history[:3]])
    gates_after = torch.cat(rank_gates(model)).detach()
    assert not torch.allclose(gates_before, gates_after)  # the rank gates are learned
    state = model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in frozen_before.items())  # the encoder did not move
    assert not any(p.requires_grad for p in model.parameters())
    # LoRA-only adaptation leaves the refinement exactly as it was.
    refinement = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("update.")}
    adapt_lora(model, unlabelled, steps=2, batch=2, lr=1e-3, seed=0, refine_lr_scale=0.0)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in refinement.items())
    with pytest.raises(ValueError, match="refine_lr_scale"):
        adapt_lora(model, unlabelled, steps=1, refine_lr_scale=-1.0)


def test_save_load_adapters_and_backend(model, pairs, tmp_path):
    base = save_base(model, tmp_path / "base.safetensors")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoraLayer):
                m.lora_B["default"].weight.normal_(0, 0.05)
            if isinstance(m, GatedLoraA):
                m.rank_gate.uniform_(-2, 2)
        model.update.delta[-1].bias.add_(0.3)
    adapters = save_adapters(model, tmp_path / "adapters.safetensors")
    loaded = load_model(base, adapters)
    assert loaded.arch == "dav2" and loaded.cfg == model.cfg
    for k, v in adapter_state_dict(model).items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    s = pairs[0]
    got = LearnedBackend(loaded).compute(s.left, s.right, s.calib)
    with torch.no_grad():
        ref = model(*batch_tensors([s])[:2])["disparity"]
    assert isinstance(ref, torch.Tensor)
    np.testing.assert_allclose(got.disparity[got.valid], ref[0, 0].numpy()[got.valid], rtol=1e-4, atol=1e-4)
    # The base alone is the model before the adapters.
    plain = load_model(base)
    assert not torch.equal(plain.state_dict()["update.delta.2.bias"], loaded.state_dict()["update.delta.2.bias"])
    # Adapters of another architecture are refused with a clear error.
    other = DAv2StereoNet(DAv2Config(encoder="tiny", hidden_dim=32, iters=4, max_disp=24.0, lora_rank=2))
    with pytest.raises(WeightsError, match="different architecture"):
        load_adapters(other, adapters)
    with pytest.raises(WeightsError, match="expected 'base'"):
        load_model(adapters)


def test_adapt_cli_on_a_dav2_base_and_released_folder(model, pairs, tmp_path):
    folder = save_pairs_folder(pairs, tmp_path / "pairs")
    base = save_base(model, tmp_path / "base.safetensors")
    out = tmp_path / "adapters.safetensors"
    assert adapt_main(["--weights", str(base), "--data", str(folder), "--out", str(out), "--steps", "2",
                       "--batch", "2"]) == 0
    assert set(adapter_state_dict(load_model(base, out))) == set(adapter_state_dict(model))
    # A local "released" folder in transformers' format (here: the tiny random encoder, saved).
    released = tmp_path / "released"
    model.depth_anything.__class__(encoder_config("tiny")).save_pretrained(released)
    out2 = tmp_path / "from_released.safetensors"
    assert adapt_main(["--encoder-path", str(released), "--data", str(folder), "--out", str(out2), "--steps", "1",
                       "--batch", "2"]) == 0
    assert load_model(out2.with_suffix(".base.safetensors"), out2).cfg.encoder == "custom"
    assert adapt_main(["--encoder-path", str(tmp_path / "nothing"), "--data", str(folder), "--out", str(out2)]) == 2


def test_node_backend_factory_builds_the_dav2_backend(model, tmp_path):
    from stereo_adapter.config import StereoNodeConfig
    from stereo_adapter.node import make_backend

    base = save_base(model, tmp_path / "base.safetensors")
    adapters = save_adapters(model, tmp_path / "adapters.safetensors")
    backend = make_backend(StereoNodeConfig(backend="learned", weights=str(base), adapters=str(adapters),
                                            device="cpu", iters=2))
    assert isinstance(backend, LearnedBackend) and backend.model.arch == "dav2" and backend.iters == 2


def test_gpu_bench_script_runs_tiny_on_cpu(capsys):
    """bench/bench_stereo_gpu.py's CPU path (the GPU path is the same code with --device cuda)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_stereo_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_stereo_gpu", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--device", "cpu", "--encoders", "tiny", "--dtype", "fp32", "--size", "28", "42",
                       "--iters", "1", "--seconds", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "| SGBM 3-way (CPU, baseline) |" in out and "| dav2 tiny | fp32 |" in out
    with pytest.raises(SystemExit):
        bench.main(["--device", "cpu", "--dtype", "fp64"])


def test_eval_table_has_sgbm_base_and_adapted_with_every_metric(tmp_path, capsys):
    import json

    from stereo_adapter.evaluate import main as eval_main
    from stereo_adapter.metrics import METRIC_NAMES

    assert eval_main(["--model", "dav2", "--tiny", "--size", "32", "48", "--pairs", "2", "--adapt-pairs", "2",
                      "--train-pairs", "2", "--pretrain-steps", "1", "--adapt-steps", "1", "--source", "analytic",
                      "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("| method |"))
    assert all(f" {m} " in header for m in METRIC_NAMES)
    rows = [line.split(" | ")[0][2:] for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert rows == [f"{m} / {d}" for m in ("SGBM", "dav2 base", "dav2 adapted") for d in ("clean", "underwater")]
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["model"] == "dav2" and (tmp_path / "adapters_underwater.safetensors").is_file()
