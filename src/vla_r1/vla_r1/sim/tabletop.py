"""A MuJoCo tabletop: the arm loaded from ``arm.urdf``, a table, labelled objects, a head RGB-D camera.

The arm is the URDF itself (MuJoCo's URDF importer through ``MjSpec``), so the simulated kinematics
are the ones IK solves against; position servos, gravity compensation and the camera are added on
top.  Rendering is headless (``MUJOCO_GL=egl`` on the CPU); shadows and reflections are off because
they cost most of a render and matter nothing here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco

from vla_r1.geometry import Intrinsics
from vla_r1.kinematics import ARM_JOINTS, GRIPPER_JOINT, default_urdf
from vla_r1.urdf import Urdf

CAMERA_LINK = "camera_color_optical_frame"


@dataclass(frozen=True)
class ObjectSpec:
    """A labelled object: ``kind`` box/cylinder, half sizes (m), colour; ``place`` = flat marker."""

    label: str
    kind: str
    size: tuple[float, float, float]
    rgba: tuple[float, float, float, float]
    place: bool = False

    @property
    def height(self) -> float:
        """Full height of the object, metres."""
        return 2 * self.size[2] if self.kind == "box" else 2 * self.size[1]


CATALOGUE: tuple[ObjectSpec, ...] = (
    ObjectSpec("red cube", "box", (0.02, 0.02, 0.02), (0.85, 0.1, 0.1, 1)),
    ObjectSpec("blue cube", "box", (0.02, 0.02, 0.02), (0.1, 0.2, 0.85, 1)),
    ObjectSpec("green cylinder", "cylinder", (0.02, 0.03, 0.0), (0.1, 0.7, 0.2, 1)),
    ObjectSpec("yellow block", "box", (0.02, 0.03, 0.015), (0.9, 0.8, 0.1, 1)),
    ObjectSpec("purple plate", "cylinder", (0.05, 0.002, 0.0), (0.6, 0.2, 0.7, 1), place=True),
    ObjectSpec("white square", "box", (0.05, 0.05, 0.002), (0.95, 0.95, 0.95, 1), place=True),
)


@dataclass(frozen=True)
class SceneSpec:
    """Which objects stand where: label -> (x, y) on the table in the base frame."""

    layout: dict[str, tuple[float, float]] = field(default_factory=dict)


def random_scene(seed: int, n_objects: int = 3, n_places: int = 1) -> SceneSpec:
    """A seeded layout in the arm's comfortable workspace, objects at least 9 cm apart."""
    rng = np.random.default_rng(seed)
    objects = [o for o in CATALOGUE if not o.place]
    places = [o for o in CATALOGUE if o.place]
    # Places first: they are the largest footprints.
    chosen = [places[i] for i in rng.choice(len(places), n_places, replace=False)]
    chosen += [objects[i] for i in rng.choice(len(objects), n_objects, replace=False)]
    layout: dict[str, tuple[float, float]] = {}
    placed = {o.label: o.place for o in chosen}
    for obj in chosen:
        for _ in range(1000):
            r, a = rng.uniform(0.30, 0.46), rng.uniform(-0.6, 0.3)
            xy = (r * math.cos(a), r * math.sin(a))
            if all(math.dist(xy, xy2) >= (0.12 if obj.place or placed[lbl] else 0.09) for lbl, xy2 in layout.items()):
                layout[obj.label] = xy
                break
        else:
            raise RuntimeError(f"could not place '{obj.label}' in scene {seed}")
    return SceneSpec(layout)


@dataclass(frozen=True)
class Rgbd:
    """A rendered RGB-D frame with the camera's intrinsics and pose in the base frame."""

    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]
    intrinsics: Intrinsics
    base_from_camera: NDArray[np.float64]


def _arm_physics(spec: Any, timestep: float, fovy_deg: float) -> None:
    """Integrator, joint damping, servo actuators, friction, the tcp site and the head camera."""
    spec.option.timestep = timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.compiler.discardvisual = True
    for body in spec.bodies:
        if body.name not in ("world", "base_link"):
            body.gravcomp = 1.0  # servos track without steady-state sag
    for j in spec.joints:
        j.damping = [2.0 if j.name in ARM_JOINTS else 5.0, 0.0, 0.0]
        j.armature = 0.01
    for name in ARM_JOINTS:
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=800.0, kv=40.0)
        act.forcerange = [-150.0, 150.0]
        act.forcelimited = True
    grip = spec.add_actuator(name="gripper", target=GRIPPER_JOINT, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    grip.set_to_position(kp=400.0, kv=10.0)
    grip.forcerange = [-15.0, 15.0]
    grip.forcelimited = True
    for g in spec.geoms:
        g.friction = [1.5, 0.01, 0.001]
    spec.body("tcp_link").add_site(name="tcp", size=[0.005, 0.005, 0.005])
    cam_body = spec.body(CAMERA_LINK)
    # MuJoCo cameras look along -z with y up; the optical frame looks along +z with y down.
    cam_body.add_camera(name="head_rgbd", quat=[0.0, 1.0, 0.0, 0.0], fovy=fovy_deg)


def _add_table_and_objects(spec: Any, scene: SceneSpec, objects: dict[str, ObjectSpec]) -> None:
    """The table, a light, and each object of the layout (free bodies, or flat place markers)."""
    world = spec.worldbody
    world.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[0.45, 0.6, 0.02],
        pos=[0.3, 0.0, -0.02],
        rgba=[0.45, 0.35, 0.25, 1.0],
        friction=[1.0, 0.01, 0.001],
    )
    world.add_light(pos=[0.3, 0.0, 2.0], dir=[0.0, 0.0, -1.0], castshadow=False)
    for label, (x, y) in scene.layout.items():
        o = objects[label]
        name = label.replace(" ", "_")
        gtype = mujoco.mjtGeom.mjGEOM_BOX if o.kind == "box" else mujoco.mjtGeom.mjGEOM_CYLINDER
        half_h = o.height / 2
        if o.place:
            # A flat marker nothing collides with: its own collision bit (2) is one no other geom
            # has, and contype/conaffinity 0 would make the URDF importer discard it as visual.
            world.add_geom(name=name, type=gtype, size=list(o.size), pos=[x, y, half_h], rgba=list(o.rgba),
                           contype=2, conaffinity=2)
            continue
        body = world.add_body(name=name, pos=[x, y, half_h + 0.0005])
        body.add_freejoint(name=f"{name}_free")
        body.add_geom(name=name, type=gtype, size=list(o.size), rgba=list(o.rgba), mass=0.05,
                      friction=[1.5, 0.01, 0.001], condim=4)


class Tabletop:
    """The simulated world: build once per scene, then step, render and read ground truth."""

    def __init__(
        self,
        scene: SceneSpec,
        *,
        width: int = 320,
        height: int = 240,
        fovy_deg: float = 45.0,
        timestep: float = 0.002,
    ) -> None:
        self.urdf = Urdf.load(default_urdf())
        self.scene = scene
        self.width, self.height, self.fovy = width, height, fovy_deg
        spec = mujoco.MjSpec.from_file(str(default_urdf()))
        _arm_physics(spec, timestep, fovy_deg)
        self.objects = {o.label: o for o in CATALOGUE if o.label in scene.layout}
        _add_table_and_objects(spec, scene, self.objects)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in ARM_JOINTS])
        self._gadr = self.model.joint(GRIPPER_JOINT).qposadr[0]
        self._renderer: mujoco.Renderer | None = None

    # -- state -------------------------------------------------------------------------------
    def reset(self, q: NDArray[np.float64], gripper: float) -> None:
        """Put the arm at ``q`` with the gripper at ``gripper`` and settle the objects."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._qadr] = q
        self.data.qpos[self._gadr] = gripper
        right = self.model.joint("right_finger_joint").qposadr[0]
        self.data.qpos[right] = gripper
        self.set_command(np.append(q, gripper))
        mujoco.mj_forward(self.model, self.data)
        self.step(0.1)

    def set_command(self, command: NDArray[np.float64]) -> None:
        """Servo targets: 6 arm joints then the finger position."""
        self.data.ctrl[:7] = command

    def step(self, seconds: float) -> None:
        """Advance physics by ``seconds``."""
        for _ in range(max(1, round(seconds / self.model.opt.timestep))):
            mujoco.mj_step(self.model, self.data)

    @property
    def time(self) -> float:
        """Simulated time, seconds."""
        return float(self.data.time)

    def joint_positions(self) -> NDArray[np.float64]:
        """Measured arm joint positions (6,)."""
        return np.asarray(self.data.qpos[self._qadr], dtype=float).copy()

    def gripper_position(self) -> float:
        """Measured finger position, metres."""
        return float(self.data.qpos[self._gadr])

    def tcp(self) -> NDArray[np.float64]:
        """The tool centre point in the world (= base) frame."""
        return np.asarray(self.data.site("tcp").xpos, dtype=float).copy()

    def object_position(self, label: str) -> NDArray[np.float64]:
        """Centre of a labelled object or marker, base frame."""
        name = label.replace(" ", "_")
        if self.objects[label].place:
            return np.asarray(self.data.geom(name).xpos, dtype=float).copy()
        return np.asarray(self.data.body(name).xpos, dtype=float).copy()

    def object_top(self, label: str) -> NDArray[np.float64]:
        """Centre of the object's top surface, base frame."""
        return self.object_position(label) + np.array([0.0, 0.0, self.objects[label].height / 2])

    def object_corners(self, label: str) -> NDArray[np.float64]:
        """The 8 corners of the object's bounding box (8, 3) in the base frame."""
        o = self.objects[label]
        hx, hy, hz = (o.size[0], o.size[0], o.size[1]) if o.kind == "cylinder" else o.size
        name = label.replace(" ", "_")
        geom = self.data.geom(name)
        rot = np.asarray(geom.xmat, dtype=float).reshape(3, 3)
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        return np.asarray(geom.xpos, dtype=float) + (signs * np.array([hx, hy, hz])) @ rot.T

    # -- camera ------------------------------------------------------------------------------
    def intrinsics(self) -> Intrinsics:
        """Pinhole intrinsics of the rendered images (OpenCV pixel-centre convention)."""
        f = (self.height / 2) / math.tan(math.radians(self.fovy) / 2)
        return Intrinsics(f, f, (self.width - 1) / 2, (self.height - 1) / 2, self.width, self.height)

    def base_from_camera(self) -> NDArray[np.float64]:
        """The optical frame's pose in the base frame, from the URDF (as the control stack uses it)."""
        return self.urdf.link_pose(CAMERA_LINK)

    def render(self) -> Rgbd:
        """Render the head camera: rgb (H, W, 3) uint8 and depth (H, W) float32 metres."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        r = self._renderer
        r.update_scene(self.data, camera="head_rgbd")
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        rgb = r.render().copy()
        r.enable_depth_rendering()
        r.update_scene(self.data, camera="head_rgbd")
        depth = r.render().astype(np.float32)
        r.disable_depth_rendering()
        return Rgbd(rgb, depth, self.intrinsics(), self.base_from_camera())

    def close(self) -> None:
        """Free the renderer's GL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
