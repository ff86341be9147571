"""End to end in MuJoCo: instruction -> VLA-R1-format reply -> plan -> streamed joints -> physics."""

import numpy as np
import pytest

pytest.importorskip("mujoco")

from r1_core.reasoner import Frame, Observation, Response
from vla_r1.sim.episode import run_episode

pytestmark = pytest.mark.e2e


def test_ten_seeded_scenes_reach_within_2cm(kin):
    results = [run_episode(seed, ("affordance", "trajectory")[seed % 2], kin) for seed in range(10)]
    report = [(r.seed, r.task, r.target, r.reason, round(r.reach_error, 4), r.grasped) for r in results]
    reached = [r for r in results if r.success(0.02)]
    assert len(reached) >= 9, report
    grasps = [r for r in results if r.task == "affordance"]
    assert sum(bool(r.grasped) for r in grasps) >= 4, report


def test_a_malformed_reply_moves_nothing(kin):
    class Babbler:
        name = "babbler"

        def infer(self, observation: Observation) -> Response:
            assert isinstance(observation.frame, Frame) and observation.frame.depth is not None
            return Response(text="<think>?</think><output>{'x': 7}</output>", model=self.name)

        def reset(self) -> None:
            pass

    r = run_episode(0, "affordance", kin, reasoner=Babbler())
    assert not r.ok and "reply not usable" in r.reason and "lacks" in r.reason
    assert not np.isfinite(r.reach_error)
