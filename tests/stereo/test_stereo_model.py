"""The learned model: LoRA adapters, network shapes, weights files, losses, folder/bag input, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stereo_adapter.adapt import adapt_lora
from stereo_adapter.adapt import main as adapt_main
from stereo_adapter.backends import StereoInputError
from stereo_adapter.data import synth_dataset
from stereo_adapter.io import load_pairs_bag, load_pairs_folder, save_pairs_folder
from stereo_adapter.learned import (
    LearnedBackend,
    WeightsError,
    adapter_state_dict,
    load_model,
    save_adapters,
    save_base,
    train_only_adapters,
)
from stereo_adapter.lora import GatedLoraA, set_adapters_enabled
from stereo_adapter.losses import photometric_error, self_supervised_loss, visibility_mask, warp_right_to_left
from stereo_adapter.model import StereoAdapterNet
from stereo_adapter.pretrain import batch_tensors, tiny_config

SIZE = (32, 48)


@pytest.fixture(scope="module")
def pairs():
    return synth_dataset(4, 11, SIZE)


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return StereoAdapterNet(tiny_config()).eval()


def test_lora_wraps_targets_and_starts_as_identity(model):
    assert all(name.split(".")[-1] in ("qkv", "proj", "fc1", "fc2") for name in model.lora_layers)
    assert len(model.lora_layers) == 4 * tiny_config().depth
    x = torch.rand(1, 3, *SIZE)
    with torch.no_grad():
        on = model(x, x)["disparity"]
        set_adapters_enabled(model, False)
        off = model(x, x)["disparity"]
    assert isinstance(on, torch.Tensor) and isinstance(off, torch.Tensor)
    torch.testing.assert_close(on, off)  # B = 0 at start: adapters change nothing yet
    trainable = train_only_adapters(model)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in names)
    layer = next(m for m in model.modules() if isinstance(m, GatedLoraA))
    # σ(0) = 0.5 is not "open above 0.5": every rank starts undecided.
    assert layer.rank_gate.shape == (tiny_config().lora_rank,) and layer.active_ranks() == 0


def test_forward_shapes_and_padding(model):
    x = torch.rand(2, 3, 30, 45)  # not a multiple of the stride
    with torch.no_grad():
        out = model(x, x, iters=2)
    disp, mono = out["disparity"], out["mono"]
    assert isinstance(disp, torch.Tensor) and isinstance(mono, torch.Tensor)
    assert disp.shape == (2, 1, 30, 45) and mono.shape == (2, 1, 30, 45)
    assert len(out["sequence"]) == 1  # eval mode keeps only the final (convex-upsampled) estimate
    model.train()
    out = model(x, x, iters=3)
    assert len(out["sequence"]) == 3


def test_weights_round_trip_and_errors(model, pairs, tmp_path):
    base = save_base(model, tmp_path / "base.safetensors")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    adapters = save_adapters(model, tmp_path / "adapters.safetensors")
    backend = LearnedBackend.from_files(base, adapters)
    s = pairs[0]
    got = backend.compute(s.left, s.right, s.calib)
    with torch.no_grad():
        ref = model(*batch_tensors([s])[:2])["disparity"]
    assert isinstance(ref, torch.Tensor)
    ref_np = ref[0, 0].numpy()
    np.testing.assert_allclose(got.disparity[got.valid], ref_np[got.valid], rtol=1e-4, atol=1e-4)
    assert set(adapter_state_dict(load_model(base, adapters))) == set(adapter_state_dict(model))
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match="expected 'base'"):
        load_model(adapters)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot read"):
        load_model(tmp_path / "junk.safetensors")
    with pytest.raises(WeightsError, match="CUDA"):
        if not torch.cuda.is_available():
            load_model(base, device="cuda")
        else:
            raise WeightsError("CUDA present; nothing to check")
    with pytest.raises(StereoInputError, match="differ"):
        backend.compute(s.left, s.right[:, :-2], s.calib)


def test_losses_prefer_true_disparity_and_mask_occlusions(pairs):
    left, right, disp = batch_tensors(pairs)
    at_gt = self_supervised_loss(left, right, disp, disp)["photometric"]
    for scale in (0.7, 1.3):
        assert self_supervised_loss(left, right, disp * scale, disp)["photometric"] > at_gt
    warped = warp_right_to_left(right, disp)
    assert photometric_error(warped, left).mean() < photometric_error(right, left).mean()
    step = torch.zeros(1, 1, 1, 10)
    step[..., 5:] = 3.0  # a near surface from x=5 covers x-d in [2, 7) of the far one
    vis = visibility_mask(step)[0, 0, 0]
    assert vis[5:].all() and not vis[3:5].any() and vis[:3].all()


def test_adapt_changes_only_adapters(model, pairs):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = adapt_lora(model, [(s.left, s.right) for s in pairs], steps=2, batch=2)
    assert len(history) == 2 and all(np.isfinite(h["total"]) for h in history)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("lora_" in k for k in changed)
    with pytest.raises(ValueError, match="no stereo pairs"):
        adapt_lora(model, [], steps=1)


def test_folder_and_bag_pairs_and_cli(model, pairs, tmp_path):
    folder = save_pairs_folder(pairs, tmp_path / "pairs")
    loaded = load_pairs_folder(folder)
    assert len(loaded) == len(pairs)
    np.testing.assert_array_equal(loaded[0][0], pairs[0].left)
    with pytest.raises(ValueError, match="no stereo pairs"):
        load_pairs_folder(tmp_path)

    bag = tmp_path / "bag"
    write_bag(bag, pairs)
    from_bag = load_pairs_bag(bag, "stereo/left/image_rect", "stereo/right/image_rect")
    assert len(from_bag) == len(pairs)
    np.testing.assert_array_equal(from_bag[1][1], pairs[1].right)
    with pytest.raises(ValueError, match="lacks topic"):
        load_pairs_bag(bag, "stereo/left/image_rect", "nope")

    base = save_base(model, tmp_path / "base.safetensors")
    out = tmp_path / "adapters.safetensors"
    assert adapt_main(["--weights", str(base), "--data", str(bag), "--out", str(out), "--steps", "2",
                       "--batch", "2"]) == 0
    assert out.is_file() and out.with_suffix(".loss.png").is_file()
    assert set(adapter_state_dict(load_model(base, out))) == set(adapter_state_dict(model))
    assert adapt_main(["--weights", str(tmp_path / "none.safetensors"), "--data", str(folder),
                       "--out", str(out)]) == 2


def write_bag(path, pairs) -> None:
    """A rosbag2 (MCAP) with rgb8 left/right image topics, written with rosbags."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    image_t = ts.types["sensor_msgs/msg/Image"]
    header_t = ts.types["std_msgs/msg/Header"]
    time_t = ts.types["builtin_interfaces/msg/Time"]
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {t: writer.add_connection(t, image_t.__msgtype__, typestore=ts)
                 for t in ("/stereo/left/image_rect", "/stereo/right/image_rect")}
        for i, s in enumerate(pairs):
            for topic, img in (("/stereo/left/image_rect", s.left), ("/stereo/right/image_rect", s.right)):
                stamp = time_t(sec=10 + i, nanosec=1000 if "right" in topic else 0)
                msg = image_t(header=header_t(stamp=stamp, frame_id="left"), height=img.shape[0],
                              width=img.shape[1], encoding="rgb8", is_bigendian=0, step=img.shape[1] * 3,
                              data=np.ascontiguousarray(img).reshape(-1))
                writer.write(conns[topic], (10 + i) * 10**9, ts.serialize_cdr(msg, image_t.__msgtype__))


def test_node_config_and_backend_factory_reject_bad_parameters(model, tmp_path):
    from r1_core.params import ParamError, from_mapping
    from stereo_adapter.config import StereoNodeConfig
    from stereo_adapter.node import make_backend

    with pytest.raises(ParamError, match="weights"):
        StereoNodeConfig(backend="learned")
    with pytest.raises(ParamError, match="min_depth_m"):
        StereoNodeConfig(min_depth_m=5.0, max_depth_m=1.0)
    with pytest.raises(ParamError, match="multiple of 16"):
        from_mapping(StereoNodeConfig, {"sgbm": {"num_disparities": 20}})
    with pytest.raises(ParamError, match="not found"):
        make_backend(StereoNodeConfig(backend="learned", weights=str(tmp_path / "none.safetensors")))
    base = save_base(model, tmp_path / "base.safetensors")
    backend = make_backend(StereoNodeConfig(backend="learned", weights=str(base), device="cpu", iters=2))
    assert backend.name == "learned"
    assert make_backend(StereoNodeConfig()).name == "sgbm"


def test_shipped_parameter_file_matches_declarations():
    from pathlib import Path

    from r1_core.params import from_mapping, load_ros_params, to_flat
    from stereo_adapter.config import StereoNodeConfig

    path = Path(__file__).resolve().parents[2] / "src/stereo_adapter/config/stereo_node.yaml"
    cfg = from_mapping(StereoNodeConfig, load_ros_params(path, "stereo_node"))
    assert to_flat(cfg) == to_flat(StereoNodeConfig())
