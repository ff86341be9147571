"""Start the node graph as separate processes without ``ros2 launch`` (not installable as wheels).

Each :class:`~r1_core.graph.NodeSpec` becomes ``python -c <entry point> --ros-args ...`` with the
same node name, namespace, parameter files, inline parameters (written to a YAML file, as
launch_ros does) and remappings that the launch files (``r1_core.ros.launch_nodes``) give ``launch_ros.actions.Node``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from r1_core.graph import EXIT_TAIL_LINES, LaunchArgument, NodeSpec, add_options, exit_reason
from r1_core.params import ParamError


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


def ament_executable(package: str, executable: str) -> Path | None:
    """``lib/<package>/<executable>`` in a sourced ROS workspace (AMENT_PREFIX_PATH), as ``ros2 run`` finds it."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        path = Path(prefix) / "lib" / package / executable
        if prefix and path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def command(spec: NodeSpec, namespace: str, log_level: str, params_dir: Path) -> list[str]:
    """The full command line that starts one node of the graph.

    Our Python nodes start from their console-script entry point with this interpreter; anything
    else (a camera driver) from a sourced ROS workspace, or a clear error naming the package.
    """
    try:
        module, _, func = entry_point(spec.package, spec.executable).partition(":")
        # The early-signal guard first: a stop during the node's imports is an exit 0, not a traceback.
        head = [sys.executable, "-c", "import sys; from r1_core.early_signals import install; install(); "
                f"from {module} import {func} as main; sys.exit(main())"]
    except FileNotFoundError as exc:
        found = ament_executable(spec.package, spec.executable)
        if found is None:
            raise FileNotFoundError(f"node '{spec.name}': {exc}, and no lib/{spec.package}/{spec.executable} in "
                                    "AMENT_PREFIX_PATH (install it and source the workspace, or leave it out of "
                                    "the graph)") from None
        head = [str(found)]
    inline = write_inline_params(spec, params_dir)
    return [*head, *ros_arguments(spec, namespace, log_level, inline)]


@dataclass
class Process:
    """One started node, with the last lines it printed (for the message when it exits)."""

    spec: NodeSpec
    popen: subprocess.Popen[bytes]
    log: Path | None
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=EXIT_TAIL_LINES * 4))
    relay: threading.Thread | None = None


def _relay(proc: Process, out: IO[str]) -> None:
    """Copy a node's output to ``out`` line by line, prefixed with its name (as ros2 launch does)."""
    assert proc.popen.stdout is not None
    for raw in iter(proc.popen.stdout.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        proc.last_lines.append(line)
        with contextlib.suppress(OSError, ValueError):  # our own output closed: keep draining the pipe
            print(f"[{proc.spec.name}] {line}", file=out, flush=True)


class Graph:
    """The running graph: start, watch, and stop (SIGINT, then SIGTERM, then SIGKILL).

    With ``log_to_files`` each node writes ``<run_dir>/logs/<name>.log``; otherwise its output is
    relayed to ``out`` (the terminal) by a thread per node, which also keeps its last lines.
    """

    def __init__(self, specs: Sequence[NodeSpec], *, namespace: str = "", log_level: str = "info",
                 run_dir: Path, env: Mapping[str, str] | None = None, log_to_files: bool = True,
                 out: IO[str] | None = None) -> None:
        self.specs = list(specs)
        self.namespace = namespace
        self.log_level = log_level
        self.run_dir = run_dir
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.log_to_files = log_to_files
        self.out = out if out is not None else sys.stdout
        self.processes: list[Process] = []
        self._files: list[IO[bytes]] = []

    def start(self) -> None:
        """Start every node in order."""
        logs = self.run_dir / "logs"
        if self.log_to_files:
            logs.mkdir(parents=True, exist_ok=True)
        # Every command first: a node that cannot be found fails the start before anything runs.
        cmds = [command(spec, self.namespace, self.log_level, self.run_dir / "params") for spec in self.specs]
        for spec, cmd in zip(self.specs, cmds, strict=True):
            log: Path | None = None
            out: Any = subprocess.PIPE
            if self.log_to_files:
                log = logs / f"{spec.name}.log"
                fh = log.open("wb")
                self._files.append(fh)
                out = fh
            popen = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
            proc = Process(spec, popen, log)
            if not self.log_to_files:
                proc.relay = threading.Thread(target=_relay, args=(proc, self.out), name=f"relay-{spec.name}",
                                              daemon=True)
                proc.relay.start()
            self.processes.append(proc)

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
        for p in self.processes:
            if p.relay is not None:
                p.relay.join(timeout=2.0)
        for fh in self._files:
            fh.close()
        self._files.clear()
        return codes

    def tail(self, name: str, lines: int = 20) -> str:
        """The last lines of a node's output, for error messages."""
        p = self.process(name)
        if p.log is None:
            if p.relay is not None:
                p.relay.join(timeout=1.0)  # the node has exited: its last lines are on their way
            return "\n".join(list(p.last_lines)[-lines:])
        if not p.log.is_file():
            return ""
        return "\n".join(p.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_exit(self, poll_s: float = 0.2) -> tuple[str, int]:
        """Block until the first node exits; its name and exit code."""
        while True:
            dead = self.dead()
            if dead:
                return dead[0]
            time.sleep(poll_s)

    def __enter__(self) -> Graph:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def up(graph: Graph, prog: str, err: IO[str] | None = None) -> int:
    """Run a graph until Ctrl-C or until one node exits; then stop the rest and say why.

    As ``ros2 launch`` does with our launch files (``OnProcessExit`` -> ``Shutdown``): one node
    exiting ends the graph, with the node's name, exit code and last lines on screen. Returns 0
    after Ctrl-C or when the node that ended the graph exited cleanly, 1 otherwise.
    """
    err = err if err is not None else sys.stderr
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # a service manager's stop = Ctrl-C
    try:
        graph.start()
    except FileNotFoundError as exc:
        print(f"{prog}: {exc}", file=err, flush=True)
        return 2
    print(f"{prog}: started {', '.join(s.name for s in graph.specs)} (Ctrl-C stops)", file=err, flush=True)
    codes: dict[str, int] = {}
    try:
        name, code = graph.wait_for_exit()
    except KeyboardInterrupt:
        return 0
    finally:  # also on SystemExit (the CLI turns SIGTERM into one): nothing is orphaned
        codes = graph.stop()
    print(f"{prog}: {exit_reason(name, code, graph.tail(name, EXIT_TAIL_LINES * 4).splitlines())}",
          file=err, flush=True)
    others = ", ".join(f"{n} (exit {c})" for n, c in codes.items() if n != name)
    if others:
        print(f"{prog}: stopped {others}", file=err, flush=True)
    return 0 if code == 0 else 1


def up_main(argv: Sequence[str], *, prog: str, description: str, arguments: Sequence[LaunchArgument],
            build: Callable[[Mapping[str, str]], list[NodeSpec]], run_prefix: str) -> int:
    """``nav-r1 up`` / ``vla-r1 up``: the launch arguments as options, the graph built and run by :func:`up`."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_options(parser, arguments)
    parser.add_argument("--run-dir", type=Path, default=Path("runs") / time.strftime(f"{run_prefix}-%Y%m%d-%H%M%S"),
                        help="Where the nodes' parameter files go")
    ns = parser.parse_args(list(argv))
    values = {a.name: getattr(ns, a.name) for a in arguments}
    try:
        specs = build(values)
    except ParamError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    graph = Graph(specs, namespace=values["namespace"], log_level=values["log_level"], run_dir=ns.run_dir,
                  log_to_files=False)
    return up(graph, prog)
