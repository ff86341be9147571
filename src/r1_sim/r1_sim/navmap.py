"""The navigable map of a scene: an occupancy grid inflated by the robot radius, with geodesics.

Geodesic distances and shortest paths run Dijkstra on the 8-connected free grid and then pull
the path taut with line-of-sight checks, so lengths are close to true Euclidean-shortest lengths
(the raw 8-connected length overestimates by up to ~8%).  Distances from one goal are cached,
because the expert asks for the same goal many times.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from r1_sim.scene import XY, Scene


class NavMap:
    """Occupancy grid of ``scene`` (cells of ``resolution`` m) inflated by ``robot_radius`` m."""

    def __init__(self, scene: Scene, robot_radius: float = 0.3, resolution: float = 0.05) -> None:
        if robot_radius < 0 or resolution <= 0:
            raise ValueError(f"robot_radius must be >= 0 and resolution > 0, got {robot_radius}, {resolution}")
        self.scene = scene
        self.robot_radius = robot_radius
        self.resolution = resolution
        x0, y0, x1, y1 = scene.bounds
        self.origin = (x0, y0)
        self.width = math.ceil((x1 - x0) / resolution)
        self.height = math.ceil((y1 - y0) / resolution)
        occupied = np.zeros((self.height, self.width), dtype=bool)
        for box in scene.obstacles():
            bx0, by0, bx1, by1 = box.footprint()
            i0, j0 = self._cell(bx0, by0)
            i1, j1 = self._cell(bx1, by1)
            occupied[max(i0, 0): i1 + 1, max(j0, 0): j1 + 1] = True
        # Outside every room is not navigable either (beyond the outer walls).
        inside = np.zeros_like(occupied)
        for room in scene.rooms:
            i0, j0 = self._cell(room.xmin, room.ymin)
            i1, j1 = self._cell(room.xmax, room.ymax)
            inside[max(i0, 0): i1 + 1, max(j0, 0): j1 + 1] = True
        occupied |= ~inside
        #: Distance (m) from each cell centre to the nearest occupied cell.
        self.clearance: NDArray[np.float64] = ndimage.distance_transform_edt(~occupied) * resolution
        #: (rows=y, cols=x) True where the robot centre may be.
        self.free: NDArray[np.bool_] = self.clearance > robot_radius
        self._graph = self._build_graph()
        self._cache: dict[int, tuple[NDArray[np.float64], NDArray[np.int32]]] = {}

    # -- grid helpers ---------------------------------------------------------------------------
    def _cell(self, x: float, y: float) -> tuple[int, int]:
        return (math.floor((y - self.origin[1]) / self.resolution),
                math.floor((x - self.origin[0]) / self.resolution))

    def _xy(self, i: int, j: int) -> tuple[float, float]:
        return (self.origin[0] + (j + 0.5) * self.resolution, self.origin[1] + (i + 0.5) * self.resolution)

    def _build_graph(self) -> sparse.csr_matrix:
        h, w = self.free.shape
        idx = np.arange(h * w).reshape(h, w)
        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        vals: list[NDArray[np.float64]] = []
        for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
            ra, rb = slice(0, h - di), slice(di, h)
            ca, cb = slice(max(0, -dj), w - max(0, dj)), slice(max(0, dj), w - max(0, -dj))
            a, b = self.free[ra, ca], self.free[rb, cb]
            ia, ib = idx[ra, ca], idx[rb, cb]
            ok = a & b
            rows.append(ia[ok])
            cols.append(ib[ok])
            vals.append(np.full(int(ok.sum()), math.hypot(di, dj) * self.resolution))
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        v = np.concatenate(vals)
        n = h * w
        return sparse.csr_matrix((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))),
                                 shape=(n, n))

    def in_bounds(self, xy: XY) -> bool:
        """True when the point lies on the grid."""
        i, j = self._cell(xy[0], xy[1])
        return 0 <= i < self.height and 0 <= j < self.width

    def is_free(self, xy: XY) -> bool:
        """True when the robot centre may stand at ``xy`` (inflated free space)."""
        if not self.in_bounds(xy):
            return False
        i, j = self._cell(xy[0], xy[1])
        return bool(self.free[i, j])

    def nearest_free(self, xy: XY) -> tuple[float, float]:
        """The centre of the free cell nearest to ``xy`` (``xy``'s own cell when free)."""
        i, j = self._cell(xy[0], xy[1])
        if 0 <= i < self.height and 0 <= j < self.width and self.free[i, j]:
            return self._xy(i, j)
        fi, fj = np.nonzero(self.free)
        if fi.size == 0:
            raise ValueError(f"scene '{self.scene.name}' has no free space for radius {self.robot_radius}")
        k = int(np.argmin((fi - i) ** 2 + (fj - j) ** 2))
        return self._xy(int(fi[k]), int(fj[k]))

    def free_cells_xy(self, min_clearance: float = 0.0) -> NDArray[np.float64]:
        """(N, 2) centres of all free cells (with at least ``min_clearance`` m to obstacles)."""
        fi, fj = np.nonzero(self.free & (self.clearance > min_clearance))
        return np.stack([self.origin[0] + (fj + 0.5) * self.resolution,
                         self.origin[1] + (fi + 0.5) * self.resolution], axis=1)

    # -- geodesics ------------------------------------------------------------------------------
    def _dijkstra(self, goal_xy: XY) -> tuple[NDArray[np.float64], NDArray[np.int32], int]:
        gi, gj = self._cell(*self.nearest_free(goal_xy))
        g = gi * self.width + gj
        if g not in self._cache:
            if len(self._cache) > 16:
                self._cache.clear()
            dist, pred = csgraph.dijkstra(self._graph, indices=g, return_predecessors=True)
            self._cache[g] = (dist, pred)
        dist, pred = self._cache[g]
        return dist, pred, g

    def line_of_sight(self, a: XY, b: XY) -> bool:
        """True when the straight segment a-b stays in free space."""
        n = max(2, int(math.hypot(b[0] - a[0], b[1] - a[1]) / (self.resolution * 0.5)) + 1)
        ts = np.linspace(0.0, 1.0, n)[:, None]
        return bool(self.free_many(np.asarray(a, dtype=np.float64)[:2] * (1 - ts)
                                   + np.asarray(b, dtype=np.float64)[:2] * ts).all())

    def free_many(self, xy: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Vectorised :meth:`is_free` for an (N, 2) array of points."""
        i = np.floor((xy[:, 1] - self.origin[1]) / self.resolution).astype(np.int64)
        j = np.floor((xy[:, 0] - self.origin[0]) / self.resolution).astype(np.int64)
        inside = (i >= 0) & (i < self.height) & (j >= 0) & (j < self.width)
        out = np.zeros(len(xy), dtype=bool)
        out[inside] = self.free[i[inside], j[inside]]
        return out

    def grid_distances(self, points: NDArray[np.float64], goal_xy: XY) -> NDArray[np.float64]:
        """Raw grid distances (m) from each of (N, 2) free ``points`` to the goal (``inf`` if blocked)."""
        dist, _, _ = self._dijkstra(goal_xy)
        i = np.clip(np.floor((points[:, 1] - self.origin[1]) / self.resolution).astype(np.int64), 0, self.height - 1)
        j = np.clip(np.floor((points[:, 0] - self.origin[0]) / self.resolution).astype(np.int64), 0, self.width - 1)
        return np.asarray(dist[i * self.width + j], dtype=np.float64)

    def shortest_path(self, a_xy: XY, b_xy: XY) -> NDArray[np.float64]:
        """(N, 2) taut shortest free path from a to b (both snapped to free space); ValueError if none."""
        start = self.nearest_free(a_xy)
        goal = self.nearest_free(b_xy)
        dist, pred, g = self._dijkstra(goal)
        si, sj = self._cell(*start)
        s = si * self.width + sj
        if not math.isfinite(dist[s]):
            raise ValueError(f"no free path from {tuple(a_xy)} to {tuple(b_xy)} in scene '{self.scene.name}'")
        cells = [s]
        while cells[-1] != g:  # predecessors point towards the Dijkstra source, the goal
            cells.append(int(pred[cells[-1]]))
        raw = [self._xy(c // self.width, c % self.width) for c in cells]
        raw[0], raw[-1] = start, goal
        # String pulling: from each kept point jump to the farthest visible one.
        out = [raw[0]]
        k = 0
        while k < len(raw) - 1:
            nxt = k + 1
            lo, hi = k + 1, len(raw) - 1
            # Visibility along a grid path is close to monotone; binary search then step back.
            while lo <= hi:
                mid = (lo + hi) // 2
                if self.line_of_sight(raw[k], raw[mid]):
                    nxt, lo = mid, mid + 1
                else:
                    hi = mid - 1
            out.append(raw[nxt])
            k = nxt
        return np.asarray(out, dtype=np.float64)

    def geodesic_distance(self, a_xy: XY, b_xy: XY) -> float:
        """Length (m) of the taut shortest free path from a to b; ``inf`` when unreachable."""
        try:
            path = self.shortest_path(a_xy, b_xy)
        except ValueError:
            return math.inf
        return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())

    def grid_distance(self, a_xy: XY, b_xy: XY) -> float:
        """Raw 8-connected grid distance (m), cheaper than :meth:`geodesic_distance`."""
        dist, _, _ = self._dijkstra(b_xy)
        i, j = self._cell(*self.nearest_free(a_xy))
        return float(dist[i * self.width + j])
