"""A corrupt, truncated or empty bag, or a missing topic: a clear error and no report folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from phases import Phases, build_phase_bag
from rosbags.rosbag2 import StoragePlugin, Writer

from nav_r1.bag.cli import replay_main
from nav_r1.bag.mcap_crc import McapFormatError, seal_chunk_crcs
from nav_r1.bag.reader import BagError, BagSource, typestore


def _fails(bag: Path, out: Path, capsys, *needles: str) -> str:
    assert replay_main([str(bag), "--report", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    for n in needles:
        assert n in err, err
    assert "no report written" in err
    assert not out.exists()
    assert not any(p.name.startswith(f".{out.name}.") for p in out.parent.iterdir()), "temp folder left"
    return err


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return next(dst.glob("*.mcap"))


@pytest.mark.parametrize("where", [0.02, 0.3, 0.6, 0.9])
def test_corrupt_bag(phase_bag, tmp_path, capsys, where):
    mcap = _copy(phase_bag[0], tmp_path / "bag")
    data = bytearray(mcap.read_bytes())
    at = int(len(data) * where)
    data[at:at + 32] = bytes(b ^ 0x5A for b in data[at:at + 32])
    mcap.write_bytes(bytes(data))
    _fails(tmp_path / "bag", tmp_path / "report", capsys, "bag", "corrupt")


def test_truncated_bag(phase_bag, tmp_path, capsys):
    mcap = _copy(phase_bag[0], tmp_path / "bag")
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    _fails(tmp_path / "bag", tmp_path / "report", capsys, "cannot be opened")


def test_truncated_sqlite3_bag(tmp_path, capsys):
    bag = tmp_path / "bag"
    build_phase_bag(bag, storage="sqlite3")
    db = next(bag.glob("*.db3"))
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    _fails(bag, tmp_path / "report", capsys, "malformed")


def test_empty_bag(tmp_path, capsys):
    bag = tmp_path / "bag"
    w = Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP)
    w.open()
    w.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=typestore())
    w.close()
    _fails(bag, tmp_path / "report", capsys, "is empty")


def test_not_a_bag(tmp_path, capsys):
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "notes.txt").write_text("hello")
    _fails(tmp_path / "bag", tmp_path / "report", capsys, "cannot be opened")
    _fails(tmp_path / "missing", tmp_path / "report", capsys, "does not exist")


@pytest.mark.parametrize("topic", ["/odom", "/camera/depth/image_raw", "/camera/depth/camera_info"])
def test_missing_topic(tmp_path, capsys, topic):
    bag = tmp_path / "bag"
    build_phase_bag(bag, Phases(omit=(topic,)))
    _fails(bag, tmp_path / "report", capsys, "lacks topic", topic.lstrip("/"))


def test_existing_report_is_kept_unless_forced(phase_bag, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert replay_main([str(phase_bag[0]), "--report", str(out), "--no-progress"]) == 1
    assert "exists" in capsys.readouterr().err and (out / "mine.txt").exists()
    assert replay_main([str(phase_bag[0]), "--report", str(out), "--no-progress", "--no-plots", "--force"]) == 0
    assert not (out / "mine.txt").exists() and (out / "report.json").exists()


def test_bad_arguments_exit_2(phase_bag, tmp_path, capsys):
    out = tmp_path / "r"
    assert replay_main([str(phase_bag[0]), "--report", str(out), "--rate", "0"]) == 2
    assert replay_main([str(phase_bag[0]), "--report", str(out), "--profile", "wheeld"]) == 2
    assert "did you mean 'wheeled'" in capsys.readouterr().err
    assert replay_main([str(phase_bag[0]), "--report", str(out), "--remap", "odom"]) == 2
    assert not out.exists()


def test_seal_refuses_a_non_mcap_file(tmp_path):
    f = tmp_path / "x.mcap"
    f.write_bytes(b"not an mcap file at all")
    with pytest.raises(McapFormatError):
        seal_chunk_crcs(f)


def test_reader_require_names_every_missing_topic(phase_bag):
    with BagSource(phase_bag[0]) as src, pytest.raises(BagError, match="a/b, c"):
        src.require(["odom", "a/b", "c"])
