"""Robot bodies for the simulator, read from the URDFs in r1_description.

The simulator welds every URDF link into one rigid base (legs at a standing configuration,
rotors and wheels at zero), so its collision shapes, mass, inertia and camera frames all come
from the URDF; the base itself is driven by velocity commands (see :mod:`r1_sim.world`).
"""

from __future__ import annotations

import difflib
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from r1_core.robots import MOBILE_ROBOTS
from r1_description import urdf_path

#: The simulator drives every mobile robot of the registry (a profile each, checked below).
SIM_ROBOTS: tuple[str, ...] = MOBILE_ROBOTS


@dataclass(frozen=True)
class RobotProfile:
    """How the simulator drives one robot kind: limits, lag and the standing joint configuration."""

    name: str
    #: Max body-frame speeds: forward/back, lateral, vertical (m/s) and yaw rate (rad/s).
    max_vx: float
    max_vy: float
    max_vz: float
    max_wz: float
    #: Acceleration limits applied to commands (m/s^2, rad/s^2).
    max_accel: float
    max_yaw_accel: float
    #: Time constant (s) of the stiff velocity actuators (the lag of the base behind a command).
    tau: float
    #: Planning radius (m) for the navigation map: the footprint radius at the stance plus a margin
    #: (the dog's calves reach 0.45 m from its centre).
    radius: float
    flies: bool = False
    #: Joint angles (rad) of the standing pose; joints not named stay at zero.
    stance: tuple[tuple[str, float], ...] = ()


PROFILES: dict[str, RobotProfile] = {
    "dog": RobotProfile("dog", 1.0, 0.5, 0.0, 1.5, 1.5, 4.0, 0.08, 0.47,
                        stance=tuple((f"{leg}_{j}_joint", a) for leg in ("FL", "FR", "RL", "RR")
                                     for j, a in (("thigh", 0.8), ("calf", -1.5)))),
    "uav": RobotProfile("uav", 1.0, 1.0, 0.6, 1.5, 2.0, 4.0, 0.15, 0.35, flies=True),
    "wheeled": RobotProfile("wheeled", 0.8, 0.0, 0.0, 1.5, 1.2, 4.0, 0.10, 0.38),
}


if tuple(PROFILES) != SIM_ROBOTS:
    raise RuntimeError(f"simulator profiles {tuple(PROFILES)} differ from r1_core.robots {SIM_ROBOTS}")


class RobotError(ValueError):
    """An unknown robot name or an unreadable URDF."""


def robot_profile(robot: str) -> RobotProfile:
    """The profile of a simulated robot; :class:`RobotError` lists the valid names."""
    if robot not in PROFILES:
        near = difflib.get_close_matches(robot, list(PROFILES), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise RobotError(f"unknown robot '{robot}'{hint}; the simulator supports {', '.join(SIM_ROBOTS)}")
    return PROFILES[robot]


@dataclass(frozen=True)
class Geom:
    """One URDF shape placed in base_link: kind box/cylinder/sphere, ``size`` per MuJoCo (half sizes)."""

    kind: str
    size: tuple[float, ...]
    pose: NDArray[np.float64]
    rgba: tuple[float, float, float, float]
    link: str


@dataclass(frozen=True)
class RobotBody:
    """A robot welded at its stance: shapes, mass properties and named frames, all in base_link."""

    name: str
    mass: float
    com: NDArray[np.float64]
    inertia: NDArray[np.float64]  # 3x3 about the centre of mass, base_link axes
    visuals: tuple[Geom, ...]
    collisions: tuple[Geom, ...]
    frames: dict[str, NDArray[np.float64]]  # link name -> base_T_link (4x4)
    joint_limits: dict[str, tuple[float, float]]

    @property
    def footprint_radius(self) -> float:
        """Largest horizontal distance of any collision shape from base_link's z axis [m]."""
        out = 0.0
        for g in self.collisions:
            r, c = g.pose[:3, :3], g.pose[:3, 3]
            if g.kind == "box":
                corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T * np.asarray(g.size)
                pts = c + corners @ r.T
            else:  # sphere or cylinder: sample the rim (a sphere as its equator)
                a = np.linspace(0, 2 * math.pi, 32, endpoint=False)
                half = g.size[1] if g.kind == "cylinder" else 0.0
                local = np.concatenate([np.stack([g.size[0] * np.cos(a), g.size[0] * np.sin(a), np.full(32, h)], 1)
                                        for h in (-half, half)])
                pts = c + local @ (r.T if g.kind == "cylinder" else np.eye(3))
            out = max(out, float(np.hypot(pts[:, 0], pts[:, 1]).max()))
        return out

    @property
    def ground_clearance(self) -> float:
        """Height of base_link above the lowest collision point (so feet/wheels touch the floor)."""
        return -min(_lowest_z(g) for g in self.collisions)


def rpy_matrix(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """URDF's fixed-axis roll-pitch-yaw as a rotation matrix (Rz @ Ry @ Rx)."""
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch),
                              math.cos(yaw), math.sin(yaw))
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def _origin(el: ET.Element | None) -> NDArray[np.float64]:
    t = np.eye(4)
    if el is not None:
        xyz = [float(v) for v in el.get("xyz", "0 0 0").split()]
        rpy = [float(v) for v in el.get("rpy", "0 0 0").split()]
        t[:3, :3] = rpy_matrix(*rpy)
        t[:3, 3] = xyz
    return t


def _axis_angle(axis: NDArray[np.float64], angle: float) -> NDArray[np.float64]:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = np.eye(4)
    t[:3, :3] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
    return t


def _lowest_z(g: Geom) -> float:
    r = g.pose[:3, :3]
    z = g.pose[2, 3]
    if g.kind == "sphere":
        return z - g.size[0]
    if g.kind == "box":
        return z - float(np.abs(r[2, :]) @ np.asarray(g.size))
    # cylinder: radius g.size[0], half length g.size[1], axis = local z
    axis_z = abs(r[2, 2])
    return z - (g.size[1] * axis_z + g.size[0] * math.sqrt(max(0.0, 1 - axis_z**2)))


def _shape(link_el: ET.Element, tag: str, urdf: Path) -> list[tuple[str, tuple[float, ...], NDArray[np.float64]]]:
    out = []
    for el in link_el.findall(tag):
        geo = el.find("geometry")
        if geo is None or len(geo) == 0:
            raise RobotError(f"{urdf}: link '{link_el.get('name')}' has a {tag} without geometry")
        g = geo[0]
        if g.tag == "box":
            size = tuple(float(v) / 2 for v in g.get("size", "").split())
        elif g.tag == "cylinder":
            size = (float(g.get("radius", "0")), float(g.get("length", "0")) / 2)
        elif g.tag == "sphere":
            size = (float(g.get("radius", "0")),)
        else:
            continue  # meshes are not used by our URDFs
        out.append((g.tag, size, _origin(el.find("origin"))))
    return out


Mat4 = NDArray[np.float64]


def _joint_tree(root: ET.Element, urdf: Path) -> tuple[dict[str, list[ET.Element]], dict[str, tuple[float, float]]]:
    """Joints by parent link and revolute limits; the URDF must be one tree rooted at base_link."""
    links = [el.get("name", "") for el in root.findall("link")]
    children: dict[str, list[ET.Element]] = {}
    limits: dict[str, tuple[float, float]] = {}
    child_links = set()
    for j in root.findall("joint"):
        parent = j.find("parent")
        child = j.find("child")
        if parent is None or child is None:
            raise RobotError(f"{urdf}: joint '{j.get('name')}' lacks a parent or child")
        children.setdefault(parent.get("link", ""), []).append(j)
        child_links.add(child.get("link", ""))
        lim = j.find("limit")
        if lim is not None and j.get("type") == "revolute":
            limits[j.get("name", "")] = (float(lim.get("lower", "0")), float(lim.get("upper", "0")))
    roots = [n for n in links if n not in child_links]
    if roots != ["base_link"]:
        raise RobotError(f"{urdf}: the root link must be base_link, found {roots}")
    return children, limits


def _stance_frames(children: dict[str, list[ET.Element]], stance: dict[str, float]) -> dict[str, Mat4]:
    """Every link's pose in base_link with the joints at the stance angles (others at zero)."""
    frames: dict[str, Mat4] = {"base_link": np.eye(4)}
    stack = ["base_link"]
    while stack:
        name = stack.pop()
        for j in children.get(name, []):
            child_el = j.find("child")
            assert child_el is not None
            child_name = child_el.get("link", "")
            t = frames[name] @ _origin(j.find("origin"))
            angle = stance.get(j.get("name", ""), 0.0)
            if angle:
                axis_el = j.find("axis")
                axis = np.array([float(v) for v in (axis_el.get("xyz", "1 0 0") if axis_el is not None
                                                    else "1 0 0").split()])
                t = t @ _axis_angle(axis, angle)
            frames[child_name] = t
            stack.append(child_name)
    return frames


def _link_inertia(el: ET.Element, t: Mat4) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """A link's mass, centre of mass in base_link and inertia about the base_link origin (parallel axis)."""
    inertial = el.find("inertial")
    if inertial is None:
        return 0.0, np.zeros(3), np.zeros((3, 3))
    m_el = inertial.find("mass")
    i_el = inertial.find("inertia")
    m = float(m_el.get("value", "0")) if m_el is not None else 0.0
    it = _origin(inertial.find("origin"))
    c = (t @ it)[:3, 3]
    r = (t @ it)[:3, :3]
    ii = np.zeros((3, 3))
    if i_el is not None:
        g = {k: float(i_el.get(k, "0")) for k in ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")}
        ii = np.array([[g["ixx"], g["ixy"], g["ixz"]], [g["ixy"], g["iyy"], g["iyz"]],
                       [g["ixz"], g["iyz"], g["izz"]]])
    return m, c, r @ ii @ r.T + m * (float(c @ c) * np.eye(3) - np.outer(c, c))


def _link_rgba(el: ET.Element, materials: dict[str, ET.Element]) -> tuple[float, ...]:
    rgba: tuple[float, ...] = (0.6, 0.6, 0.6, 1.0)
    vis_el = el.find("visual/material")
    if vis_el is not None and vis_el.get("name", "") in materials:
        col = materials[vis_el.get("name", "")].find("color")
        if col is not None:
            rgba = tuple(float(v) for v in col.get("rgba", "0.6 0.6 0.6 1").split())
    return rgba


def load_robot_body(robot: str, urdf: Path | None = None) -> RobotBody:
    """Parse a robot's URDF and weld it at its stance into one body expressed in base_link."""
    profile = robot_profile(robot)
    if urdf is None:
        urdf = urdf_path(robot)
    try:
        root = ET.parse(urdf).getroot()
    except (OSError, ET.ParseError) as exc:
        raise RobotError(f"cannot read URDF {urdf}: {exc}") from exc
    links = {el.get("name", ""): el for el in root.findall("link")}
    children, limits = _joint_tree(root, urdf)
    frames = _stance_frames(children, dict(profile.stance))
    mass = 0.0
    first = np.zeros(3)
    second = np.zeros((3, 3))
    visuals: list[Geom] = []
    collisions: list[Geom] = []
    materials = {m.get("name", ""): m for m in root.iter("material") if m.find("color") is not None}
    for name, el in links.items():
        t = frames[name]
        m, c, about_origin = _link_inertia(el, t)
        mass += m
        first += m * c
        second += about_origin
        rgba = _link_rgba(el, materials)
        for kind, size, o in _shape(el, "visual", urdf):
            visuals.append(Geom(kind, size, t @ o, rgba, name))  # type: ignore[arg-type]
        for kind, size, o in _shape(el, "collision", urdf):
            collisions.append(Geom(kind, size, t @ o, rgba, name))  # type: ignore[arg-type]
    if mass <= 0 or not collisions:
        raise RobotError(f"{urdf}: the robot needs positive mass and at least one collision shape")
    com = first / mass  # inertia about the base_link origin, shifted to the COM
    inertia = second - mass * (float(com @ com) * np.eye(3) - np.outer(com, com))
    return RobotBody(robot, mass, com, inertia, tuple(visuals), tuple(collisions), frames, limits)
