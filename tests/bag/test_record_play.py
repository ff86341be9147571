"""BagRecorder and BagPlayer over a private ROS domain: record what is published, replay with /clock."""

from __future__ import annotations

import json
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import TwistStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from nav_r1.bag.player import BagPlayer, PlayOptions, parse_remaps  # noqa: E402
from nav_r1.bag.reader import BagError, BagSource  # noqa: E402
from nav_r1.bag.record import BagRecorder  # noqa: E402
from r1_core.ros.node_main import use_default_dds_profile  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture
def ctx():
    use_default_dds_profile()
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    if context.ok():
        rclpy.shutdown(context=context)


class _Spin:
    """Spin nodes on a background executor; shut down and join on exit (REFERENCE.md)."""

    def __init__(self, ctx, *nodes):
        self.ex = SingleThreadedExecutor(context=ctx)
        for n in nodes:
            self.ex.add_node(n)
        self.th = threading.Thread(target=self.ex.spin, daemon=True)

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *exc):
        self.ex.shutdown(timeout_sec=2.0)
        self.th.join(timeout=2.0)


def _wait(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_recorder_writes_what_was_published(ctx, tmp_path):
    pub_node = Node("bag_test_pub", context=ctx)
    rec_node = Node("bag_test_rec", context=ctx)
    status = pub_node.create_publisher(String, "nav_r1/status", 10)
    cmd = pub_node.create_publisher(TwistStamped, "cmd_vel", 10)
    bag = tmp_path / "rec"
    with _Spin(ctx, pub_node, rec_node):
        # One topic by type, one resolved from the graph (its publisher exists already).
        rec = BagRecorder(rec_node, {"nav_r1/status": String}, bag)
        rec2 = BagRecorder(rec_node, ["cmd_vel"], tmp_path / "rec2")
        assert rec2.topics == {"cmd_vel": "geometry_msgs/msg/TwistStamped"}
        assert _wait(lambda: status.get_subscription_count() > 0 and cmd.get_subscription_count() > 0)
        for i in range(20):
            status.publish(String(data=json.dumps({"reasoning": f"step {i}", "plan_id": i})))
            m = TwistStamped()
            m.twist.linear.x = 0.01 * i
            cmd.publish(m)
            time.sleep(0.005)
        assert _wait(lambda: rec.stats.written.get("nav_r1/status", 0) == 20
                     and rec2.stats.written.get("cmd_vel", 0) == 20)
        rec.close()
        rec2.close()
    with BagSource(bag) as src:
        assert src.topics == {"nav_r1/status": "std_msgs/msg/String"}
        got = [json.loads(src.deserialize(m).data)["plan_id"] for m in src.messages()]
        assert got == list(range(20))
    with BagSource(tmp_path / "rec2") as src:
        assert [round(src.deserialize(m).twist.linear.x, 3) for m in src.messages()] == [
            round(0.01 * i, 3) for i in range(20)]
    with pytest.raises(FileExistsError):
        BagRecorder(rec_node, {"x": String}, bag)
    with pytest.raises(ValueError, match="no publisher advertises"):
        BagRecorder(rec_node, ["not/there"], tmp_path / "rec3")
    pub_node.destroy_node()
    rec_node.destroy_node()


def test_player_publishes_clock_and_remapped_topics_at_rate(ctx, phase_bag):
    bag, ph = phase_bag
    node = Node("bag_test_play", context=ctx)
    sub = Node("bag_test_sub", context=ctx)
    clocks: list[float] = []
    odoms: list[float] = []
    sub.create_subscription(Clock, "/clock", lambda m: clocks.append(m.clock.sec + m.clock.nanosec * 1e-9), 100)
    keep_all = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)
    sub.create_subscription(Odometry, "robot/odom",
                            lambda m: odoms.append(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9), keep_all)
    with BagSource(bag) as src, _Spin(ctx, node, sub):
        opts = PlayOptions(rate=10.0, topics=("odom",), remap=parse_remaps(["/odom:=robot/odom"]))
        player = BagPlayer(node, src, opts)
        assert player.topics == ["odom"] and player.live_name("odom") == "robot/odom"
        player.wait_for_subscribers(["odom"], 10.0)
        t = time.monotonic()
        stats = player.play()
        wall = time.monotonic() - t
        assert _wait(lambda: len(odoms) == stats.published["odom"], 10.0), (len(odoms), stats)
    assert stats.published["odom"] == round(ph.duration * ph.odom_hz) + 1
    # 6 s of bag at rate 10 takes about 0.6 s (plus the pre-roll); never faster than the bag allows.
    assert wall >= ph.duration / 10.0
    assert clocks == sorted(clocks) and clocks[0] == pytest.approx(100.0)
    assert clocks[-1] == pytest.approx(100.0 + ph.duration, abs=1e-6)
    node.destroy_node()
    sub.destroy_node()


def test_player_refuses_unknown_topics_and_bad_rates(ctx, phase_bag):
    node = Node("bag_test_bad", context=ctx)
    with BagSource(phase_bag[0]) as src:
        with pytest.raises(BagError, match="not in the bag"):
            BagPlayer(node, src, PlayOptions(topics=("nope",)))
        with pytest.raises(BagError, match="nothing left"):
            BagPlayer(node, src, PlayOptions(topics=("cmd_vel",)))
    with pytest.raises(ValueError, match="rate"):
        PlayOptions(rate=0.0)
    with pytest.raises(ValueError, match="old:=new"):
        parse_remaps(["odom=x"])
    node.destroy_node()


def test_record_cli_records_advertised_topics(ctx, tmp_path):
    """``nav-r1 record -o BAG topics``: a separate process discovers, records for --duration, seals."""
    import subprocess
    import sys

    node = Node("bag_test_cli_pub", context=ctx)
    pub = node.create_publisher(String, "nav_r1/status", 10)
    stop = threading.Event()

    def publish():
        i = 0
        while not stop.is_set():
            pub.publish(String(data=json.dumps({"plan_id": i})))
            i += 1
            time.sleep(0.02)

    th = threading.Thread(target=publish, daemon=True)
    bag = tmp_path / "cli"
    with _Spin(ctx, node):
        th.start()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", "import sys; from nav_r1.bag.cli import record_main; "
                 "sys.exit(record_main(sys.argv[1:]))", "-o", str(bag), "nav_r1/status", "not/advertised",
                 "--duration", "1.5", "--discover", "3"],
                capture_output=True, text=True, timeout=180,
            )
        finally:
            stop.set()
            th.join()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "recorded" in proc.stdout
    with BagSource(bag) as src:
        assert src.topics == {"nav_r1/status": "std_msgs/msg/String"}
        ids = [json.loads(src.deserialize(m).data)["plan_id"] for m in src.messages()]
    assert len(ids) > 10 and ids == sorted(ids)
    node.destroy_node()
