"""Start the node graph as separate processes without ``ros2 launch`` (not installable as wheels).

Each :class:`~nav_r1.graph.NodeSpec` becomes ``python -c <entry point> --ros-args ...`` with the
same node name, namespace, parameter files, inline parameters (written to a YAML file, as
launch_ros does) and remappings that ``robot.launch.py`` gives ``launch_ros.actions.Node``.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from nav_r1.graph import NodeSpec


def entry_point(package: str, executable: str) -> str:
    """``module:function`` of a package's console script (what colcon installs under lib/<pkg>)."""
    try:
        eps = importlib.metadata.distribution(package).entry_points
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(f"package '{package}' is not installed (run `make install`)") from exc
    for ep in eps:
        if ep.group == "console_scripts" and ep.name == executable:
            return str(ep.value)
    raise FileNotFoundError(f"package '{package}' has no executable '{executable}'")


def ros_arguments(spec: NodeSpec, namespace: str, log_level: str, inline_params_file: Path | None) -> list[str]:
    """The ``--ros-args`` section the launch file's Node action would produce for this spec."""
    args = ["--ros-args", "--log-level", log_level, "-r", f"__node:={spec.name}"]
    if namespace:
        args += ["-r", f"__ns:=/{namespace.strip('/')}"]
    for f in spec.params_files:
        args += ["--params-file", f]
    if inline_params_file is not None:
        args += ["--params-file", str(inline_params_file)]
    for src, dst in spec.remappings:
        args += ["-r", f"{src}:={dst}"]
    return args


def write_inline_params(spec: NodeSpec, folder: Path) -> Path | None:
    """Write a spec's inline parameters as a ROS parameter file (``/**`` section), as launch_ros does."""
    if not spec.parameters:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}.params.yaml"
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in spec.parameters.items()}
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}, sort_keys=True))
    return path


def command(spec: NodeSpec, namespace: str, log_level: str, params_dir: Path) -> list[str]:
    """The full command line that starts one node of the graph."""
    module, _, func = entry_point(spec.package, spec.executable).partition(":")
    code = f"import sys; from {module} import {func} as main; sys.exit(main())"
    inline = write_inline_params(spec, params_dir)
    return [sys.executable, "-c", code, *ros_arguments(spec, namespace, log_level, inline)]


@dataclass
class Process:
    """One started node."""

    spec: NodeSpec
    popen: subprocess.Popen[bytes]
    log: Path | None


class Graph:
    """The running graph: start, watch, and stop (SIGINT, then SIGTERM, then SIGKILL)."""

    def __init__(self, specs: Sequence[NodeSpec], *, namespace: str = "", log_level: str = "info",
                 run_dir: Path, env: Mapping[str, str] | None = None, log_to_files: bool = True) -> None:
        self.specs = list(specs)
        self.namespace = namespace
        self.log_level = log_level
        self.run_dir = run_dir
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.log_to_files = log_to_files
        self.processes: list[Process] = []
        self._files: list[IO[bytes]] = []

    def start(self) -> None:
        """Start every node in order."""
        logs = self.run_dir / "logs"
        if self.log_to_files:
            logs.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            cmd = command(spec, self.namespace, self.log_level, self.run_dir / "params")
            log: Path | None = None
            out: Any = None
            if self.log_to_files:
                log = logs / f"{spec.name}.log"
                fh = log.open("wb")
                self._files.append(fh)
                out = fh
            popen = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                     start_new_session=True)
            self.processes.append(Process(spec, popen, log))

    def dead(self) -> list[tuple[str, int]]:
        """Nodes that have exited, with their exit codes."""
        return [(p.spec.name, rc) for p in self.processes if (rc := p.popen.poll()) is not None]

    def process(self, name: str) -> Process:
        """The process of a node by name."""
        for p in self.processes:
            if p.spec.name == name:
                return p
        raise KeyError(name)

    def stop(self, timeout_s: float = 5.0) -> dict[str, int]:
        """Stop every node (reverse order) and return the exit codes."""
        for p in reversed(self.processes):
            if p.popen.poll() is None:
                p.popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        codes: dict[str, int] = {}
        for p in self.processes:
            try:
                codes[p.spec.name] = p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.terminate()
                try:
                    codes[p.spec.name] = p.popen.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
                    codes[p.spec.name] = p.popen.wait()
        for fh in self._files:
            fh.close()
        self._files.clear()
        return codes

    def tail(self, name: str, lines: int = 20) -> str:
        """The last lines of a node's log, for error messages."""
        p = self.process(name)
        if p.log is None or not p.log.is_file():
            return ""
        return "\n".join(p.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Graph:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
