"""The simulator interface on habitat-sim: scenes from a path, an RGB-D + stereo agent, velocity control.

NOT RUN HERE: habitat-sim is not installable in this environment (conda/GPU build), so
:class:`HabitatSimulator` has never been executed against a real habitat-sim.  It is written
against habitat-sim's documented API (``SimulatorConfiguration``, ``agent.AgentConfiguration``,
``CameraSensorSpec``, ``physics.VelocityControl.integrate_transform``, ``Simulator.step_filter``
as in the "continuous control" tutorial).  The frame conversions, intrinsics, the command
handling and the import error are pure functions tested in tests/sim/test_habitat_backend.py.

Frames: habitat's world is y-up with the agent looking along its local -z; ours is REP-103
(x forward, y left, z up).  World (X, Y, Z) maps to habitat (X, Z, -Y); our yaw psi is habitat's
rotation about +y by ``psi - pi/2``.  The agent node sits on the floor (navmesh); a UAV's altitude
is added to the node's y.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Pose2D
from r1_sim.robots import RobotBody, load_robot_body, robot_profile
from r1_sim.world import SimConfig
from r1_sim.world import make_simulator as make_simulator  # the factory, re-exported for callers here

INSTALL_HINT = (
    "the habitat backend needs habitat-sim, which pip cannot install here: "
    "`conda install habitat-sim -c conda-forge -c aihabitat` (see docs); or use backend 'mujoco'"
)


def import_habitat() -> Any:
    """Import habitat_sim, or raise ImportError with install instructions."""
    try:
        import habitat_sim
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return habitat_sim


def world_to_habitat(x: float, y: float, z: float) -> NDArray[np.float64]:
    """A REP-103 world point (z up) in habitat's y-up world frame."""
    return np.array([x, z, -y], dtype=np.float64)


def habitat_to_world(p: NDArray[np.float64]) -> tuple[float, float, float]:
    """A habitat world point back in our z-up world frame."""
    return (float(p[0]), float(-p[2]), float(p[1]))


def yaw_to_habitat_quat(yaw: float) -> NDArray[np.float64]:
    """Our yaw as a habitat rotation quaternion (w, x, y, z) about +y."""
    theta = yaw - math.pi / 2
    return np.array([math.cos(theta / 2), 0.0, math.sin(theta / 2), 0.0])


def habitat_quat_to_yaw(q: NDArray[np.float64]) -> float:
    """Our yaw from a habitat (w, x, y, z) quaternion (its rotation about +y)."""
    w, x, y, z = (float(v) for v in q)
    # Forward (local -z) rotated into the world, then mapped to our frame.
    fx = -2 * (x * z + w * y)
    fz = -(1 - 2 * (x * x + y * y))
    return math.atan2(fz * -1.0, fx)


def body_twist_to_habitat(
    vx: float, vy: float, vz: float, wz: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Body-frame (x fwd, y left, z up) velocities as habitat local linear/angular velocities."""
    return np.array([-vy, vz, -vx]), np.array([0.0, wz, 0.0])


def body_to_habitat_local(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """A point in base_link (x fwd, y left, z up) in the agent's local frame (x right, y up, z back)."""
    return np.array([-p[1], p[2], -p[0]])


def intrinsics_from_hfov(width: int, height: int, hfov_deg: float) -> NDArray[np.float64]:
    """Pinhole K of a habitat camera (square pixels; habitat specifies the horizontal FOV)."""
    f = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def hfov_from_vfov(vfov_deg: float, width: int, height: int) -> float:
    """The horizontal FOV giving the same square-pixel camera as a vertical FOV (our config's fovy)."""
    return math.degrees(2 * math.atan(math.tan(math.radians(vfov_deg) / 2) * width / height))


class HabitatSimulator:
    """The :class:`r1_sim.world.Simulator` interface on habitat-sim (see the module docstring: not run here)."""

    def __init__(self, robot: str, scene_path: str, config: SimConfig | None = None, gpu_device_id: int = 0) -> None:
        hs = import_habitat()
        self._hs = hs
        self.config = config or SimConfig()
        self.robot = robot
        self.profile = robot_profile(robot)
        self.body: RobotBody = load_robot_body(robot)
        self.scene_path = scene_path
        w, h = self.config.width, self.config.height
        self._hfov = hfov_from_vfov(self.config.fovy_deg, w, h)
        left = self.body.frames["camera_color_optical_frame"]
        right = self.body.frames["camera_right_optical_frame"]
        self.stereo_baseline_m = float(np.linalg.norm(left[:3, 3] - right[:3, 3]))
        # The agent node is on the floor; ground robots carry base_link at their standing height.
        self._base_height = 0.0 if self.profile.flies else self.body.ground_clearance
        specs = []
        for uuid, kind, frame in (("color", hs.SensorType.COLOR, left), ("depth", hs.SensorType.DEPTH, left),
                                  ("right", hs.SensorType.COLOR, right),
                                  ("right_depth", hs.SensorType.DEPTH, right)):
            spec = hs.CameraSensorSpec()
            spec.uuid = uuid
            spec.sensor_type = kind
            spec.sensor_subtype = hs.SensorSubType.PINHOLE
            spec.resolution = [h, w]
            pos = body_to_habitat_local(frame[:3, 3])
            pos[1] += self._base_height
            spec.position = pos.tolist()
            spec.hfov = self._hfov
            specs.append(spec)
        sim_cfg = hs.SimulatorConfiguration()
        sim_cfg.scene_id = scene_path
        sim_cfg.gpu_device_id = gpu_device_id
        sim_cfg.enable_physics = False
        agent_cfg = hs.agent.AgentConfiguration()
        agent_cfg.sensor_specifications = specs
        agent_cfg.radius = self.profile.radius
        self.sim = hs.Simulator(hs.Configuration(sim_cfg, [agent_cfg]))
        self.agent = self.sim.initialize_agent(0)
        self._vel = hs.physics.VelocityControl()
        self._vel.controlling_lin_vel = True
        self._vel.controlling_ang_vel = True
        self._vel.lin_vel_is_local = True
        self._vel.ang_vel_is_local = True
        self._target = np.zeros(4)
        self._cmd = np.zeros(4)
        self._time = 0.0
        self._altitude = 0.0
        self.collisions = 0
        self._twist = (0.0, 0.0, 0.0, 0.0)

    @property
    def time(self) -> float:
        """Simulated time since the last reset [s]."""
        return self._time

    def reset(self, start: Pose2D) -> None:
        """Place the agent at ``start`` (snapped to the navmesh by habitat) at rest."""
        import magnum as mn
        import quaternion  # habitat's AgentState uses numpy-quaternion

        state = self._hs.AgentState()
        floor = world_to_habitat(start.x, start.y, 0.0)
        state.position = np.asarray(self.sim.pathfinder.snap_point(mn.Vector3(*floor)))
        state.rotation = quaternion.quaternion(*yaw_to_habitat_quat(start.yaw))
        self.agent.set_state(state)
        self._altitude = start.z if self.profile.flies else 0.0
        self._target[:] = 0.0
        self._cmd[:] = 0.0
        self._time = 0.0
        self.collisions = 0
        self._twist = (0.0, 0.0, 0.0, 0.0)

    def apply_command(self, vx: float, vy: float = 0.0, vz: float = 0.0, wz: float = 0.0) -> None:
        """Set the body-frame velocity target, clipped to the robot's limits."""
        p = self.profile
        if not all(math.isfinite(v) for v in (vx, vy, vz, wz)):
            raise ValueError(f"velocity command must be finite, got {(vx, vy, vz, wz)}")
        self._target[:] = (np.clip(vx, -p.max_vx, p.max_vx), np.clip(vy, -p.max_vy, p.max_vy),
                           np.clip(vz, -p.max_vz, p.max_vz), np.clip(wz, -p.max_wz, p.max_wz))

    def step(self, dt: float) -> None:
        """Integrate the (acceleration-limited) command for ``dt`` and slide along the navmesh."""
        import magnum as mn
        import quaternion

        n = max(1, round(dt / self.config.physics_dt))
        h = dt / n
        p = self.profile
        lim = np.array([p.max_accel, p.max_accel, p.max_accel, p.max_yaw_accel]) * h
        for _ in range(n):
            self._cmd += np.clip(self._target - self._cmd, -lim, lim)
            lin, ang = body_twist_to_habitat(*self._cmd)
            lin[1] = 0.0  # altitude is tracked separately: the node stays on the navmesh
            self._vel.linear_velocity = mn.Vector3(*lin)
            self._vel.angular_velocity = mn.Vector3(*ang)
            state = self.agent.get_state()
            q = state.rotation
            prev = self._hs.RigidState(mn.Quaternion(mn.Vector3(q.x, q.y, q.z), q.w), mn.Vector3(*state.position))
            nxt = self._vel.integrate_transform(h, prev)
            end = self.sim.step_filter(prev.translation, nxt.translation)
            wanted = (nxt.translation - prev.translation).length()
            got = (end - prev.translation).length()
            if got + 1e-5 < wanted:
                self.collisions += 1
            state.position = np.array([end.x, end.y, end.z])
            r = nxt.rotation
            state.rotation = quaternion.quaternion(r.scalar, *r.vector)
            self.agent.set_state(state)
            if p.flies:
                self._altitude = float(np.clip(self._altitude + self._cmd[2] * h, 0.15, 3.0))
            self._time += h
        self._twist = (float(self._cmd[0]), float(self._cmd[1]), float(self._cmd[2]) if p.flies else 0.0,
                       float(self._cmd[3]))

    def pose(self) -> Pose2D:
        """base_link in the world frame (habitat's frame converted to REP-103)."""
        state = self.agent.get_state()
        x, y, z = habitat_to_world(np.asarray(state.position))
        q = state.rotation
        yaw = habitat_quat_to_yaw(np.array([q.w, q.x, q.y, q.z]))
        return Pose2D(x, y, yaw, z + self._base_height + self._altitude)

    def twist(self) -> tuple[float, float, float, float]:
        """Body-frame velocity (the integrated command; habitat has no dynamics here)."""
        return self._twist

    def camera_intrinsics(self) -> NDArray[np.float64]:
        """Pinhole K of the colour, depth and right cameras."""
        return intrinsics_from_hfov(self.config.width, self.config.height, self._hfov)

    def camera_extrinsics(self, right: bool = False) -> NDArray[np.float64]:
        """base_T_camera of the left/colour (or right) optical frame, from the URDF."""
        return self.body.frames["camera_right_optical_frame" if right else "camera_color_optical_frame"].copy()

    def _observe(self) -> dict[str, Any]:
        if self.profile.flies:  # lift the sensors by the altitude for this render
            node = self.agent.scene_node
            node.translate(np.array([0.0, self._altitude, 0.0]))
            try:
                return dict(self.sim.get_sensor_observations())
            finally:
                node.translate(np.array([0.0, -self._altitude, 0.0]))
        return dict(self.sim.get_sensor_observations())

    def render_rgbd(self) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """Colour (H, W, 3) uint8 and depth (H, W) float32 metres (habitat depth is z-depth)."""
        obs = self._observe()
        depth = np.asarray(obs["depth"], dtype=np.float32)
        depth[(depth > self.config.max_depth_m) | ~np.isfinite(depth)] = 0.0
        return np.ascontiguousarray(np.asarray(obs["color"])[:, :, :3]), depth

    def render_depth(self, right: bool = False) -> NDArray[np.float32]:
        """Ground-truth depth (H, W) float32 metres of the left (or right) camera."""
        depth = np.asarray(self._observe()["right_depth" if right else "depth"], dtype=np.float32)
        depth[(depth > self.config.max_depth_m) | ~np.isfinite(depth)] = 0.0
        return depth

    def render_stereo(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """A rectified colour pair (left, right) from two parallel sensors one baseline apart."""
        obs = self._observe()
        return (np.ascontiguousarray(np.asarray(obs["color"])[:, :, :3]),
                np.ascontiguousarray(np.asarray(obs["right"])[:, :, :3]))

    def close(self) -> None:
        """Release habitat's renderer."""
        self.sim.close()
