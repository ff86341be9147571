"""The simulator interface on habitat-sim: scenes from a path, an RGB-D + stereo agent, velocity control.

NOT RUN HERE: habitat-sim is not installable in this environment (conda/GPU build), so
:class:`HabitatSimulator` has never been executed against a real habitat-sim.  It is written
against habitat-sim's documented API (``SimulatorConfiguration``, ``agent.AgentConfiguration``,
``agent.ActionSpec``/``ActuationSpec``, ``CameraSensorSpec``, ``nav.PathFinder``,
``nav.ShortestPath``, ``physics.VelocityControl.integrate_transform``, ``Simulator.step_filter``
as in the "continuous control" tutorial).  The frame conversions (:mod:`r1_sim.habitat_frame`),
intrinsics, settings, the command handling and the import error are tested in
tests/sim/test_habitat_backend.py, the simulator itself against a fake ``habitat_sim`` module
that implements the small API surface used here.

Defaults are VLN-CE's agent and sensors (:data:`VLNCE_SETTINGS`, from VLN-CE's
``habitat_extensions/config/vlnce_task.yaml`` and ``rxr_vlnce_english_task.yaml`` over
habitat-lab's defaults), not our robots' cameras: the point of this backend is comparing with
published R2R-CE / RxR-CE numbers.  The agent node sits on the floor (navmesh); base_link is
``ground_clearance`` above it and a UAV's altitude is added to that.  An episode's start height
picks the floor: the start is snapped to the navmesh at that height, not at 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Pose2D
from r1_sim.habitat_frame import (
    body_twist_to_habitat,
    habitat_quat_to_yaw,
    habitat_to_world,
    optical_frame_in_base,
    world_to_habitat,
    yaw_to_habitat_quat,
)
from r1_sim.robots import RobotBody, load_robot_body, robot_profile
from r1_sim.world import SimConfig
from r1_sim.world import make_simulator as make_simulator  # the factory, re-exported for callers here

INSTALL_HINT = (
    "the habitat backend needs habitat-sim, which pip cannot install here: "
    "`conda install habitat-sim -c conda-forge -c aihabitat` (see docs); or use backend 'mujoco'"
)


@dataclass(frozen=True)
class HabitatSettings:
    """A VLN-CE task's agent and sensor settings (the config key each comes from is in the comment)."""

    name: str
    # SIMULATOR.RGB_SENSOR.WIDTH / HEIGHT; depth is rendered at the same size (same camera, aligned).
    width: int
    height: int
    # SIMULATOR.RGB_SENSOR.HFOV [deg]
    hfov_deg: float
    # SIMULATOR.RGB_SENSOR.POSITION[1]: camera height above the agent's floor point [m]
    camera_height_m: float
    # SIMULATOR.AGENT_0.HEIGHT / RADIUS [m] (the navmesh agent)
    agent_height_m: float
    agent_radius_m: float
    # SIMULATOR.FORWARD_STEP_SIZE [m] and TURN_ANGLE [deg]: the discrete actions
    forward_step_m: float
    turn_angle_deg: float
    # ENVIRONMENT.MAX_EPISODE_STEPS
    max_episode_steps: int
    # SIMULATOR.HABITAT_SIM_V0.ALLOW_SLIDING
    allow_sliding: bool
    # SIMULATOR.DEPTH_SENSOR.MIN_DEPTH / MAX_DEPTH [m]
    depth_min_m: float
    depth_max_m: float

    def __post_init__(self) -> None:
        for name in ("width", "height", "max_episode_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"HabitatSettings.{name} must be >= 1, got {getattr(self, name)}")
        if not 1.0 <= self.hfov_deg < 180.0:
            raise ValueError(f"HabitatSettings.hfov_deg must be in [1, 180), got {self.hfov_deg}")
        for name in ("camera_height_m", "agent_height_m", "agent_radius_m", "forward_step_m", "turn_angle_deg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HabitatSettings.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.depth_min_m < self.depth_max_m:
            raise ValueError(f"HabitatSettings depth range must have 0 <= min < max, got "
                             f"[{self.depth_min_m}, {self.depth_max_m}]")

    @property
    def vfov_deg(self) -> float:
        """The vertical field of view of the square-pixel camera."""
        return math.degrees(2 * math.atan(math.tan(math.radians(self.hfov_deg) / 2) * self.height / self.width))


#: VLN-CE's task settings. R2R-CE: vlnce_task.yaml (RGB 224x224, HFOV 90, forward 0.25 m, turn 15 deg,
#: 500 steps, sliding) over habitat-lab's defaults (sensor at 1.25 m, agent 1.5 m x 0.1 m, depth 0-10 m;
#: VLN-CE's depth sensor is 256x256 with the same HFOV and position). RxR-CE: rxr_vlnce_*_task.yaml
#: (640x480, HFOV 79, sensors and agent height 0.88 m, radius 0.18 m, turn 30 deg, no sliding, depth 0.5-5 m).
VLNCE_SETTINGS: dict[str, HabitatSettings] = {
    "r2r_ce": HabitatSettings("r2r_ce", 224, 224, 90.0, 1.25, 1.5, 0.1, 0.25, 15.0, 500, True, 0.0, 10.0),
    "rxr_ce": HabitatSettings("rxr_ce", 640, 480, 79.0, 0.88, 0.88, 0.18, 0.25, 30.0, 500, False, 0.5, 5.0),
}


def import_habitat() -> Any:
    """Import habitat_sim, or raise ImportError with install instructions."""
    try:
        import habitat_sim
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return habitat_sim


def navmesh_geodesic(navmesh_path: str) -> Callable[[NDArray[np.float64], NDArray[np.float64]], float]:
    """Geodesic distance between two habitat-frame points on a ``.navmesh`` (habitat_sim.nav.PathFinder)."""
    hs = import_habitat()
    finder = hs.nav.PathFinder()
    if not finder.load_nav_mesh(navmesh_path) or not finder.is_loaded:
        raise ValueError(f"habitat-sim could not load the navigation mesh {navmesh_path!r}")

    def geodesic(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
        path = hs.nav.ShortestPath()
        path.requested_start = np.asarray(a, dtype=np.float32)
        path.requested_end = np.asarray(b, dtype=np.float32)
        return float(path.geodesic_distance) if finder.find_path(path) else math.inf

    return geodesic

def intrinsics_from_hfov(width: int, height: int, hfov_deg: float) -> NDArray[np.float64]:
    """Pinhole K of a habitat camera (square pixels; habitat specifies the horizontal FOV)."""
    f = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def hfov_from_vfov(vfov_deg: float, width: int, height: int) -> float:
    """The horizontal FOV giving the same square-pixel camera as a vertical FOV (our config's fovy)."""
    return math.degrees(2 * math.atan(math.tan(math.radians(vfov_deg) / 2) * width / height))


def _habitat_configuration(hs: Any, settings: HabitatSettings, scene_path: str, gpu_device_id: int,
                           baseline_m: float) -> tuple[Any, Any]:
    """habitat-sim's (SimulatorConfiguration, AgentConfiguration): VLN-CE's agent, our stereo cameras."""
    specs = []
    for uuid, kind, right_cam in (("color", hs.SensorType.COLOR, False), ("depth", hs.SensorType.DEPTH, False),
                                  ("right", hs.SensorType.COLOR, True),
                                  ("right_depth", hs.SensorType.DEPTH, True)):
        spec = hs.CameraSensorSpec()
        spec.uuid = uuid
        spec.sensor_type = kind
        spec.sensor_subtype = hs.SensorSubType.PINHOLE
        spec.resolution = [settings.height, settings.width]
        # In the agent's local frame (x right, y up, z back), relative to the floor point.
        spec.position = [baseline_m if right_cam else 0.0, settings.camera_height_m, 0.0]
        spec.hfov = settings.hfov_deg
        specs.append(spec)
    sim_cfg = hs.SimulatorConfiguration()
    sim_cfg.scene_id = scene_path
    sim_cfg.gpu_device_id = gpu_device_id
    sim_cfg.enable_physics = False
    sim_cfg.allow_sliding = settings.allow_sliding
    agent_cfg = hs.agent.AgentConfiguration()
    agent_cfg.sensor_specifications = specs
    agent_cfg.height = settings.agent_height_m
    agent_cfg.radius = settings.agent_radius_m
    agent_cfg.action_space = {
        "move_forward": hs.agent.ActionSpec("move_forward", hs.agent.ActuationSpec(amount=settings.forward_step_m)),
        "turn_left": hs.agent.ActionSpec("turn_left", hs.agent.ActuationSpec(amount=settings.turn_angle_deg)),
        "turn_right": hs.agent.ActionSpec("turn_right", hs.agent.ActuationSpec(amount=settings.turn_angle_deg)),
    }
    return sim_cfg, agent_cfg


class HabitatSimulator:
    """The :class:`r1_sim.world.Simulator` interface on habitat-sim (see the module docstring: not run here).

    The cameras are VLN-CE's (``settings``: resolution, HFOV, height above the floor); the right
    stereo camera is the left one moved by the robot's stereo baseline to its right.  ``config``'s
    image size and field of view are replaced by the settings' (``self.config`` reports them).
    """

    def __init__(self, robot: str, scene_path: str, config: SimConfig | None = None, gpu_device_id: int = 0,
                 settings: HabitatSettings | str = "r2r_ce") -> None:
        if isinstance(settings, str):
            if settings not in VLNCE_SETTINGS:
                raise ValueError(f"unknown habitat settings '{settings}'; expected one of {', '.join(VLNCE_SETTINGS)}")
            settings = VLNCE_SETTINGS[settings]
        hs = import_habitat()
        self._hs = hs
        self.settings = settings
        self.config = replace(config or SimConfig(), width=settings.width, height=settings.height,
                              fovy_deg=settings.vfov_deg,
                              max_depth_m=max(0.5, min((config or SimConfig()).max_depth_m, settings.depth_max_m)))
        self.robot = robot
        self.profile = robot_profile(robot)
        self.body: RobotBody = load_robot_body(robot)
        self.scene_path = scene_path
        self._hfov = settings.hfov_deg
        left = self.body.frames["camera_color_optical_frame"]
        right = self.body.frames["camera_right_optical_frame"]
        self.stereo_baseline_m = float(np.linalg.norm(left[:3, 3] - right[:3, 3]))
        # The agent node is on the floor; ground robots carry base_link at their standing height.
        self._base_height = 0.0 if self.profile.flies else self.body.ground_clearance
        cam_z = settings.camera_height_m - self._base_height  # the cameras above base_link
        self._extrinsics = {False: optical_frame_in_base(0.0, 0.0, cam_z),
                            True: optical_frame_in_base(0.0, -self.stereo_baseline_m, cam_z)}
        sim_cfg, agent_cfg = _habitat_configuration(hs, settings, scene_path, gpu_device_id,
                                                    self.stereo_baseline_m)
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

    def floor_query(self, start: Pose2D) -> NDArray[np.float64]:
        """The habitat point snapped to find the start's floor: under base_link, at the start's own height.

        A ground robot's ``start.z`` is base_link's height (floor + ground clearance), so the query
        is the floor itself; for the UAV it is its position (snapping finds the floor below it).
        """
        floor_z = start.z if self.profile.flies else start.z - self._base_height
        return world_to_habitat(start.x, start.y, floor_z)

    def reset(self, start: Pose2D) -> None:
        """Place the agent at ``start`` on the floor at the start's height (snapped to the navmesh) at rest."""
        import magnum as mn
        import quaternion  # habitat's AgentState uses numpy-quaternion

        state = self._hs.AgentState()
        query = self.floor_query(start)
        snapped = np.asarray(self.sim.pathfinder.snap_point(mn.Vector3(*query)), dtype=np.float64)
        if not np.all(np.isfinite(snapped)):
            raise ValueError(f"start ({start.x:.2f}, {start.y:.2f}, {start.z:.2f}) is not near the navmesh of "
                             f"{self.scene_path}")
        state.position = snapped
        state.rotation = quaternion.quaternion(*yaw_to_habitat_quat(start.yaw))
        self.agent.set_state(state)
        self._altitude = max(0.0, start.z - float(snapped[1])) if self.profile.flies else 0.0
        self._target[:] = 0.0
        self._cmd[:] = 0.0
        self._time = 0.0
        self.collisions = 0
        self._twist = (0.0, 0.0, 0.0, 0.0)

    def step_discrete(self, action: str) -> bool:
        """One of VLN-CE's discrete actions (``move_forward``, ``turn_left``, ``turn_right``); True on collision."""
        if action not in ("move_forward", "turn_left", "turn_right"):
            raise ValueError(f"unknown discrete action '{action}'; expected move_forward, turn_left or turn_right")
        collided = bool(self.agent.act(action))
        self.collisions += int(collided)
        return collided

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
        """base_T_camera of the left/colour (or right) optical frame: VLN-CE's camera height, the robot's baseline."""
        return self._extrinsics[right].copy()

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
        depth[(depth > self.config.max_depth_m) | (depth < self.settings.depth_min_m) | ~np.isfinite(depth)] = 0.0
        return np.ascontiguousarray(np.asarray(obs["color"])[:, :, :3]), depth

    def render_depth(self, right: bool = False) -> NDArray[np.float32]:
        """Ground-truth depth (H, W) float32 metres of the left (or right) camera."""
        depth = np.asarray(self._observe()["right_depth" if right else "depth"], dtype=np.float32)
        depth[(depth > self.config.max_depth_m) | (depth < self.settings.depth_min_m) | ~np.isfinite(depth)] = 0.0
        return depth

    def render_stereo(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """A rectified colour pair (left, right) from two parallel sensors one baseline apart."""
        obs = self._observe()
        return (np.ascontiguousarray(np.asarray(obs["color"])[:, :, :3]),
                np.ascontiguousarray(np.asarray(obs["right"])[:, :, :3]))

    def close(self) -> None:
        """Release habitat's renderer."""
        self.sim.close()
