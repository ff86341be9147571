"""Embedded simulator throughput: physics steps/s, RGB-D renders/s and stereo pairs/s.

Figures are printed with a ratio against a baseline measured in the same run: an RGB render of
the same scene built with MuJoCo's default shadow settings (4096 shadow map, shadow-casting
light), the settings our world turns off.  Rendering is on the CPU (MUJOCO_GL=egl with Mesa
llvmpipe here); on a shared machine the figures move with the load, which is printed.

    .venv/bin/python bench/bench_sim.py [--seconds 2] [--robot dog]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # imported after MUJOCO_GL is set

from r1_core.reasoner import Pose2D
from r1_core.robots import MOBILE_ROBOTS
from r1_sim.mjcf import build_mjcf
from r1_sim.navmap import NavMap
from r1_sim.robots import robot_profile
from r1_sim.scene import load_scene
from r1_sim.world import SimConfig, Simulator


def rate(fn, seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    ap.add_argument("--robot", default="dog", choices=MOBILE_ROBOTS)
    ap.add_argument("--scene", default="apartment_4room")
    args = ap.parse_args()
    scene = load_scene(args.scene)
    nm = NavMap(scene, robot_profile(args.robot).radius)
    start = nm.nearest_free(scene.rooms[0].center)
    pose = Pose2D(start[0], start[1], 0.3, 1.0)
    print(f"MuJoCo {mujoco.__version__}, MUJOCO_GL={os.environ['MUJOCO_GL']}, robot {args.robot}, "
          f"scene {args.scene}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    sim = Simulator(args.robot, scene, SimConfig(width=320, height=240))
    sim.reset(pose)
    sim.apply_command(0.3, 0.0, 0.0, 0.2)
    h = sim.model.opt.timestep
    steps = rate(lambda: sim.step(h), args.seconds)
    print(f"physics: {steps:9.0f} steps/s of {h * 1000:.1f} ms = {steps * h:6.1f}x real time")

    # Baseline: the same scene and camera with MuJoCo's default shadows.
    xml = build_mjcf(scene, sim.body, sim.profile, fovy_deg=60.0, timestep=h, max_width=640, max_height=480)
    xml = xml.replace('shadowsize="0"', 'shadowsize="4096"').replace('castshadow="false"', 'castshadow="true"')
    base_model = mujoco.MjModel.from_xml_string(xml)
    base_data = mujoco.MjData(base_model)
    base_data.qpos[:] = sim.data.qpos
    mujoco.mj_forward(base_model, base_data)
    renderer = mujoco.Renderer(base_model, 240, 320)

    def shadowed() -> None:
        renderer.update_scene(base_data, camera="head")
        renderer.render()

    base = rate(shadowed, args.seconds)
    renderer.close()
    print(f"baseline RGB render 320x240 with default shadows: {base:7.1f} /s")
    for w, hgt in ((320, 240), (640, 480)):
        s = Simulator(args.robot, scene, SimConfig(width=w, height=hgt))
        s.reset(pose)
        rgb = rate(lambda s=s: s._render("head", False), args.seconds)
        depth = rate(lambda s=s: s._render("head", True), args.seconds)
        rgbd = rate(s.render_rgbd, args.seconds)
        stereo = rate(s.render_stereo, args.seconds)
        print(f"{w}x{hgt}: RGB {rgb:7.1f}/s  depth {depth:7.1f}/s  RGB-D {rgbd:7.1f}/s  stereo pairs {stereo:7.1f}/s"
              f"   (RGB vs shadowed baseline: {rgb / base:5.2f}x)")
        s.close()
    sim.close()


if __name__ == "__main__":
    main()
