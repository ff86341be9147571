"""A fake ``habitat_sim`` (+ ``magnum``, ``quaternion``): the small API surface HabitatSimulator uses.

Installed only into ``sys.modules`` by tests (monkeypatch), never on the import path otherwise.
The "scene" is two flat floors, at habitat y = 0 and y = 3.0, walkable for x < 5 (a wall at x = 5);
``snap_point`` drops a point onto the floor nearest its height.  Rotations are numpy quaternions
(w, x, y, z); ``integrate_transform`` integrates local velocities as habitat's VelocityControl does.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np

FLOORS = (0.0, 3.0)
WALL_X = 5.0


# -- magnum ------------------------------------------------------------------------------------
class Vector3:
    def __init__(self, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> None:
        self.x, self.y, self.z = float(x), float(y), float(z)

    def __iter__(self):  # np.asarray(Vector3) works, as it does for magnum's
        return iter((self.x, self.y, self.z))

    def __sub__(self, o: Vector3) -> Vector3:
        return Vector3(self.x - o.x, self.y - o.y, self.z - o.z)

    def length(self) -> float:
        return math.sqrt(self.x ** 2 + self.y ** 2 + self.z ** 2)


class MnQuaternion:
    def __init__(self, vector: Vector3, scalar: float) -> None:
        self.vector, self.scalar = vector, float(scalar)


# -- numpy-quaternion -----------------------------------------------------------------------------
class Quat:
    def __init__(self, w: float, x: float, y: float, z: float) -> None:
        self.w, self.x, self.y, self.z = float(w), float(x), float(y), float(z)


def _rotate(q: tuple[float, float, float, float], v: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                  [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                  [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    return r @ v


# -- habitat_sim -----------------------------------------------------------------------------------
class _Attrs:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        for k, v in kwargs.items():
            setattr(self, k, v)


class AgentState:
    def __init__(self) -> None:
        self.position = np.zeros(3)
        self.rotation = Quat(1, 0, 0, 0)


class RigidState:
    def __init__(self, rotation: MnQuaternion, translation: Vector3) -> None:
        self.rotation, self.translation = rotation, translation


class VelocityControl:
    def __init__(self) -> None:
        self.linear_velocity = Vector3()
        self.angular_velocity = Vector3()

    def integrate_transform(self, dt: float, s: RigidState) -> RigidState:
        assert self.lin_vel_is_local and self.ang_vel_is_local  # what HabitatSimulator sets
        q = (s.rotation.scalar, s.rotation.vector.x, s.rotation.vector.y, s.rotation.vector.z)
        step = _rotate(q, np.array(list(self.linear_velocity)) * dt)
        t = s.translation
        # Yaw-only agents: turn about +y by angular_velocity.y * dt.
        theta = 2 * math.atan2(q[2], q[0]) + self.angular_velocity.y * dt
        rot = MnQuaternion(Vector3(0.0, math.sin(theta / 2), 0.0), math.cos(theta / 2))
        return RigidState(rot, Vector3(t.x + step[0], t.y + step[1], t.z + step[2]))


class PathFinder:
    def __init__(self) -> None:
        self.is_loaded = False
        self.snap_queries: list[tuple[float, float, float]] = []

    def load_nav_mesh(self, path: str) -> bool:
        self.is_loaded = path.endswith(".navmesh")
        return self.is_loaded

    def snap_point(self, p: Vector3) -> np.ndarray:
        self.snap_queries.append((p.x, p.y, p.z))
        floor = min(FLOORS, key=lambda f: abs(f - p.y))
        return np.array([min(p.x, WALL_X), floor, p.z], dtype=np.float32)

    def find_path(self, path: ShortestPath) -> bool:
        a, b = np.asarray(path.requested_start, float), np.asarray(path.requested_end, float)
        if a[0] > WALL_X or b[0] > WALL_X:
            return False
        # A staircase at x = 0 joins the floors: the geodesic goes by it when the floors differ.
        if abs(a[1] - b[1]) > 1.0:
            stair_a, stair_b = np.array([0.0, a[1], 0.0]), np.array([0.0, b[1], 0.0])
            path.geodesic_distance = float(np.linalg.norm(a - stair_a) + abs(a[1] - b[1])
                                           + np.linalg.norm(stair_b - b))
        else:
            path.geodesic_distance = float(np.linalg.norm(a - b))
        return True


class ShortestPath:
    def __init__(self) -> None:
        self.requested_start = np.zeros(3)
        self.requested_end = np.zeros(3)
        self.geodesic_distance = math.inf


class SceneNode:
    def __init__(self) -> None:
        self.offsets: list[np.ndarray] = []

    def translate(self, v: np.ndarray) -> None:
        self.offsets.append(np.asarray(v, float))


class Agent:
    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self._state = AgentState()
        self.scene_node = SceneNode()
        self.acted: list[str] = []

    def get_state(self) -> AgentState:
        s = AgentState()
        s.position = np.array(self._state.position, dtype=np.float64)
        s.rotation = self._state.rotation
        return s

    def set_state(self, state: AgentState) -> None:
        self._state = state

    def act(self, name: str) -> bool:
        self.acted.append(name)
        return name == "move_forward" and float(self._state.position[0]) >= WALL_X


class Simulator:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.pathfinder = PathFinder()
        self.agents: list[Agent] = []
        self.closed = False

    def initialize_agent(self, i: int) -> Agent:
        self.agents.append(Agent(self.config.agents[i]))
        return self.agents[-1]

    def step_filter(self, start: Vector3, end: Vector3) -> Vector3:
        return Vector3(min(end.x, WALL_X), end.y, end.z)

    def get_sensor_observations(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for spec in self.config.agents[0].sensor_specifications:
            h, w = spec.resolution
            out[spec.uuid] = (np.full((h, w, 4), 200, np.uint8) if spec.sensor_type == "COLOR"
                              else np.full((h, w), 2.0, np.float32))
        return out

    def close(self) -> None:
        self.closed = True


class Configuration:
    def __init__(self, sim_cfg: Any, agents: list[Any]) -> None:
        self.sim_cfg, self.agents = sim_cfg, agents


def modules() -> dict[str, types.ModuleType]:
    """The fake ``habitat_sim``, ``magnum`` and ``quaternion`` modules (fresh each call)."""
    hs = types.ModuleType("habitat_sim")
    hs.SensorType = types.SimpleNamespace(COLOR="COLOR", DEPTH="DEPTH")
    hs.SensorSubType = types.SimpleNamespace(PINHOLE="PINHOLE")
    hs.CameraSensorSpec = _Attrs
    hs.SimulatorConfiguration = _Attrs
    hs.Configuration = Configuration
    hs.Simulator = Simulator
    hs.AgentState = AgentState
    hs.RigidState = RigidState
    hs.agent = types.SimpleNamespace(AgentConfiguration=_Attrs, ActionSpec=_Attrs, ActuationSpec=_Attrs)
    hs.physics = types.SimpleNamespace(VelocityControl=VelocityControl)
    hs.nav = types.SimpleNamespace(PathFinder=PathFinder, ShortestPath=ShortestPath)
    mn = types.ModuleType("magnum")
    mn.Vector3 = Vector3
    mn.Quaternion = MnQuaternion
    qt = types.ModuleType("quaternion")
    qt.quaternion = Quat
    return {"habitat_sim": hs, "magnum": mn, "quaternion": qt}
