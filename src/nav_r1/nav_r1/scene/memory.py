"""Scene memory: RGB-D frames with odometry poses fused into a bounded point cloud, plus key views.

Every accepted frame is back-projected with Open3D (``PointCloud.create_from_rgbd_image``) into the
``odom`` frame and voxel-downsampled into the chunk of the key view it belongs to; a frame becomes a
new key view when the camera moved or turned enough since the last one. Memory is bounded twice:
at most ``max_key_views`` views and ``max_points`` fused points, the oldest key view (with the
points it brought) evicted first. Frames without a pose, with camera_info that does not match the
image, or with non-finite values are refused with a reason and change nothing.

Thread ownership: a :class:`SceneMemory` is not thread-safe; the node that owns it calls
:meth:`SceneMemory.add_frame` and the readers from one callback group.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from r1_core.params import param, validate_params

if TYPE_CHECKING:  # open3d takes seconds to import: loaded on first use (a node without scene questions never does)
    import open3d as o3d


def open3d_module() -> Any:
    """The open3d module, imported on first use."""
    import open3d

    return open3d


@dataclass(frozen=True)
class MemoryConfig:
    """Bounds and thresholds of the scene memory."""

    # Fused points are kept on this grid; 5 cm keeps a room in a few 10k points.
    voxel_size_m: float = param(0.05, "Voxel size of the fused cloud [m]", min=0.005, max=1.0)
    max_points: int = param(200_000, "Most fused points kept; the oldest key views are evicted beyond", min=100)
    max_key_views: int = param(32, "Most key views kept (oldest evicted)", min=1, max=1024)
    key_view_translation_m: float = param(0.5, "Camera travel that starts a new key view [m]", min=0.0)
    key_view_rotation_deg: float = param(20.0, "Camera turn that starts a new key view [deg]", min=0.0, max=180.0)
    min_depth_m: float = param(0.1, "Nearer depth is ignored [m]", min=0.0)
    max_depth_m: float = param(8.0, "Farther depth is ignored [m]", min=0.1, max=100.0)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of one image size (what ``sensor_msgs/CameraInfo`` carries)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"camera_info '{name}' must be a positive integer, got {v!r}")
        for name in ("fx", "fy", "cx", "cy"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(float(v)):
                raise ValueError(f"camera_info '{name}' must be a finite number, got {v!r}")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"camera_info focal lengths must be positive, got fx={self.fx}, fy={self.fy}")

    @classmethod
    def from_matrix(cls, k: Any, width: int, height: int) -> CameraIntrinsics:
        """From a 3x3 ``K`` (or CameraInfo's row-major 9-vector) and the image size."""
        m = np.asarray(k, dtype=float).reshape(-1)
        if m.size != 9:
            raise ValueError(f"camera_info 'k' must have 9 entries, got {m.size}")
        return cls(int(width), int(height), float(m[0]), float(m[4]), float(m[2]), float(m[5]))

    def matrix(self) -> NDArray[np.float64]:
        """The 3x3 K matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def to_open3d(self) -> o3d.camera.PinholeCameraIntrinsic:
        """The same intrinsics as Open3D's type."""
        o3d = open3d_module()
        return o3d.camera.PinholeCameraIntrinsic(self.width, self.height, self.fx, self.fy, self.cx, self.cy)


@dataclass(frozen=True)
class Frame:
    """One RGB-D frame: colour (H, W, 3) uint8, depth (H, W) float32 metres, ``odom_T_camera`` (4x4)."""

    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]
    intrinsics: CameraIntrinsics
    pose: NDArray[np.float64] | None  # odom_T_camera (optical frame: x right, y down, z forward)
    stamp: float = 0.0


@dataclass(frozen=True)
class KeyView:
    """A kept view: its image, depth, pose and intrinsics, by increasing ``view_id``."""

    view_id: int
    stamp: float
    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]
    intrinsics: CameraIntrinsics
    pose: NDArray[np.float64]


@dataclass(frozen=True)
class FrameResult:
    """What :meth:`SceneMemory.add_frame` did: accepted or the reason it refused the frame."""

    accepted: bool
    reason: str = ""
    view_id: int | None = None
    new_key_view: bool = False
    points_added: int = 0


def frame_problem(frame: Frame) -> str | None:
    """Why ``frame`` cannot be fused (a short code then the detail), or None when it can."""
    if frame.pose is None:
        return "no_pose: the frame has no odom pose (no transform odom -> camera at its stamp)"
    pose = np.asarray(frame.pose)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        return f"bad_pose: the pose must be a finite 4x4 matrix, got shape {pose.shape}"
    rot = pose[:3, :3]
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-3) or not np.allclose(pose[3], [0, 0, 0, 1], atol=1e-6):
        return "bad_pose: the pose's rotation is not orthonormal"
    rgb, depth = np.asarray(frame.rgb), np.asarray(frame.depth)
    if depth.ndim != 2:
        return f"bad_depth: depth must be (H, W), got shape {depth.shape}"
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        return f"bad_rgb: colour must be (H, W, 3) uint8, got shape {rgb.shape} {rgb.dtype}"
    if rgb.shape[:2] != depth.shape:
        return f"size_mismatch: colour is {rgb.shape[1]}x{rgb.shape[0]} but depth is {depth.shape[1]}x{depth.shape[0]}"
    k = frame.intrinsics
    if (k.width, k.height) != (depth.shape[1], depth.shape[0]):
        return (f"camera_info_mismatch: depth is {depth.shape[1]}x{depth.shape[0]} but camera_info says "
                f"{k.width}x{k.height}")
    if not (0 <= k.cx < k.width and 0 <= k.cy < k.height):
        return f"camera_info_mismatch: principal point ({k.cx}, {k.cy}) lies outside the {k.width}x{k.height} image"
    return None


def _rotation_deg(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    r = a[:3, :3].T @ b[:3, :3]
    return math.degrees(math.acos(float(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))))


class SceneMemory:
    """Fused cloud and key views of what the robot has seen, bounded in points and views."""

    def __init__(self, config: MemoryConfig | None = None) -> None:
        self.config = config or MemoryConfig()
        self._views: OrderedDict[int, KeyView] = OrderedDict()
        self._chunks: dict[int, o3d.geometry.PointCloud] = {}
        self._next_id = 0
        self._fused: o3d.geometry.PointCloud | None = None
        self.frames_accepted = 0
        self.frames_refused = 0
        self.views_evicted = 0

    # -- writing --------------------------------------------------------------------------
    def add_frame(self, frame: Frame) -> FrameResult:
        """Fuse one frame; a bad frame is refused with a reason and changes nothing."""
        problem = frame_problem(frame)
        if problem is not None:
            self.frames_refused += 1
            return FrameResult(False, problem)
        pose = np.asarray(frame.pose, dtype=float)
        cloud = self._backproject(frame, pose)
        last = next(reversed(self._views.values())) if self._views else None
        new_view = last is None or (
            float(np.linalg.norm(pose[:3, 3] - last.pose[:3, 3])) >= self.config.key_view_translation_m
            or _rotation_deg(last.pose, pose) >= self.config.key_view_rotation_deg
        )
        if new_view:
            view = KeyView(self._next_id, float(frame.stamp), np.array(frame.rgb, copy=True),
                           np.array(frame.depth, dtype=np.float32, copy=True), frame.intrinsics, pose.copy())
            self._views[view.view_id] = view
            self._chunks[view.view_id] = cloud
            self._next_id += 1
        else:
            assert last is not None
            view = last
            merged = self._chunks[view.view_id] + cloud
            self._chunks[view.view_id] = merged.voxel_down_sample(self.config.voxel_size_m)
        self._fused = None
        self.frames_accepted += 1
        self._enforce_bounds()
        return FrameResult(True, "", view.view_id, new_view, len(cloud.points))

    def _backproject(self, frame: Frame, pose: NDArray[np.float64]) -> o3d.geometry.PointCloud:
        depth = np.array(frame.depth, dtype=np.float32, copy=True)
        depth[~np.isfinite(depth) | (depth < self.config.min_depth_m)] = 0.0
        geo = open3d_module().geometry
        rgbd = geo.RGBDImage.create_from_color_and_depth(
            geo.Image(cast(Any, np.ascontiguousarray(frame.rgb))), geo.Image(cast(Any, depth)),
            depth_scale=1.0, depth_trunc=self.config.max_depth_m, convert_rgb_to_intensity=False)
        # Open3D's extrinsic is camera_T_world.
        cloud = geo.PointCloud.create_from_rgbd_image(rgbd, frame.intrinsics.to_open3d(), np.linalg.inv(pose))
        return cloud.voxel_down_sample(self.config.voxel_size_m)

    def _enforce_bounds(self) -> None:
        while len(self._views) > self.config.max_key_views:
            self._evict_oldest()
        while len(self._views) > 1 and sum(len(c.points) for c in self._chunks.values()) > self.config.max_points:
            self._evict_oldest()
        if len(self._views) == 1:  # one view alone over budget: thin it instead of forgetting everything
            vid = next(iter(self._views))
            chunk = self._chunks[vid]
            if len(chunk.points) > self.config.max_points:
                ratio = self.config.max_points / len(chunk.points)
                self._chunks[vid] = chunk.random_down_sample(ratio)

    def _evict_oldest(self) -> None:
        vid, _ = self._views.popitem(last=False)
        self._chunks.pop(vid, None)
        self.views_evicted += 1
        self._fused = None

    def clear(self) -> None:
        """Forget every view and point."""
        self._views.clear()
        self._chunks.clear()
        self._fused = None

    # -- reading --------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        """True before any frame was accepted (or after :meth:`clear`)."""
        return not self._views

    def key_views(self) -> list[KeyView]:
        """The kept views, oldest first."""
        return list(self._views.values())

    def key_view(self, view_id: int) -> KeyView | None:
        """A kept view by id, or None when unknown or evicted."""
        return self._views.get(view_id)

    def cloud(self) -> o3d.geometry.PointCloud:
        """The fused cloud (odom frame) on the memory's voxel grid (a copy the caller may change)."""
        if self._fused is None:
            merged = open3d_module().geometry.PointCloud()
            for chunk in self._chunks.values():
                merged += chunk
            self._fused = merged.voxel_down_sample(self.config.voxel_size_m) if len(merged.points) else merged
        return open3d_module().geometry.PointCloud(self._fused)

    def points(self) -> NDArray[np.float64]:
        """The fused points, (N, 3) odom frame."""
        return np.asarray(self.cloud().points)

    def stats(self) -> dict[str, int]:
        """Counters for status messages."""
        return {"key_views": len(self._views), "points": len(self.points()), "frames_accepted": self.frames_accepted,
                "frames_refused": self.frames_refused, "views_evicted": self.views_evicted}


def look_at(eye: Any, target: Any, up: Any = (0.0, 0.0, 1.0)) -> NDArray[np.float64]:
    """``odom_T_camera`` (optical frame: z forward, x right, y down) for a camera at ``eye`` looking at ``target``."""
    e, t, u = (np.asarray(v, dtype=float) for v in (eye, target, up))
    z = t - e
    z /= np.linalg.norm(z)
    x = np.cross(z, u)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, y, z, e
    return pose


__all__ = ["CameraIntrinsics", "Frame", "FrameResult", "KeyView", "MemoryConfig", "SceneMemory", "frame_problem",
           "look_at"]
