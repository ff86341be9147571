"""Write a replay report: ``report.json``, ``report.md`` and plots, all or nothing.

Everything is written into a temporary folder beside the target and renamed into place at the
end, so a replay that fails half-way (corrupt bag, missing topic) leaves no report behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on robots and CI
import matplotlib.pyplot as plt

from nav_r1.bag.evaluate import RunTrace
from nav_r1.bag.traces import BagTraces

PLOTS = ("commands.png", "latency.png", "trajectory.png")


class ReportDir:
    """A report folder written atomically: use as a context manager, write into ``tmp``."""

    def __init__(self, target: str | Path, *, overwrite: bool = False) -> None:
        self.target = Path(target)
        if self.target.exists() and not overwrite:
            raise FileExistsError(f"report folder '{self.target}' exists; pass --force to replace it")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))

    def __enter__(self) -> ReportDir:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.target.exists():
            shutil.rmtree(self.target)
        self.tmp.rename(self.target)


def write_report(out: Path, report: dict[str, Any], bag: BagTraces, run: RunTrace, plots: bool = True) -> None:
    """Write report.json, report.md and (unless ``plots`` is False) the plots into ``out``."""
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if plots:
        plot_commands(out / "commands.png", bag, run)
        plot_latency(out / "latency.png", report, bag)
        plot_trajectory(out / "trajectory.png", bag)
    (out / "report.md").write_text(markdown(report, plots))


def plot_commands(path: Path, bag: BagTraces, run: RunTrace) -> None:
    """Commanded against recorded vx and wz over time, with the safety events marked."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, axis, unit in ((axes[0], "vx", "m/s"), (axes[1], "wz", "rad/s")):
        if bag.recorded_cmds:
            ax.step([t for t, _ in bag.recorded_cmds], [getattr(c, axis) for _, c in bag.recorded_cmds],
                    where="post", label="recorded", color="tab:gray")
        if run.commands:
            ax.step([t for t, _, _ in run.commands], [getattr(c, axis) for _, c, _ in run.commands],
                    where="post", label=f"commanded ({run.mode})", color="tab:blue")
        for t, ev in run.events:
            color = {"stop": "tab:red", "slowdown": "tab:orange"}.get(str(ev.get("action")), "tab:green")
            ax.axvline(t, color=color, lw=0.8, ls="--")
        ax.set_ylabel(f"{axis} [{unit}]")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right")
    axes[1].set_xlabel("bag time [s] (dashed: safety events; red stop, orange slowdown, green clear)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_latency(path: Path, report: dict[str, Any], bag: BagTraces) -> None:
    """Histograms of plan latency, reasoner timings and control period."""
    series: list[tuple[str, list[float]]] = []
    seen: set[float] = set()
    latency = []
    for t, p in bag.plans:  # first arrivals only, as in the report
        if p.stamp > 0.0 and p.stamp not in seen:
            seen.add(p.stamp)
            latency.append(t - (p.stamp - bag.t0_s))
    series.append(("plan latency [s]", latency))
    for key in sorted(report["plans"]["reasoner_timings"]):
        vals = [st.timings[key] for _, st in bag.status if key in st.timings]
        series.append((f"reasoner {key}", vals))
    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3.2), squeeze=False)
    for ax, (name, vals) in zip(axes[0], series, strict=True):
        if vals:
            ax.hist(vals, bins=min(30, max(5, len(vals) // 2)), color="tab:blue")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_trajectory(path: Path, bag: BagTraces) -> None:
    """Top-down odometry path with the plans, the goal and the reference path."""
    fig, ax = plt.subplots(figsize=(6, 6))
    if bag.odom:
        ax.plot([o.pose.x for _, o in bag.odom], [o.pose.y for _, o in bag.odom], label="odometry", color="tab:blue")
        ax.plot(bag.odom[0][1].pose.x, bag.odom[0][1].pose.y, "o", color="tab:blue")
    for i, (_, plan) in enumerate(bag.plans):
        if plan.poses:
            ax.plot([p.x for p in plan.poses], [p.y for p in plan.poses], ".--", color="tab:orange", lw=0.6,
                    label="plans" if i == 0 else None)
    if bag.reference_path:
        ax.plot([p[0] for p in bag.reference_path], [p[1] for p in bag.reference_path], color="tab:green",
                label="reference")
    if bag.goal:
        ax.plot(*bag.goal, "*", ms=14, color="tab:red", label="goal")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x [m] (odom)")
    ax.set_ylabel("y [m] (odom)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _stats_row(name: str, s: dict[str, Any]) -> str:
    return f"| {name} | {s['n']} | {_fmt(s['mean'])} | {_fmt(s['p50'])} | {_fmt(s['p95'])} | {_fmt(s['max'])} |"


def markdown(report: dict[str, Any], plots: bool = True) -> str:
    """The report as Markdown, with the plots linked when there are any."""
    cmd, saf, plans, loop = report["commands"], report["safety"], report["plans"], report["control_loop"]
    names = report.get("reasoner") or ["not recorded"]
    who = ", ".join(f"{n} (privileged: plans on the true map, an upper bound)" if n == "sim-expert" else n
                    for n in names)
    lines = [f"# Replay report ({report['mode']})", "", f"Bag: {report['bag']['duration_s']} s, "
             f"{len(report['bag']['topics'])} topics. Reasoner: {who}.", "", "## Commands against the recording", ""]
    if cmd.get("available"):
        lines += [f"Action agreement: **{cmd['action_agreement']:.3f}** over {cmd['samples']} recorded commands.",
                  "", "| axis | RMSE | MAE | max abs |", "|---|---|---|---|"]
        lines += [f"| {a} | {_fmt(e['rmse'])} | {_fmt(e['mae'])} | {_fmt(e['max_abs'])} |"
                  for a, e in cmd["velocity_error"].items()]
    else:
        lines.append(f"Not available: {cmd['reason']}.")
    lines += ["", "![commands](commands.png)", "", "## Safety", "",
              f"Events: {saf['counts'] or 'none'}; stop target {saf['stop_target_s']} s.", ""]
    if saf["stops"]:
        lines += ["| obstacle appeared [s] | standstill commanded [s] | time to stop [s] | within target |",
                  "|---|---|---|---|"]
        lines += [f"| {_fmt(s['obstacle_appeared_s'])} | {_fmt(s['standstill_commanded_s'])} | "
                  f"{_fmt(s['time_to_stop_s'])} | {'yes' if s['within_target'] else '**no**'} |"
                  for s in saf["stops"]]
    lines += ["", "## Plans and control loop", "", "| series | n | mean | p50 | p95 | max |",
              "|---|---|---|---|---|---|",
              _stats_row("plan latency [s]", plans["latency_s"]),
              _stats_row("plan interval [s]", plans["interval_s"]),
              _stats_row("plan staleness at command [s]", plans["staleness_s"]),
              _stats_row("control period [s]", loop["period_s"])]
    lines += [_stats_row(f"reasoner {k}", v) for k, v in plans["reasoner_timings"].items()]
    lines += ["", f"Control rate: {_fmt(loop['rate_hz'])} Hz; command sources: {loop['source_share']}.", "",
              "![latency](latency.png)", "",
              f"## Navigation (success radius and nDTW d_th {report['options']['success_radius_m']} m)", ""]
    nav, rew = report["navigation"], report["rewards"]
    lines.append(_kv(nav))
    lines += ["", "## Nav-R1 rewards", "", _kv(rew), "", "![trajectory](trajectory.png)", ""]
    if report["bag"]["bad_messages"]:
        lines += ["## Messages skipped", ""] + [f"- {m}" for m in report["bag"]["bad_messages"]] + [""]
    if not plots:
        lines = [ln for ln in lines if not ln.startswith("![")]
    return "\n".join(lines)


def _kv(section: dict[str, Any]) -> str:
    if not section.get("available", True):
        return f"Not available: {section.get('reason')}."
    return "\n".join(f"- {k}: {_fmt(v)}" for k, v in section.items() if k != "available")
