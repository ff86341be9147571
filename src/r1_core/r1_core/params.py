"""Parameters declared once: type, default, bounds and description on a frozen dataclass field.

The same declaration validates a config in ``__post_init__``, builds it from a mapping (a YAML
file, CLI overrides), declares it on an rclpy node, and renders the docs table::

    @dataclass(frozen=True)
    class LoopConfig:
        # Control loop rate.
        rate_hz: float = param(100.0, "Control loop rate [Hz]", min=1.0, max=1000.0)

        def __post_init__(self) -> None:
            validate_params(self)

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``tuple[float, ...]``,
``tuple[int, ...]``, ``tuple[str, ...]`` and nested frozen dataclasses (``nested(...)``), which
become dotted names (``zones.stop.points``) as in Nav2's parameter files.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
_META = "r1_param"


class ParamError(ValueError):
    """A parameter value is missing, of the wrong type, out of bounds or unknown."""


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """What a declaration says about one parameter."""

    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    read_only: bool = False


def param(
    default: Any,
    description: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[Any] | None = None,
    read_only: bool = False,
) -> Any:
    """Declare a dataclass field as a parameter with a default, description and bounds."""
    spec = ParamSpec(description, min, max, tuple(choices) if choices is not None else None, read_only)
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(default=default, metadata={_META: spec})


def nested(factory: Any, description: str) -> Any:
    """Declare a field holding a nested parameter dataclass (names become ``field.sub``)."""
    return dataclasses.field(default_factory=factory, metadata={_META: ParamSpec(description)})


@dataclasses.dataclass(frozen=True)
class FlatParam:
    """One leaf parameter with its dotted name, Python type and current value."""

    name: str
    kind: type
    elem: type | None
    value: Any
    spec: ParamSpec


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _leaf_kind(hint: Any) -> tuple[type, type | None]:
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        return tuple, args[0] if args else float
    if hint in (bool, int, float, str):
        return hint, None
    raise TypeError(f"unsupported parameter type {hint!r}")


def iter_params(obj_or_cls: Any, prefix: str = "") -> Iterator[FlatParam]:
    """Yield every leaf parameter of a config class or instance, depth first, with dotted names."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_META)
        if spec is None:
            continue
        hint = hints[f.name]
        if isinstance(obj_or_cls, type):
            value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        else:
            value = getattr(obj_or_cls, f.name)
        if dataclasses.is_dataclass(hint):
            yield from iter_params(value, f"{prefix}{f.name}.")
            continue
        kind, elem = _leaf_kind(hint)
        yield FlatParam(f"{prefix}{f.name}", kind, elem, value, spec)


def _check_scalar(name: str, value: Any, kind: type, spec: ParamSpec) -> None:
    if kind is bool:
        if not isinstance(value, bool):
            raise ParamError(f"parameter '{name}' must be a bool, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"parameter '{name}' must be an integer, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"parameter '{name}' must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ParamError(f"parameter '{name}' must be finite, got {value!r}")
    elif kind is str and not isinstance(value, str):
        raise ParamError(f"parameter '{name}' must be a string, got {value!r}")
    if spec.min is not None and value < spec.min:
        raise ParamError(f"parameter '{name}' = {value!r} is below its minimum {spec.min}")
    if spec.max is not None and value > spec.max:
        raise ParamError(f"parameter '{name}' = {value!r} is above its maximum {spec.max}")


def validate_params(config: Any) -> None:
    """Check every declared field of ``config`` (types, bounds, choices); raise :class:`ParamError`."""
    for p in iter_params(config):
        if p.kind is tuple:
            if not isinstance(p.value, tuple):
                raise ParamError(f"parameter '{p.name}' must be a list, got {p.value!r}")
            for i, v in enumerate(p.value):
                _check_scalar(f"{p.name}[{i}]", v, p.elem or float, p.spec)
        else:
            _check_scalar(p.name, p.value, p.kind, p.spec)
        if p.spec.choices is not None and p.value not in p.spec.choices:
            near = difflib.get_close_matches(str(p.value), [str(c) for c in p.spec.choices], n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ParamError(
                f"parameter '{p.name}' = {p.value!r} is not one of {list(p.spec.choices)}{hint}"
            )


def _coerce(name: str, value: Any, kind: type, elem: type | None) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple:
        if isinstance(value, (list, tuple)):
            items = tuple(value)
            if elem is float:
                items = tuple(
                    float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in items
                )
            return items
        raise ParamError(f"parameter '{name}' must be a list, got {value!r}")
    return value


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def from_mapping(cls: type[T], values: Mapping[str, Any], *, what: str = "") -> T:
    """Build ``cls`` from nested or dotted values; unknown names fail with the nearest suggestion."""
    flat = flatten(values)
    known = {p.name: p for p in iter_params(cls)}
    for key in flat:
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            where = f" in {what}" if what else ""
            raise ParamError(f"unknown parameter '{key}'{where}{hint}")
    return _build(cls, flat, "")


def _build(cls: type[T], flat: Mapping[str, Any], prefix: str) -> T:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if _META not in f.metadata:
            continue
        hint = hints[f.name]
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hint):
            try:
                kwargs[f.name] = _build(typing.cast(type, hint), flat, f"{name}.")
            except ParamError as exc:  # the nested class validated itself: name the full path
                msg = str(exc)
                if f"'{name}." not in msg:
                    msg = msg.replace("parameter '", f"parameter '{name}.", 1)
                raise ParamError(msg) from exc
        elif name in flat:
            kind, elem = _leaf_kind(hint)
            kwargs[f.name] = _coerce(name, flat[name], kind, elem)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a wrong type that the constructor itself rejected
        raise ParamError(f"{cls.__name__}: {exc}") from exc


def to_flat(config: Any) -> dict[str, Any]:
    """The config's parameters as a flat ``{dotted name: value}`` dict (tuples become lists)."""
    return {p.name: list(p.value) if isinstance(p.value, tuple) else p.value for p in iter_params(config)}


def replace(config: T, **overrides: Any) -> T:
    """A copy of ``config`` with dotted-name overrides applied and validated."""
    flat = to_flat(config)
    flat.update(overrides)
    return from_mapping(type(config), flat)


def node_key(node_name: str) -> str:
    """The parameter-file key for a node in any namespace: ``/**/<node_name>`` (rcl wildcard syntax)."""
    return f"/**/{node_name}"


def _key_pattern(key: str) -> re.Pattern[str]:
    """rcl's matching of a parameter-file key against a fully qualified node name.

    A key without a leading ``/`` is taken as absolute (``control_node`` is ``/control_node``: the
    root namespace only); ``**`` matches any number of name tokens, ``*`` one token or part of one.
    """
    tokens = key.strip().strip("/").split("/") if key.strip("/ ") else []
    regex = ""
    for tok in tokens:
        if tok == "**":
            regex += "(?:/[^/]+)*"
        else:
            regex += "/" + "[^/]*".join(re.escape(part) for part in tok.split("*"))
    return re.compile(f"^{regex}$")


def section_applies(key: str, node_name: str, namespace: str = "") -> bool:
    """True when the section ``key`` of a ROS parameter file applies to ``namespace/node_name``."""
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return bool(_key_pattern(str(key)).match(f"{ns}/{node_name}"))


def read_param_file(path: str | Path) -> dict[str, Any]:
    """The one reader of ROS 2 parameter files: node keys to sections; ParamError names the file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ParamError(f"cannot read parameter file {p}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ParamError(f"parameter file {p} must hold a mapping of node names")
    return {str(k): v for k, v in data.items()}


def node_parameters(doc: Mapping[str, Any], node_name: str, namespace: str = "") -> list[Mapping[str, Any]]:
    """The ``ros__parameters`` of every section of ``doc`` that applies to ``namespace/node_name``, in file order."""
    out: list[Mapping[str, Any]] = []
    for key, section in doc.items():
        if isinstance(section, Mapping) and section_applies(str(key), node_name, namespace):
            params = section.get("ros__parameters") or {}
            if not isinstance(params, Mapping):
                raise ParamError(f"parameter file section '{key}.ros__parameters' must be a mapping")
            out.append(params)
    return out


def load_ros_params(path: str | Path, node_name: str, namespace: str = "") -> dict[str, Any]:
    """Read a ROS 2 parameter file (``key: {ros__parameters: ...}``) for one node, flattened.

    Sections apply as rcl applies them: every key that matches the node's fully qualified name
    (``/**``, ``/**/node``, ``/ns/node``; a bare ``node`` only in the root namespace), in file
    order, a later section overriding an earlier one.
    """
    out: dict[str, Any] = {}
    for params in node_parameters(read_param_file(path), node_name, namespace):
        out.update(flatten(params))
    return out


def markdown_table(cls: type, prefix: str = "") -> str:
    """The parameter table for the docs, from the same declarations the code validates."""
    rows = ["| parameter | type | default | bounds | description |", "|---|---|---|---|---|"]
    for p in iter_params(cls, prefix):
        kind = f"list[{p.elem.__name__}]" if p.kind is tuple and p.elem else p.kind.__name__
        bounds = []
        if p.spec.min is not None:
            bounds.append(f"≥ {p.spec.min}")
        if p.spec.max is not None:
            bounds.append(f"≤ {p.spec.max}")
        if p.spec.choices is not None:
            bounds.append(" / ".join(str(c) for c in p.spec.choices))
        default = list(p.value) if isinstance(p.value, tuple) else p.value
        desc = p.spec.description.replace("|", "\\|")  # a bare '|' would split the table cell
        rows.append(f"| `{p.name}` | {kind} | `{default!r}` | {', '.join(bounds)} | {desc} |")
    return "\n".join(rows)
