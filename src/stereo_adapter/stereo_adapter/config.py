"""Parameters of the stereo node, declared once (docs table: ``markdown_table(StereoNodeConfig)``)."""

from __future__ import annotations

from dataclasses import dataclass

from r1_core.params import ParamError, nested, param, validate_params
from stereo_adapter.sgbm import SgbmConfig


@dataclass(frozen=True)
class StereoNodeConfig:
    """Everything ``stereo_node`` reads at start-up."""

    # Which DepthBackend computes disparity.
    backend: str = param("sgbm", "Depth backend", choices=("sgbm", "learned"))
    # Base weights of the learned model (stereo_adapter.pretrain, or stereo-adapt --encoder-path);
    # the file's metadata names the architecture (compact, or dav2 = Depth Anything V2 + LoRA + GRU).
    weights: str = param("", "Learned model base weights (.safetensors, architecture in its metadata); "
                             "required for 'learned'")
    # LoRA adapters from stereo-adapt; empty runs the base model.
    adapters: str = param("", "Learned model adapters from stereo-adapt (.safetensors); empty = none")
    device: str = param("auto", "Torch device for the learned model", choices=("auto", "cpu", "cuda"))
    # 0 keeps the number stored with the weights.
    iters: int = param(0, "ConvGRU refinement iterations (0 = the model's default)", min=0, max=32)
    # Largest stamp difference inside one matched left/right/camera_info set.
    sync_slop_s: float = param(0.02, "Approximate-time sync tolerance [s]", min=0.0, max=1.0)
    publish_points: bool = param(False, "Also publish stereo/points (PointCloud2)")
    points_stride: int = param(4, "Pixel stride of the point cloud", min=1, max=64)
    # Depth outside this range is published as NaN (no measurement, REP 118).
    min_depth_m: float = param(0.2, "Nearest depth published [m]", min=0.0, max=100.0)
    max_depth_m: float = param(30.0, "Farthest depth published [m]", min=0.1, max=1000.0)
    rate_report_s: float = param(5.0, "Period of the rate report in the log [s]", min=0.5, max=3600.0)
    sgbm: SgbmConfig = nested(SgbmConfig, "StereoSGBM settings")

    def __post_init__(self) -> None:
        validate_params(self)
        if self.backend == "learned" and not self.weights:
            raise ParamError("parameter 'weights' must name a .safetensors file when backend is 'learned'")
        if self.min_depth_m >= self.max_depth_m:
            raise ParamError(f"parameter 'min_depth_m' = {self.min_depth_m} must be below "
                             f"'max_depth_m' = {self.max_depth_m}")
