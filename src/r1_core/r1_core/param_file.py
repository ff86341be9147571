"""The one reader of ROS 2 parameter files (``node: {ros__parameters: ...}``), with ROS's key matching.

A section applies to a node when its key is ``/**``, the node's name (``control_node``,
``/control_node``), the node in any namespace (``/**/control_node``) or in a given namespace
(``/drone1/control_node``), as rcl applies them. Sections are returned in file order, so later
ones win when merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from r1_core.params import ParamError


def read_param_file(path: str | Path) -> dict[str, Any]:
    """The file's mapping of node keys to sections; ParamError names the file for any problem."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ParamError(f"cannot read parameter file {p}: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise ParamError(f"parameter file {p} must hold a mapping of node names")
    return {str(k): v for k, v in doc.items()}


def key_matches(key: str, node_name: str, namespace: str | None = None) -> bool:
    """Whether a section key applies to ``node_name`` (in ``namespace``; None: any namespace)."""
    key = key.rstrip("/")
    if key in ("/**", "**"):
        return True
    head, _, last = key.rpartition("/")
    if last != node_name:
        return False
    if head in ("", "/**", "**"):
        return True
    return namespace is None or head == "/" + namespace.strip("/")


def node_parameters(doc: Mapping[str, Any], node_name: str, namespace: str | None = None) -> list[Mapping[str, Any]]:
    """The ``ros__parameters`` mappings of every section that applies to the node, in file order."""
    out = []
    for key, section in doc.items():
        if key_matches(str(key), node_name, namespace) and isinstance(section, Mapping):
            params = section.get("ros__parameters") or {}
            if isinstance(params, Mapping):
                out.append(params)
    return out


__all__ = ["key_matches", "node_parameters", "read_param_file"]
