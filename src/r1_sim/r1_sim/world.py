"""The embedded MuJoCo simulator: one velocity-driven robot in a procedural indoor scene.

Frames (REP-103/105): the world frame is x east, y north, z up; the simulator's odometry frame
*is* the world frame (odometry is perfect and starts at the episode's start pose, so poses
compare directly with episode goals).  ``pose()`` is base_link in that frame; ``twist()`` is in
base_link (x forward, y left, z up).  Images come from the URDF's ``camera_color_optical_frame``
(z forward, x right, y down); the right stereo camera is ``camera_right_optical_frame``, the same
intrinsics, displaced by the baseline along the optical x axis (a rectified pair by construction).
Depth is the z distance along the optical axis in metres (the ROS ``32FC1`` convention).

Rendering uses ``MUJOCO_GL=egl`` when nothing else is set (Mesa llvmpipe on the CPU here),
with shadows off because they cost ~90% of a render.

Threading: a Simulator is not thread-safe; one thread owns it (the bridge node's timer).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Protocol

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # MUJOCO_GL must be set before this import
import numpy as np
from numpy.typing import NDArray

from r1_core.geometry import wrap_angle
from r1_core.params import param, validate_params
from r1_core.reasoner import Pose2D
from r1_sim.mjcf import CAMERA_LEFT, CAMERA_RIGHT, LEFT_FRAME, RIGHT_FRAME, build_mjcf
from r1_sim.robots import RobotBody, load_robot_body, robot_profile
from r1_sim.scene import Scene


@dataclass(frozen=True)
class SimConfig:
    """Simulator settings (also the bridge node's parameters)."""

    # Image width of colour, depth and stereo renders.
    width: int = param(320, "Rendered image width [px]", min=16, max=1920)
    # Image height of colour, depth and stereo renders.
    height: int = param(240, "Rendered image height [px]", min=16, max=1080)
    # Vertical field of view (RealSense D435 colour is ~42 deg, D455 ~65 deg).
    fovy_deg: float = param(60.0, "Vertical field of view of the head cameras [deg]", min=10.0, max=150.0)
    # MuJoCo integration step; the base actuators are stiff, implicitfast keeps 5 ms stable.
    physics_dt: float = param(0.005, "Physics time step [s]", min=0.0005, max=0.02)
    # How often the bridge renders and publishes images (odometry goes out every step).
    camera_rate_hz: float = param(10.0, "Camera render/publish rate [Hz]", min=0.1, max=120.0)
    # Depth beyond this is reported as 0 (invalid), as real RGB-D drivers do.
    max_depth_m: float = param(10.0, "Maximum valid depth [m]; farther pixels become 0", min=0.5, max=60.0)

    def __post_init__(self) -> None:
        validate_params(self)


#: Contacts with one obstacle closer together than this count as one collision [s].
COLLISION_DEBOUNCE_S = 0.5



class Simulator:
    """A MuJoCo world with one robot (``dog``, ``uav`` or ``wheeled``) driven by body-frame velocities."""

    def __init__(self, robot: str, scene: Scene, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.profile = robot_profile(robot)
        self.robot = robot
        self.scene = scene
        self.body: RobotBody = load_robot_body(robot)
        xml = build_mjcf(scene, self.body, self.profile, fovy_deg=self.config.fovy_deg,
                         timestep=self.config.physics_dt, max_width=max(self.config.width, 640),
                         max_height=max(self.config.height, 480))
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._qx = m.jnt_qposadr[m.joint("base_x").id]
        self._qy = m.jnt_qposadr[m.joint("base_y").id]
        self._qyaw = m.jnt_qposadr[m.joint("base_yaw").id]
        self._qz = m.jnt_qposadr[m.joint("base_z").id] if self.profile.flies else -1
        self._dx, self._dy, self._dyaw = (m.jnt_dofadr[m.joint(n).id] for n in ("base_x", "base_y", "base_yaw"))
        self._dz = m.jnt_dofadr[m.joint("base_z").id] if self.profile.flies else -1
        self._robot_body = m.body("robot").id
        self._z0 = float(m.body_pos[self._robot_body][2])
        self._robot_geoms = {g for g in range(m.ngeom) if m.geom_bodyid[g] == self._robot_body
                             and m.geom_contype[g] & 1}
        self._obstacle_geoms = {g for g in range(m.ngeom) if m.geom_bodyid[g] == 0 and m.geom_contype[g] & 1}
        self._touching: set[int] = set()
        self._last_touch: dict[int, float] = {}
        self.collisions = 0
        self._target = np.zeros(4)  # commanded body-frame (vx, vy, vz, wz)
        self._cmd = np.zeros(4)  # acceleration-limited command actually sent to the actuators
        self._renderer: mujoco.Renderer | None = None
        self.stereo_baseline_m = float(np.linalg.norm(
            self.body.frames[LEFT_FRAME][:3, 3] - self.body.frames[RIGHT_FRAME][:3, 3]))
        self.reset(Pose2D(0.0, 0.0, 0.0, 1.0 if self.profile.flies else 0.0))

    # -- state -------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        """Simulated time since the last reset [s]."""
        return float(self.data.time)

    def reset(self, start: Pose2D) -> None:
        """Put the robot at ``start`` at rest (``start.z`` is the altitude of a UAV, ignored otherwise)."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._qx] = start.x
        self.data.qpos[self._qy] = start.y
        self.data.qpos[self._qyaw] = start.yaw
        if self.profile.flies:
            lo, hi = self.model.jnt_range[self.model.joint("base_z").id]
            self.data.qpos[self._qz] = float(np.clip(start.z - self._z0, lo, hi))
        self._target[:] = 0.0
        self._cmd[:] = 0.0
        self.collisions = 0
        self._touching = set()
        self._last_touch = {}
        mujoco.mj_forward(self.model, self.data)

    def apply_command(self, vx: float, vy: float = 0.0, vz: float = 0.0, wz: float = 0.0) -> None:
        """Set the body-frame velocity target; clipped to the robot's limits (unsupported axes are 0)."""
        p = self.profile
        vals = (vx, vy, vz, wz)
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"velocity command must be finite, got {vals}")
        self._target[:] = (np.clip(vx, -p.max_vx, p.max_vx), np.clip(vy, -p.max_vy, p.max_vy),
                           np.clip(vz, -p.max_vz, p.max_vz), np.clip(wz, -p.max_wz, p.max_wz))

    def step(self, dt: float) -> None:
        """Advance physics by ``dt`` seconds (whole physics steps), counting new collisions."""
        if not math.isfinite(dt) or dt < 0:
            raise ValueError(f"dt must be a non-negative number of seconds, got {dt}")
        h = self.model.opt.timestep
        n = round(dt / h)
        p = self.profile
        lim = np.array([p.max_accel, p.max_accel, p.max_accel, p.max_yaw_accel]) * h
        ctrl = self.data.ctrl
        for _ in range(n):
            self._cmd += np.clip(self._target - self._cmd, -lim, lim)
            yaw = self.data.qpos[self._qyaw]
            c, s = math.cos(yaw), math.sin(yaw)
            vx, vy, vz, wz = self._cmd
            ctrl[0] = c * vx - s * vy
            ctrl[1] = s * vx + c * vy
            if p.flies:
                ctrl[2] = vz
            ctrl[-1] = wz
            mujoco.mj_step(self.model, self.data)
            self._count_collisions()

    def _count_collisions(self) -> None:
        touching: set[int] = set()
        d = self.data
        for k in range(d.ncon):
            g1, g2 = int(d.contact.geom1[k]), int(d.contact.geom2[k])
            if g1 in self._robot_geoms and g2 in self._obstacle_geoms:
                touching.add(g2)
            elif g2 in self._robot_geoms and g1 in self._obstacle_geoms:
                touching.add(g1)
        # A collision is a new contact with an obstacle, not every step spent touching it; a leg
        # scraping along a sofa makes and breaks contact many times, so contact with the same
        # obstacle within COLLISION_DEBOUNCE_S of the last one continues the same collision.
        now = float(d.time)
        for g in touching - self._touching:
            if now - self._last_touch.get(g, -math.inf) > COLLISION_DEBOUNCE_S:
                self.collisions += 1
        for g in touching:
            self._last_touch[g] = now
        self._touching = touching

    def pose(self) -> Pose2D:
        """base_link in the world (== odom) frame; ``z`` is base_link's height above the floor."""
        q = self.data.qpos
        z = float(self.data.xpos[self._robot_body][2])
        return Pose2D(float(q[self._qx]), float(q[self._qy]), wrap_angle(float(q[self._qyaw])), z)

    def twist(self) -> tuple[float, float, float, float]:
        """Body-frame velocity (vx, vy, vz, wz) of base_link."""
        v = self.data.qvel
        yaw = self.data.qpos[self._qyaw]
        c, s = math.cos(yaw), math.sin(yaw)
        vxw, vyw = float(v[self._dx]), float(v[self._dy])
        vz = float(v[self._dz]) if self.profile.flies else 0.0
        return (c * vxw + s * vyw, -s * vxw + c * vyw, vz, float(v[self._dyaw]))

    # -- cameras -----------------------------------------------------------------------------
    def camera_intrinsics(self) -> NDArray[np.float64]:
        """Pinhole K (3x3) of both head cameras for the configured size (OpenCV pixel centres)."""
        w, h = self.config.width, self.config.height
        f = (h / 2) / math.tan(math.radians(self.config.fovy_deg) / 2)
        return np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])

    def camera_extrinsics(self, right: bool = False) -> NDArray[np.float64]:
        """base_T_camera (4x4): the left/colour (or right) optical frame in base_link, from the URDF."""
        return self.body.frames[RIGHT_FRAME if right else LEFT_FRAME].copy()

    def _render(self, camera: str, depth: bool) -> NDArray[np.uint8] | NDArray[np.float32]:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.config.height, self.config.width)
        r = self._renderer
        r.update_scene(self.data, camera=camera)
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        if depth:
            r.enable_depth_rendering()
            try:
                d = r.render().astype(np.float32, copy=True)
            finally:
                r.disable_depth_rendering()
            d[(d > self.config.max_depth_m) | ~np.isfinite(d)] = 0.0
            return d
        return r.render().copy()

    def render_rgbd(self) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """Colour (H, W, 3) uint8 and aligned depth (H, W) float32 metres from the left/colour camera."""
        rgb = self._render(CAMERA_LEFT, depth=False)
        depth = self._render(CAMERA_LEFT, depth=True)
        return rgb, depth  # type: ignore[return-value]

    def render_stereo(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """A rectified colour pair (left, right), each (H, W, 3) uint8."""
        return self._render(CAMERA_LEFT, False), self._render(CAMERA_RIGHT, False)  # type: ignore[return-value]

    def render_depth(self, right: bool = False) -> NDArray[np.float32]:
        """Ground-truth depth (H, W) float32 metres of the left (or right) camera."""
        return self._render(CAMERA_RIGHT if right else CAMERA_LEFT, True)  # type: ignore[return-value]

    def close(self) -> None:
        """Release the renderer's GL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


BACKENDS: tuple[str, ...] = ("mujoco", "habitat")


class SimBackend(Protocol):
    """What the bridge node needs from a simulator; :class:`Simulator` and the habitat one provide it."""

    config: SimConfig
    collisions: int
    stereo_baseline_m: float

    @property
    def time(self) -> float: ...
    def reset(self, start: Pose2D) -> None: ...
    def apply_command(self, vx: float, vy: float = 0.0, vz: float = 0.0, wz: float = 0.0) -> None: ...
    def step(self, dt: float) -> None: ...
    def pose(self) -> Pose2D: ...
    def twist(self) -> tuple[float, float, float, float]: ...
    def render_rgbd(self) -> tuple[NDArray[np.uint8], NDArray[np.float32]]: ...
    def render_stereo(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]: ...
    def camera_intrinsics(self) -> NDArray[np.float64]: ...
    def camera_extrinsics(self, right: bool = False) -> NDArray[np.float64]: ...
    def close(self) -> None: ...


def make_simulator(
    backend: str,
    robot: str,
    scene: Scene | None = None,
    config: SimConfig | None = None,
    habitat_scene: str = "",
    habitat_settings: str = "r2r_ce",
) -> SimBackend:
    """A simulator by backend name: ``mujoco`` (needs ``scene``) or ``habitat`` (needs ``habitat_scene``).

    ``habitat_settings`` names VLN-CE's agent and sensor settings for habitat (``r2r_ce`` or ``rxr_ce``).
    """
    if backend == "mujoco":
        if scene is None:
            raise ValueError("backend 'mujoco' needs a scene (r1_sim.scene.load_scene)")
        return Simulator(robot, scene, config)
    if backend == "habitat":
        if not habitat_scene:
            raise ValueError("backend 'habitat' needs habitat_scene: the path of a habitat scene (.glb)")
        from r1_sim.habitat_backend import HabitatSimulator

        return HabitatSimulator(robot, habitat_scene, config, settings=habitat_settings)
    raise ValueError(f"unknown simulator backend '{backend}'; expected one of {', '.join(BACKENDS)}")
