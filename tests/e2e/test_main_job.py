"""The main job end to end: the whole graph in lock-step, a report, reproducible numbers, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

NAV_R1 = [sys.executable, "-c", "import sys; from nav_r1.cli import main; sys.exit(main())"]


def _run(args: list[str], timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NAV_R1, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """The same seeded two-episode run twice (dog, lock-step, no stereo node to keep it short)."""
    base = tmp_path_factory.mktemp("mainjob")
    outs = []
    for name in ("a", "b"):
        out = base / name
        proc = _run(["sim", "--robot", "dog", "--episodes", "2", "--seed", "1", "--depth", "none",
                     "--out", str(out)])
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outs.append(out)
    return outs[0], outs[1]


def test_run_folder_holds_a_complete_report(two_runs) -> None:
    out, _ = two_runs
    for name in ("report.md", "report.json", "episodes.json", "results.jsonl"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["episodes"] == 2 and len(report["episodes"]) == 2
    for ep in report["episodes"]:
        assert (out / ep["picture"]).is_file()
        assert 0.0 <= ep["spl"] <= 1.0 and 0.0 <= ep["ndtw"] <= 1.0
    # The expert, parsed, planned and executed through the real nodes, reaches its goals.
    assert report["aggregate"]["success"] == 1.0
    assert list((out / "bag").glob("*.mcap")), "no MCAP bag written"
    md = (out / "report.md").read_text()
    assert "## Aggregate" in md and "## Episodes" in md and "## Control loop" in md


def test_same_seed_gives_the_same_metrics(two_runs) -> None:
    a, b = (json.loads((r / "report.json").read_text()) for r in two_runs)
    keys = ("ne", "success", "oracle_success", "spl", "ndtw", "sdtw", "path_length", "collisions", "episode_time")
    for ea, eb in zip(a["episodes"], b["episodes"], strict=True):
        assert {k: ea[k] for k in keys} == {k: eb[k] for k in keys}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--robot", "cat"], "unknown robot 'cat'"),
        (["--scene", "no_such_scene"], "no_such_scene"),
        (["--reasoner", "expret"], "did you mean 'expert'"),
        (["--episodes", "0"], "--episodes must be at least 1"),
    ],
)
def test_bad_options_fail_clearly_without_a_run_folder(tmp_path, args, message) -> None:
    out = tmp_path / "run"
    proc = _run(["sim", *args, "--out", str(out)], timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not out.exists() and not out.with_name("run.partial").exists()


def test_bad_episode_file_names_the_field(tmp_path) -> None:
    bad = tmp_path / "eps.json"
    bad.write_text(json.dumps({"schema": "r1_sim.episodes/1", "episodes": [{"episode_id": "x", "scene": "seed"}]}))
    out = tmp_path / "run"
    proc = _run(["sim", "--episodes-file", str(bad), "--out", str(out)], timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "episode" in proc.stderr and ("robot" in proc.stderr or "instruction" in proc.stderr
                                         or "start" in proc.stderr or "scene" in proc.stderr)
    assert not out.exists() and not out.with_name("run.partial").exists()
