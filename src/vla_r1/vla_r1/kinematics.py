"""The arm's kinematic chain from the URDF, and inverse kinematics with ikpy that refuses clearly.

ikpy (a maintained IK library) solves a bounded least-squares problem on the chain it reads from
``r1_description``'s ``arm.urdf``, so joint limits are respected by construction.  Around it we add
what a controller needs: a reach check before solving, a residual check after (a target the solver
cannot meet is refused with the distance it missed by, never returned as a wild best effort), a few
deterministic seeds, and continuity checks along Cartesian paths.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from r1_description import urdf_path
from vla_r1.urdf import Mat4, Urdf

ARM_JOINTS: tuple[str, ...] = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
)
GRIPPER_JOINT = "left_finger_joint"
DOWN: NDArray[np.float64] = np.array([0.0, 0.0, -1.0])


def default_urdf() -> Path:
    """The arm URDF shipped in r1_description."""
    return urdf_path("arm")


_BLAS: Any = None


@contextlib.contextmanager
def _single_blas_thread() -> Iterator[None]:
    # scipy's L-BFGS-B calls BLAS on 6x6 problems; OpenBLAS threads spinning on a busy machine made
    # each solve 2-4x slower, so the solver runs single-threaded.  One controller, made once:
    # building it scans the loaded libraries (~2 ms).
    global _BLAS
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: only speed depends on it
        yield
        return
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1):
        yield


@dataclass(frozen=True)
class IkResult:
    """An IK answer: ``q`` (6,) when ``ok``, otherwise ``reason`` says why it was refused."""

    ok: bool
    q: NDArray[np.float64] | None
    position_error: float
    angle_error: float
    reason: str = ""


class ArmKinematics:
    """Forward and inverse kinematics of the 6-DoF arm from ``base_link`` to ``tcp_link``."""

    def __init__(
        self,
        urdf: str | Path | None = None,
        *,
        base_link: str = "base_link",
        tip_link: str = "tcp_link",
        position_tolerance: float = 0.002,
        angle_tolerance: float = math.radians(3.0),
    ) -> None:
        from ikpy.chain import Chain

        self.urdf_file = Path(urdf) if urdf is not None else default_urdf()
        self.urdf = Urdf.load(self.urdf_file)
        joints = self.urdf.chain(base_link, tip_link)
        names = tuple(j.name for j in joints if j.type != "fixed")
        if names != ARM_JOINTS:
            raise ValueError(
                f"{self.urdf_file}: chain {base_link}->{tip_link} has joints {names}, expected {ARM_JOINTS}"
            )
        elements: list[str] = [base_link]
        for j in joints:
            elements += [j.name, j.child]
        mask = [False] + [j.type != "fixed" for j in joints]
        with warnings.catch_warnings():  # ikpy warns about fixed links it is told to keep inactive
            warnings.simplefilter("ignore")
            self.chain = Chain.from_urdf_file(str(self.urdf_file), base_elements=elements, active_links_mask=mask)
        self._active = np.array(mask)
        self.joint_names = ARM_JOINTS
        self.lower = np.array([j.lower for j in joints if j.type != "fixed"])
        self.upper = np.array([j.upper for j in joints if j.type != "fixed"])
        self.velocity_limits = np.array([j.velocity for j in joints if j.type != "fixed"])
        g = self.urdf.joints[GRIPPER_JOINT]
        self.gripper_range = (g.lower, g.upper)
        self.gripper_velocity = g.velocity
        self.position_tolerance = position_tolerance
        self.angle_tolerance = angle_tolerance
        # Reach: shoulder (lift axis) to the wrist centre, and the fixed wrist-centre-to-tcp offset.
        self._shoulder = self.urdf.link_pose(joints[1].child, base_link)[:3, 3]
        lift_to_wrist = [j for j in joints[2:] if j.name in ("elbow_joint", "wrist_1_joint", "wrist_2_joint")]
        self._reach = float(sum(np.linalg.norm(j.origin[:3, 3]) for j in lift_to_wrist))
        self._wrist_to_tcp = float(np.linalg.norm(self.urdf.link_pose(tip_link, joints[4].child)[:3, 3]))

    def _full(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        full = np.zeros(len(self.chain.links))
        full[self._active] = q
        return full

    def fk(self, q: NDArray[np.float64]) -> Mat4:
        """The (4, 4) pose of the tcp in the base frame for joint positions ``q`` (6,)."""
        q = np.asarray(q, dtype=float)
        if q.shape != (6,):
            raise ValueError(f"expected 6 joint positions, got shape {q.shape}")
        return np.asarray(self.chain.forward_kinematics(self._full(q)), dtype=float)

    def within_limits(self, q: NDArray[np.float64], eps: float = 1e-6) -> bool:
        """True when every joint is inside its URDF limits."""
        return bool(np.all(q >= self.lower - eps) and np.all(q <= self.upper + eps))

    def _seeds(self, position: NDArray[np.float64], seed: NDArray[np.float64] | None) -> list[NDArray[np.float64]]:
        pan = float(np.clip(math.atan2(position[1], position[0]), self.lower[0], self.upper[0]))
        seeds = [] if seed is None else [np.clip(seed, self.lower, self.upper)]
        # Elbow-up, wrist-down postures facing the target: the family the tabletop tasks live in.
        seeds += [np.array([pan, 0.3, 1.2, 0.0, 1.6, 0.0]), np.array([pan, 0.8, 1.0, 0.0, 1.2, 0.0])]
        return seeds

    def ik(
        self,
        position: NDArray[np.float64],
        approach: NDArray[np.float64] | None = DOWN,
        seed: NDArray[np.float64] | None = None,
    ) -> IkResult:
        """Joint positions putting the tcp at ``position`` with its z axis along ``approach``.

        ``approach=None`` solves for position only.  Unreachable targets are refused with a reason.
        """
        p = np.asarray(position, dtype=float)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            return IkResult(False, None, math.inf, math.inf, f"target must be 3 finite numbers, got {p!r}")
        a = None if approach is None else np.asarray(approach, dtype=float) / np.linalg.norm(approach)
        wrist = p - a * self._wrist_to_tcp if a is not None else p
        dist = float(np.linalg.norm(wrist - self._shoulder))
        slack = 0.0 if a is not None else self._wrist_to_tcp
        if dist > self._reach + slack + self.position_tolerance:
            return IkResult(
                False,
                None,
                dist - self._reach - slack,
                math.inf,
                f"unreachable: wrist centre would be {dist:.3f} m from the shoulder, reach is "
                f"{self._reach + slack:.3f} m",
            )
        best: IkResult | None = None
        for s in self._seeds(p, seed):
            # A loose tolerance first (sub-millimetre here, ~4x faster), refined only if it falls short.
            for tol in (1e-4, None):
                result = self._solve(p, a, s, tol)
                if result.ok:
                    return result
                if best is None or result.position_error + result.angle_error * 0.1 < (
                    best.position_error + best.angle_error * 0.1
                ):
                    best = result
                assert result.q is not None
                s = result.q
        assert best is not None
        return IkResult(
            False,
            None,
            best.position_error,
            best.angle_error,
            f"no solution within limits: best misses by {best.position_error * 1000:.1f} mm and "
            f"{math.degrees(best.angle_error):.1f} deg",
        )

    def _solve(
        self, p: NDArray[np.float64], a: NDArray[np.float64] | None, seed: NDArray[np.float64], tol: float | None
    ) -> IkResult:
        with warnings.catch_warnings(), _single_blas_thread():
            warnings.simplefilter("ignore")
            # L-BFGS-B ("scalar") converges here in a fraction of least_squares' evaluations.
            full = self.chain.inverse_kinematics(
                p,
                a,
                orientation_mode="Z" if a is not None else None,
                initial_position=self._full(seed),
                optimizer="scalar",
                tol=tol,
            )
        q = np.clip(np.asarray(full, dtype=float)[self._active], self.lower, self.upper)
        pose = self.fk(q)
        perr = float(np.linalg.norm(pose[:3, 3] - p))
        aerr = 0.0 if a is None else float(math.acos(float(np.clip(pose[:3, 2] @ a, -1.0, 1.0))))
        return IkResult(perr <= self.position_tolerance and aerr <= self.angle_tolerance, q, perr, aerr)

    def ik_path(
        self,
        positions: NDArray[np.float64],
        approach: NDArray[np.float64] | None,
        seed: NDArray[np.float64],
        *,
        max_joint_step: float = 0.8,
        max_deviation: float = 0.005,
    ) -> tuple[NDArray[np.float64] | None, str]:
        """Joint waypoints (M, 6) whose linear joint interpolation follows the Cartesian polyline.

        Each point is seeded by the last; where the joint-space midpoint of two solutions strays more
        than ``max_deviation`` metres from the straight segment, the segment is split and solved again.
        A solution jumping more than ``max_joint_step`` radians on a joint between neighbours (a branch
        flip) is refused, as is any unreachable point: returns ``(None, reason)``.
        """
        pts = np.asarray(positions, dtype=float)
        prev = np.clip(np.asarray(seed, dtype=float), self.lower, self.upper)
        out = [prev]
        prev_p = self.fk(prev)[:3, 3]
        for i, p in enumerate(pts):
            err = self._segment(prev_p, p, prev, approach, out, max_joint_step, max_deviation, depth=0)
            if err:
                return None, f"waypoint {i} at {np.round(p, 3).tolist()}: {err}"
            prev, prev_p = out[-1], p
        return np.array(out[1:]), ""

    def _segment(
        self,
        p0: NDArray[np.float64],
        p1: NDArray[np.float64],
        q0: NDArray[np.float64],
        approach: NDArray[np.float64] | None,
        out: list[NDArray[np.float64]],
        max_joint_step: float,
        max_deviation: float,
        depth: int,
    ) -> str:
        r = self.ik(p1, approach, seed=q0)
        if not r.ok or r.q is None:
            return r.reason
        jump = float(np.max(np.abs(r.q - q0)))
        mid_p = 0.5 * (p0 + p1)
        deviation = float(np.linalg.norm(self.fk(0.5 * (q0 + r.q))[:3, 3] - mid_p))
        if deviation <= max_deviation and (jump <= max_joint_step or depth >= 4):
            if jump > max_joint_step:
                return f"IK branch jump of {jump:.2f} rad exceeds {max_joint_step} rad"
            out.append(r.q)
            return ""
        if depth >= 4:
            return f"joint path strays {deviation * 1000:.1f} mm from the Cartesian segment"
        err = self._segment(p0, mid_p, q0, approach, out, max_joint_step, max_deviation, depth + 1)
        if err:
            return err
        return self._segment(mid_p, p1, out[-1], approach, out, max_joint_step, max_deviation, depth + 1)
