"""The one place that converts between Habitat's world frame and ours (REP-103); pure numpy.

Habitat (and VLN-CE's episode files) use a y-up world; an agent looks along its local -z and has
+x to its right.  Ours is REP-103: x forward/east, y left/north, z up.  A habitat point
``(X, Y, Z)`` is our ``(X, -Z, Y)``: heights are kept, so an episode on the second floor of a
Matterport scene starts on the second floor.

Quaternions come in two orders: VLN-CE's files (``start_rotation``) and habitat-lab's
``quaternion_from_coeff`` use ``[x, y, z, w]``; numpy-quaternion (``AgentState.rotation``) is
built as ``quaternion(w, x, y, z)``.  The ``*_xyzw`` functions take and give the file order, the
``*_wxyz`` ones numpy-quaternion's.  A rotation by ``theta`` about habitat's +y turns the agent's
forward (-z) to ``(-sin theta, 0, -cos theta)``, which is our heading ``yaw = theta + pi/2``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray


def habitat_to_world_points(points: ArrayLike) -> NDArray[np.float64]:
    """Habitat y-up points, shape (3,) or (N, 3), in our z-up world frame (same shape)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"habitat points must have 3 coordinates, got shape {p.shape}")
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def world_to_habitat_points(points: ArrayLike) -> NDArray[np.float64]:
    """Our z-up world points, shape (3,) or (N, 3), in habitat's y-up frame (same shape)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"world points must have 3 coordinates, got shape {p.shape}")
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def world_to_habitat(x: float, y: float, z: float) -> NDArray[np.float64]:
    """A REP-103 world point (z up) in habitat's y-up world frame."""
    return world_to_habitat_points((x, y, z))


def habitat_to_world(p: ArrayLike) -> tuple[float, float, float]:
    """A habitat world point back in our z-up world frame."""
    x, y, z = habitat_to_world_points(p)
    return (float(x), float(y), float(z))


def _forward_yaw(x: float, y: float, z: float, w: float) -> float:
    """Our yaw of the habitat agent's forward axis (-z) rotated by the unit quaternion (x, y, z, w)."""
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if not math.isfinite(norm) or norm < 1e-9:
        raise ValueError(f"quaternion must be finite and non-zero, got {(x, y, z, w)}")
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    # Third column of the rotation matrix, negated: R @ (0, 0, -1).
    fx = -2 * (x * z + w * y)
    fz = -(1 - 2 * (x * x + y * y))
    # In our frame the forward is (fx, -fz) (the vertical part is a pitch, dropped here).
    return math.atan2(-fz, fx)


def habitat_quat_xyzw_to_yaw(q: ArrayLike) -> float:
    """Our yaw from a habitat rotation in file order ``[x, y, z, w]`` (VLN-CE ``start_rotation``)."""
    x, y, z, w = (float(v) for v in np.asarray(q, dtype=np.float64).reshape(4))
    return _forward_yaw(x, y, z, w)


def yaw_to_habitat_quat_xyzw(yaw: float) -> NDArray[np.float64]:
    """Our yaw as a habitat rotation about +y in file order ``[x, y, z, w]``."""
    theta = yaw - math.pi / 2
    return np.array([0.0, math.sin(theta / 2), 0.0, math.cos(theta / 2)])


def habitat_quat_to_yaw(q: ArrayLike) -> float:
    """Our yaw from a habitat rotation in numpy-quaternion order ``(w, x, y, z)``."""
    w, x, y, z = (float(v) for v in np.asarray(q, dtype=np.float64).reshape(4))
    return _forward_yaw(x, y, z, w)


def yaw_to_habitat_quat(yaw: float) -> NDArray[np.float64]:
    """Our yaw as a habitat rotation about +y in numpy-quaternion order ``(w, x, y, z)``."""
    x, y, z, w = yaw_to_habitat_quat_xyzw(yaw)
    return np.array([w, x, y, z])


def body_twist_to_habitat(
    vx: float, vy: float, vz: float, wz: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Body-frame (x fwd, y left, z up) velocities as habitat local linear/angular velocities."""
    return np.array([-vy, vz, -vx]), np.array([0.0, wz, 0.0])


def body_to_habitat_local(p: ArrayLike) -> NDArray[np.float64]:
    """A point in base_link (x fwd, y left, z up) in the agent's local frame (x right, y up, z back)."""
    q = np.asarray(p, dtype=np.float64)
    return np.array([-q[1], q[2], -q[0]])


def optical_frame_in_base(x: float, y: float, z: float) -> NDArray[np.float64]:
    """base_T_camera (4x4) of a forward-looking camera at (x, y, z) in base_link (optical: z fwd, x right, y down)."""
    t = np.eye(4)
    t[:3, :3] = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    t[:3, 3] = (x, y, z)
    return t
