"""Build the MuJoCo model (MJCF text) of a scene with one robot welded from its URDF.

Collision filtering: walls and furniture are ``contype=conaffinity=1``, the robot's collision
shapes too, the floor and ceiling use bit 2 so the base (held at its standing height, or by the
UAV's vertical actuator) never rubs on them.  Robot visuals are ``group 1`` without contacts,
collision shapes ``group 3`` (hidden in renders).
"""

from __future__ import annotations

import math
from xml.sax.saxutils import quoteattr

import mujoco
import numpy as np
from numpy.typing import NDArray

from r1_sim.robots import Geom, RobotBody, RobotProfile
from r1_sim.scene import FLOOR_RGBA, Scene

# Camera frame of MuJoCo (looks along -z, y up) from the REP-103 optical frame (z forward, y down).
OPTICAL_TO_MUJOCO = np.diag([1.0, -1.0, -1.0])
CAMERA_LEFT = "head"
CAMERA_RIGHT = "head_right"
LEFT_FRAME = "camera_color_optical_frame"
RIGHT_FRAME = "camera_right_optical_frame"


def _f(v: object) -> str:
    return " ".join(f"{float(x):.6g}" for x in np.ravel(np.asarray(v)))


def _quat(rot: NDArray[np.float64]) -> str:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(rot, dtype=np.float64).ravel())
    return _f(q)


def _geom(g: Geom, name: str, collide: bool) -> str:
    size = g.size
    if g.kind == "cylinder":
        size = (g.size[0], g.size[1])
    common = f'name="{name}" type="{g.kind}" size="{_f(size)}" pos="{_f(g.pose[:3, 3])}" ' \
             f'quat="{_quat(g.pose[:3, :3])}"'
    if collide:
        return f'<geom {common} contype="1" conaffinity="1" group="3" rgba="0.8 0.2 0.2 0.3"/>'
    return f'<geom {common} contype="0" conaffinity="0" group="1" rgba="{_f(g.rgba)}" mass="0"/>'


def _world_geoms(scene: Scene) -> list[str]:
    """Light, floor, ceiling, per-room floor tints, walls and objects."""
    x0, y0, x1, y1 = scene.bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    world: list[str] = [
        '<light name="sun" directional="true" pos="0 0 6" dir="0.3 0.2 -1" castshadow="false" '
        'diffuse="0.45 0.45 0.45" specular="0.05 0.05 0.05"/>',
        f'<geom name="floor" type="plane" pos="{_f((cx, cy, 0))}" size="{_f((x1 - x0, y1 - y0, 0.1))}" '
        'material="floor" contype="2" conaffinity="2"/>',
        f'<geom name="ceiling" type="box" pos="{_f((cx, cy, scene.wall_height + 0.05))}" '
        f'size="{_f(((x1 - x0) / 2, (y1 - y0) / 2, 0.05))}" rgba="0.92 0.92 0.90 1" contype="2" '
        'conaffinity="2" group="2"/>',
    ]
    for i, room in enumerate(scene.rooms):
        rgba = FLOOR_RGBA.get(room.name, (0.6, 0.6, 0.6, 1.0))
        world.append(
            f'<geom name="floor_{i}" type="box" pos="{_f((*room.center, 0.002))}" '
            f'size="{_f(((room.xmax - room.xmin) / 2, (room.ymax - room.ymin) / 2, 0.002))}" '
            f'material="speckle" rgba="{_f(rgba)}" contype="0" conaffinity="0"/>'
        )
    for i, w in enumerate(scene.walls):
        world.append(f'<geom name="wall_{i}" type="box" pos="{_f(w.center)}" size="{_f(np.asarray(w.size) / 2)}" '
                     'material="speckle" rgba="0.88 0.86 0.80 1" contype="1" conaffinity="1"/>')
    for o in scene.objects:
        world.append(f'<geom name={quoteattr("obj_" + o.object_id)} type="box" pos="{_f(o.box.center)}" '
                     f'size="{_f(np.asarray(o.box.size) / 2)}" material="speckle" rgba="{_f(o.rgba)}" contype="1" '
                     'conaffinity="1"/>')
    return world


def _robot_elements(body: RobotBody, profile: RobotProfile, z0: float, wall_height: float,
                    fovy_deg: float) -> list[str]:
    """The base's joints, inertia, visual and collision geoms and the stereo cameras."""
    joints = ['<joint name="base_x" type="slide" axis="1 0 0" damping="0"/>',
              '<joint name="base_y" type="slide" axis="0 1 0" damping="0"/>']
    if profile.flies:
        # Relative to the body's initial height z0: keep the UAV between 0.15 m and the ceiling.
        lo, hi = 0.15 - z0, wall_height - 0.25 - z0
        joints.append(f'<joint name="base_z" type="slide" axis="0 0 1" limited="true" range="{lo:.4g} {hi:.4g}"/>')
    joints.append('<joint name="base_yaw" type="hinge" axis="0 0 1" damping="0"/>')
    inertia = body.inertia
    robot = [*joints,
             f'<inertial pos="{_f(body.com)}" mass="{body.mass:.6g}" fullinertia="'
             f'{_f((inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]))}"/>']
    for k, g in enumerate(body.visuals):
        if g.link == "camera_link":
            continue  # the camera housing would sit on the lens
        robot.append(_geom(g, f"robot_vis_{k}", collide=False))
    for k, g in enumerate(body.collisions):
        if g.link == "camera_link":
            continue
        robot.append(_geom(g, f"robot_col_{k}", collide=True))
    for cam, frame in ((CAMERA_LEFT, LEFT_FRAME), (CAMERA_RIGHT, RIGHT_FRAME)):
        t = body.frames[frame]
        robot.append(f'<camera name="{cam}" pos="{_f(t[:3, 3])}" quat="{_quat(t[:3, :3] @ OPTICAL_TO_MUJOCO)}" '
                     f'fovy="{fovy_deg:.6g}"/>')
    return robot


def _actuators(body: RobotBody, profile: RobotProfile) -> list[str]:
    """Stiff velocity actuators: gain = inertia / tau gives a first-order lag of time constant tau."""
    inertia = body.inertia
    izz = float(inertia[2, 2] + body.mass * (body.com[0] ** 2 + body.com[1] ** 2))
    acts = [f'<velocity name="act_x" joint="base_x" kv="{body.mass / profile.tau:.6g}"/>',
            f'<velocity name="act_y" joint="base_y" kv="{body.mass / profile.tau:.6g}"/>']
    if profile.flies:
        acts.append(f'<velocity name="act_z" joint="base_z" kv="{body.mass / profile.tau:.6g}"/>')
    acts.append(f'<velocity name="act_yaw" joint="base_yaw" kv="{izz / profile.tau:.6g}"/>')
    return acts


def build_mjcf(
    scene: Scene,
    body: RobotBody,
    profile: RobotProfile,
    *,
    fovy_deg: float,
    timestep: float,
    max_width: int,
    max_height: int,
) -> str:
    """The MJCF text of ``scene`` with ``body`` as a velocity-driven base named ``robot``."""
    x0, y0, x1, y1 = scene.bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    extent = max(x1 - x0, y1 - y0, scene.wall_height) / 2
    world = _world_geoms(scene)
    z0 = body.ground_clearance if not profile.flies else 1.0
    robot = _robot_elements(body, profile, z0, scene.wall_height, fovy_deg)
    acts = _actuators(body, profile)
    gravcomp = ' gravcomp="1"' if profile.flies else ""
    return f"""<mujoco model="r1_sim_{scene.name}_{body.name}">
  <compiler angle="radian"/>
  <option timestep="{timestep:.6g}" integrator="implicitfast"/>
  <statistic extent="{extent:.4g}" center="{_f((cx, cy, 1.0))}"/>
  <visual>
    <global offwidth="{max_width}" offheight="{max_height}"/>
    <quality shadowsize="0"/>
    <map znear="{0.05 / extent:.6g}" zfar="{60.0 / extent:.6g}"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.55 0.55 0.55" rgb2="0.45 0.45 0.45"
      width="64" height="64"/>
    <material name="floor" texture="floor" texrepeat="{math.ceil(x1 - x0)} {math.ceil(y1 - y0)}"/>
    <texture name="speckle" type="2d" builtin="flat" mark="random" random="0.25" rgb1="1 1 1"
      markrgb="0.55 0.55 0.55" width="128" height="128"/>
    <material name="speckle" texture="speckle" texuniform="true" texrepeat="4 4"/>
  </asset>
  <worldbody>
    {chr(10).join('    ' + w for w in world).strip()}
    <body name="robot" pos="0 0 {z0:.6g}"{gravcomp}>
      {chr(10).join('      ' + r for r in robot).strip()}
    </body>
  </worldbody>
  <actuator>
    {chr(10).join('    ' + a for a in acts).strip()}
  </actuator>
</mujoco>
"""
