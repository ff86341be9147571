"""Small VLN-CE episode and ground-truth files, written by the tests (schema of VLN-CE's loader)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any


def yaw_quat_xyzw(theta: float) -> list[float]:
    """A habitat rotation by ``theta`` about +y, in the file order [x, y, z, w]."""
    return [0.0, math.sin(theta / 2), 0.0, math.cos(theta / 2)]


def r2r_record(eid: int, scene: str = "mp3d/sceneA/sceneA.glb", *, start_y: float = 0.0,
               goal: tuple[float, float, float] = (4.0, 0.0, 0.0), geodesic: float = 4.0) -> dict[str, Any]:
    """An R2R-CE episode record: the agent at (0, start_y, 0) facing -z, the goal at ``goal`` (habitat frame)."""
    return {
        "episode_id": eid, "trajectory_id": 100 + eid, "scene_id": scene,
        "start_position": [0.0, start_y, 0.0], "start_rotation": yaw_quat_xyzw(0.0),
        "info": {"geodesic_distance": geodesic},
        "goals": [{"position": list(goal), "radius": 3.0}],
        "reference_path": [[0.0, start_y, 0.0], list(goal)],
        "instruction": {"instruction_text": f"Walk ahead and stop by the door number {eid}.",
                        "instruction_tokens": [1, 2, 3]},
    }


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as ``.json.gz`` (gzip) or plain ``.json`` by the path's suffix."""
    text = json.dumps(data)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def write_r2r(folder: Path, records: list[dict[str, Any]], split: str = "val_unseen",
              gt: dict[str, Any] | None = None) -> Path:
    """``{split}.json.gz`` with an instruction vocabulary, and ``{split}_gt.json.gz`` when ``gt`` is given."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_json(folder / f"{split}.json.gz",
                      {"episodes": records, "instruction_vocab": {"word_list": ["walk", "ahead", "stop"],
                                                                  "num_vocab": 3}})
    if gt is not None:
        write_json(folder / f"{split}_gt.json.gz", gt)
    return path
