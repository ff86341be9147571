"""Static readers for the deployment files: Dockerfiles, .dockerignore, setup.py entry points, launch files.

Docker cannot run on our machines, so tests/deploy checks what the images copy and start by reading
the files the way Docker and colcon would, without building anything.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
PACKAGES = ("r1_core", "r1_description", "nav_r1", "r1_sim", "stereo_adapter", "vla_r1")
ROS_DISTROS = ("humble", "jazzy", "kilted")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword, its flags (``--from=x``) and the rest of the line."""

    line: int
    keyword: str
    flags: tuple[str, ...]
    args: str


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions of a Dockerfile, with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    buf = ""
    start = 0
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are removed by Docker
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, rest = buf.partition(" ")
        flags: list[str] = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        out.append(Instruction(start, keyword.upper(), tuple(flags), rest))
        buf = ""
    if buf:
        raise ValueError(f"{path}: file ends inside a continued instruction")
    return out


def stages(instructions: list[Instruction]) -> dict[str, list[Instruction]]:
    """Instructions per build stage, keyed by the stage's ``AS`` name (or its index)."""
    out: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for ins in instructions:
        if ins.keyword == "FROM":
            parts = ins.args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(out))
            current = out.setdefault(name, [])
        if current is not None:
            current.append(ins)
    return out


def exec_form(args: str) -> list[str] | None:
    """The list of a JSON (exec) form argument, or None for the shell form."""
    text = args.strip()
    if not text.startswith("["):
        return None
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"exec form must be a JSON list of strings: {args}")
    return value


def copy_sources(instructions: list[Instruction]) -> list[tuple[int, str]]:
    """Sources (relative to the build context) of every COPY/ADD that reads the context."""
    out: list[tuple[int, str]] = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
            continue
        parts = exec_form(ins.args) or shlex.split(ins.args)
        if len(parts) < 2:
            raise ValueError(f"line {ins.line}: {ins.keyword} needs a source and a destination")
        out.extend((ins.line, src) for src in parts[:-1])
    return out


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    """The default of every ARG that declares one (later declarations win, as in a build)."""
    out: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            out[name.strip()] = value.strip().strip('"')
    return out


def read_dockerignore(path: Path) -> list[str]:
    """Patterns of a .dockerignore file (comments and blanks dropped)."""
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_ignored(rel: str, patterns: list[str]) -> bool:
    """Whether a context path, or a folder above it, matches an ignore pattern (no ``!`` patterns)."""
    if any(p.startswith("!") for p in patterns):
        raise ValueError("exception patterns (!) are not supported by this checker")
    parts = Path(rel).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pat = pattern.strip("/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pat):
                return True
            if pat.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], pat[3:]):
                return True
    return False


def console_scripts(package: str) -> dict[str, str]:
    """``name -> module:function`` of the console scripts a package's setup.py declares."""
    tree = ast.parse((ROOT / "src" / package / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            value = ast.literal_eval(node.value)
            out: dict[str, str] = {}
            for spec in value.get("console_scripts", []):
                name, _, target = spec.partition("=")
                out[name.strip()] = target.strip()
            return out
    return {}


def entry_point_problem(package: str, target: str) -> str | None:
    """Why ``module:function`` would not import from the package's source, or None when it would."""
    module, _, function = target.partition(":")
    base = ROOT / "src" / package / Path(*module.split("."))
    source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
    if not source.is_file():
        return f"module {module} has no file under src/{package}"
    tree = ast.parse(source.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    if function not in names:
        return f"{source.relative_to(ROOT)} defines no top-level {function}()"
    return None


def ros2_launch_targets(command: str) -> list[tuple[str, str, list[str]]]:
    """``(package, launch file, [arg names])`` of each ``ros2 launch`` in a shell command line."""
    out: list[tuple[str, str, list[str]]] = []
    for match in re.finditer(r"ros2\s+launch\s+(\S+)\s+(\S+)((?:\s+[A-Za-z_][\w]*:=\S*)*)", command):
        names = re.findall(r"([A-Za-z_]\w*):=", match.group(3))
        out.append((match.group(1), match.group(2), names))
    return out
