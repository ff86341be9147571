"""Deterministic offline replay: the bag's messages go straight into the control core, no DDS.

The loop ticks on bag time at the controller's rate; every message logged at or before a tick is
fed first, so the order of inputs and ticks is a function of the bag alone and two runs give the
same commands bit for bit. Each message goes through the control node's own input layer
(:class:`~nav_r1.control.inputs.ControlInputs`: plan intake with its frame check, size cap and
numbering, odometry and teleop bounds, the obstacle source with the zones' region of interest,
height band and obstacle memory), so the verdict on a bag is the robot's verdict, minus
transport delays.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from tqdm import tqdm

from nav_r1.bag.evaluate import RunTrace
from nav_r1.bag.reader import BagError, BagMessage, BagSource
from nav_r1.bag.traces import TopicNames
from nav_r1.control import ControlConfig, ControlOutput, FastController
from nav_r1.control.inputs import ControlInputs, ObstacleSource, path_length_cdr
from r1_core.ros.convert import ConversionError


@dataclass
class OfflineStats:
    """Throughput of one offline replay (wall-clock figures stay out of the report)."""

    messages: int = 0
    steps: int = 0
    wall_s: float = 0.0


class OfflineReplay:
    """Feeds one bag into a fresh :class:`FastController`; call :meth:`run` once."""

    def __init__(self, source: BagSource, config: ControlConfig, names: TopicNames | None = None,
                 odom_frame: str = "odom") -> None:
        self.source = source
        # Plans in another frame are dropped, as the node's ``odom_frame`` parameter does.
        self.odom_frame = odom_frame
        self.cfg = config
        self.names = names or TopicNames()
        mux = config.mux
        # Topic -> mux input / lock name, as the node subscribes them.
        self._teleop = dict(zip(mux.input_topics, mux.input_names, strict=True))
        self._locks = dict(zip(mux.lock_topics, mux.lock_names, strict=True))
        n = self.names
        self.inputs = [t for t in (n.odom, n.plan, n.depth, n.depth_info, *self._teleop, *self._locks)
                       if t in source.topics]
        self.stats = OfflineStats()
        # The last message the core rejected, for the report's reader (counted in loop.inputs).
        self.last_rejection = ""

    def run(self, progress: bool = False) -> RunTrace:
        """Replay every input message and return what the controller commanded."""
        ctrl = FastController(self.cfg)
        inputs = ControlInputs(ctrl, odom_frame=self.odom_frame, source=ObstacleSource(self.cfg, "depth"))
        trace = RunTrace(mode="offline")
        t0 = self.source.start_ns
        period_ns = round(1e9 / self.cfg.rate_hz)
        tick = t0
        states: Counter[str] = Counter()
        counters: Counter[str] = Counter()
        total = sum(self.source.count(t) for t in self.inputs)
        wall0 = time.perf_counter()
        with tqdm(total=total, disable=not progress, unit="msg", desc="offline replay") as bar:
            for m in self.source.messages(self.inputs):
                while tick < m.t_ns:
                    self._record(trace, inputs.tick(tick * 1e-9), tick, t0, states)
                    self.stats.steps += 1
                    tick += period_ns
                out = self._feed(inputs, m, counters)
                if out is not None:
                    self._record(trace, out, m.t_ns, t0, None)
                self.stats.messages += 1
                bar.update()
            while tick <= self.source.end_ns:
                self._record(trace, inputs.tick(tick * 1e-9), tick, t0, states)
                self.stats.steps += 1
                tick += period_ns
        self.stats.wall_s = time.perf_counter() - wall0
        trace.loop = {
            "steps": self.stats.steps,
            "immediate_outputs": len(trace.commands) - self.stats.steps,
            "rate_hz": self.cfg.rate_hz,
            "state_share": {k: round(v / max(self.stats.steps, 1), 6) for k, v in sorted(states.items())},
            "inputs": dict(sorted(counters.items())),
        }
        return trace

    def _record(self, trace: RunTrace, out: ControlOutput, t_ns: int, t0: int,
                states: Counter[str] | None) -> None:
        """Keep one output; ``states`` counts loop steps only (not the immediate stop outputs)."""
        t = (t_ns - t0) * 1e-9
        trace.commands.append((t, out.twist, out.source))
        if states is not None:
            states[out.label] += 1
        for ev in out.events:
            trace.events.append((t, ev.to_dict()))

    def _feed(self, inputs: ControlInputs, m: BagMessage, counters: Counter[str]) -> ControlOutput | None:
        """Hand one message to the input layer as the node does; a refused message is counted and skipped."""
        now = m.t_ns * 1e-9
        n = self.names
        out = None
        try:
            if m.topic == n.plan:
                count = path_length_cdr(m.raw)  # the node's size check, before deserialising
                if count is not None:
                    inputs.plan_size(count)
            msg = self.source.deserialize(m)
            if m.topic == n.depth:
                out = inputs.depth(msg, now)
            elif m.topic == n.depth_info:
                out = inputs.camera_info(msg, now)
            elif m.topic == n.odom:
                inputs.odometry(msg, now)
            elif m.topic == n.plan:
                inputs.plan(msg, now)
            elif m.topic in self._teleop:
                inputs.teleop(self._teleop[m.topic], msg, now)
            elif m.topic in self._locks:
                inputs.lock_input(self._locks[m.topic], bool(msg.data), now)
        except LookupError:
            counters["depth_before_camera_info"] += 1
            return None
        except (ValueError, ConversionError, AttributeError, TypeError) as exc:
            counters[f"rejected:{m.topic}"] += 1
            self.last_rejection = f"{m.topic}: {exc}"
            return None
        counters[m.topic] += 1
        return out


def run_offline(source: BagSource, config: ControlConfig, names: TopicNames | None = None,
                progress: bool = False) -> tuple[RunTrace, OfflineStats]:
    """Offline replay of ``source``; raises BagError when the bag has nothing to drive the core."""
    replay = OfflineReplay(source, config, names)
    if not replay.inputs:
        raise BagError(f"bag '{source.path}' holds none of the control node's input topics")
    trace = replay.run(progress)
    return trace, replay.stats
