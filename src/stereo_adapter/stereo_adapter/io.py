"""Unlabelled stereo pairs from disk: a folder of images or two image topics of a rosbag2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from r1_core.ros.convert import ConversionError, rgb_from_image
from stereo_adapter.data import StereoSample
from stereo_adapter.sync import pair_by_time

Pair = tuple[NDArray[np.uint8], NDArray[np.uint8]]
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")


def _read_rgb(path: Path) -> NDArray[np.uint8]:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def load_pairs_folder(folder: str | Path, max_pairs: int = 10_000) -> list[Pair]:
    """Pairs from ``left/`` + ``right/`` subfolders with equal file names, or ``*_left.*``/``*_right.*``."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"pair folder not found: {root}")
    names: list[tuple[Path, Path]] = []
    if (root / "left").is_dir() and (root / "right").is_dir():
        for lp in sorted((root / "left").iterdir()):
            rp = root / "right" / lp.name
            if lp.suffix.lower() in _IMAGE_EXT and rp.is_file():
                names.append((lp, rp))
    else:
        for lp in sorted(root.iterdir()):
            if lp.suffix.lower() in _IMAGE_EXT and lp.stem.endswith("_left"):
                rp = lp.with_name(lp.stem[: -len("_left")] + "_right" + lp.suffix)
                if rp.is_file():
                    names.append((lp, rp))
    if not names:
        raise ValueError(f"no stereo pairs in {root} (expected left/ + right/ or *_left/*_right images)")
    pairs = []
    for lp, rp in names[:max_pairs]:
        left, right = _read_rgb(lp), _read_rgb(rp)
        if left.shape != right.shape:
            raise ValueError(f"{lp.name}: left {left.shape} and right {right.shape} differ in size")
        pairs.append((left, right))
    return pairs


def save_pairs_folder(samples: list[StereoSample], folder: str | Path) -> Path:
    """Write samples as ``left/NNNN.png`` + ``right/NNNN.png`` (and ``depth/NNNN.npy``)."""
    root = Path(folder)
    for sub in ("left", "right", "depth"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(samples):
        cv2.imwrite(str(root / "left" / f"{i:04d}.png"), s.left[:, :, ::-1])
        cv2.imwrite(str(root / "right" / f"{i:04d}.png"), s.right[:, :, ::-1])
        np.save(root / "depth" / f"{i:04d}.npy", s.depth_gt)
    return root


def load_pairs_bag(bag: str | Path, left_topic: str, right_topic: str, max_pairs: int = 10_000,
                   slop_s: float = 0.02) -> list[Pair]:
    """Pairs from a rosbag2 (MCAP or sqlite3) matched by header stamp within ``slop_s``."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    path = Path(bag)
    if not path.exists():
        raise ValueError(f"bag not found: {path}")
    typestore = get_typestore(Stores.ROS2_KILTED)
    streams: dict[str, list[tuple[float, NDArray[np.uint8]]]] = {left_topic: [], right_topic: []}
    wanted = {t.lstrip("/") for t in streams}
    try:
        with AnyReader([path], default_typestore=typestore) as reader:
            conns = [c for c in reader.connections if c.topic.lstrip("/") in wanted]
            found = {c.topic.lstrip("/") for c in conns}
            if found != wanted:
                raise ValueError(f"bag {path} lacks topic(s) {sorted(wanted - found)}")
            for conn, _, raw in reader.messages(connections=conns):
                msg: Any = reader.deserialize(raw, conn.msgtype)
                stamp = float(msg.header.stamp.sec) + 1e-9 * float(msg.header.stamp.nanosec)
                key = left_topic if conn.topic.lstrip("/") == left_topic.lstrip("/") else right_topic
                streams[key].append((stamp, rgb_from_image(msg)))
    except ConversionError as exc:
        raise ValueError(f"bag {path}: {exc}") from exc
    for s in streams.values():
        s.sort(key=lambda e: e[0])
    pairs = pair_by_time(streams[left_topic], streams[right_topic], slop_s)[:max_pairs]
    if not pairs:
        raise ValueError(f"bag {path}: no left/right images within {slop_s} s of each other")
    for left, right in pairs:
        if left.shape != right.shape:
            raise ValueError(f"bag {path}: left {left.shape} and right {right.shape} differ in size")
    return pairs
