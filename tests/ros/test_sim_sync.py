"""Lock-step between a simulator master and participants, over real DDS in one process."""

from __future__ import annotations

import threading

import pytest
import rclpy
from rclpy.executors import MultiThreadedExecutor
from std_msgs.msg import Float64

from r1_core.ros.qos import RELIABLE_QOS
from r1_core.ros.sim_sync import SyncMaster, SyncParticipant

pytestmark = pytest.mark.ros


def test_ticks_wait_for_inputs_and_acks_and_chain_published_topics(ros_context) -> None:
    sim = rclpy.create_node("sim", context=ros_context)
    ctl = rclpy.create_node("ctl", context=ros_context)
    sensor_pub = sim.create_publisher(Float64, "sensor", RELIABLE_QOS)
    cmd_pub = ctl.create_publisher(Float64, "cmd", RELIABLE_QOS)
    handled: list[tuple[int, float, float]] = []
    last_sensor = {"v": -1.0}

    def on_tick(seq: int, t: float) -> dict[str, float]:
        handled.append((seq, t, last_sensor["v"]))
        cmd_pub.publish(Float64(data=t))
        return {"cmd": t}

    part = SyncParticipant(ctl, "ctl", watch=["sensor"], on_tick=on_tick, publishes=["cmd"])

    def sensor_cb(msg: Float64) -> None:
        last_sensor["v"] = msg.data
        part.received("sensor", msg.data)

    ctl.create_subscription(Float64, "sensor", sensor_cb, RELIABLE_QOS)
    master = SyncMaster(sim, participants=["ctl"], timeout_s=5.0)
    sim.create_subscription(Float64, "cmd", lambda m: master.received("cmd", m.data), RELIABLE_QOS)
    ex = MultiThreadedExecutor(num_threads=3, context=ros_context)
    ex.add_node(sim)
    ex.add_node(ctl)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    try:
        assert master.wait_for_participants(5.0)
        expect_cmd: dict[str, float] = {}
        for seq in range(20):
            t = 0.01 * (seq + 1)
            sensor_pub.publish(Float64(data=t))
            res = master.tick(seq, t, {"sensor": t, **expect_cmd}, consumes=["cmd"])
            assert res.missing == []
            assert res.published == {"cmd": t}
            expect_cmd = {}
        # every tick saw exactly the sensor value of its own tick: no race, no skipped input
        assert [h[0] for h in handled] == list(range(20))
        assert all(abs(h[1] - h[2]) < 1e-12 for h in handled)
        assert master.deadline_misses == 0
    finally:
        ex.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        sim.destroy_node()
        ctl.destroy_node()


def test_missing_participant_is_reported_not_waited_for_forever(ros_context) -> None:
    sim = rclpy.create_node("sim2", context=ros_context)
    master = SyncMaster(sim, participants=["ghost"], timeout_s=0.2)
    ex = MultiThreadedExecutor(num_threads=2, context=ros_context)
    ex.add_node(sim)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    try:
        res = master.tick(0, 0.01, {})
        assert res.missing == ["ghost"]
        assert master.deadline_misses == 1
    finally:
        ex.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        sim.destroy_node()


def test_participants_are_ready_only_once_their_topics_are_discovered(ros_context) -> None:
    """The hello handshake: no first tick while a watched topic has no publisher (it would be lost)."""
    sim = rclpy.create_node("sim3", context=ros_context)
    ctl = rclpy.create_node("ctl3", context=ros_context)
    part = SyncParticipant(ctl, "ctl3", watch=["sensor3"], on_tick=lambda seq, t: {})
    master = SyncMaster(sim, participants=["ctl3"], timeout_s=1.0)
    ex = MultiThreadedExecutor(num_threads=2, context=ros_context)
    ex.add_node(sim)
    ex.add_node(ctl)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    try:
        assert not part.ready()
        assert not master.wait_for_participants(1.5)  # answers hello, but not ready: no publisher yet
        sim.create_publisher(Float64, "sensor3", RELIABLE_QOS)
        assert master.wait_for_participants(10.0)
        assert part.ready()
    finally:
        ex.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        sim.destroy_node()
        ctl.destroy_node()
