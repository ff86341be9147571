"""Declare an r1_core.params dataclass on an rclpy node: one declaration, read and validated once."""

from __future__ import annotations

from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

from r1_core.params import ParamError, from_mapping, iter_params

T = TypeVar("T")

_TYPES: dict[tuple[type, type | None], int] = {
    (bool, None): ParameterType.PARAMETER_BOOL,
    (int, None): ParameterType.PARAMETER_INTEGER,
    (float, None): ParameterType.PARAMETER_DOUBLE,
    (str, None): ParameterType.PARAMETER_STRING,
    (tuple, float): ParameterType.PARAMETER_DOUBLE_ARRAY,
    (tuple, int): ParameterType.PARAMETER_INTEGER_ARRAY,
    (tuple, str): ParameterType.PARAMETER_STRING_ARRAY,
    (tuple, bool): ParameterType.PARAMETER_BOOL_ARRAY,
}
_PARAM_TYPES: dict[int, Parameter.Type] = {
    ParameterType.PARAMETER_BOOL: Parameter.Type.BOOL,
    ParameterType.PARAMETER_INTEGER: Parameter.Type.INTEGER,
    ParameterType.PARAMETER_DOUBLE: Parameter.Type.DOUBLE,
    ParameterType.PARAMETER_STRING: Parameter.Type.STRING,
    ParameterType.PARAMETER_DOUBLE_ARRAY: Parameter.Type.DOUBLE_ARRAY,
    ParameterType.PARAMETER_INTEGER_ARRAY: Parameter.Type.INTEGER_ARRAY,
    ParameterType.PARAMETER_STRING_ARRAY: Parameter.Type.STRING_ARRAY,
    ParameterType.PARAMETER_BOOL_ARRAY: Parameter.Type.BOOL_ARRAY,
}


def _descriptor(name: str, kind: type, elem: type | None, spec: Any) -> ParameterDescriptor:
    d = ParameterDescriptor(name=name, type=_TYPES[(kind, elem)], description=spec.description,
                            read_only=spec.read_only)
    if kind is float and (spec.min is not None or spec.max is not None):
        d.floating_point_range = [FloatingPointRange(
            from_value=float(spec.min if spec.min is not None else -1e300),
            to_value=float(spec.max if spec.max is not None else 1e300), step=0.0)]
    elif kind is int and (spec.min is not None or spec.max is not None):
        d.integer_range = [IntegerRange(
            from_value=int(spec.min if spec.min is not None else -(2**62)),
            to_value=int(spec.max if spec.max is not None else 2**62), step=0)]
    if spec.choices is not None:
        d.additional_constraints = f"one of {list(spec.choices)}"
    return d


def declare_config(node: Node, cls: type[T], prefix: str = "") -> T:
    """Declare every parameter of ``cls`` on ``node`` (with ``prefix``), read them and validate.

    Raises :class:`r1_core.params.ParamError` naming the parameter when a value is invalid; the
    node should let it propagate so the process exits with that message instead of running with a
    bad configuration.
    """
    values: dict[str, Any] = {}
    for p in iter_params(cls):
        name = f"{prefix}{p.name}"
        desc = _descriptor(name, p.kind, p.elem, p.spec)
        default = list(p.value) if isinstance(p.value, tuple) else p.value
        param: Parameter[Any]
        try:
            if isinstance(default, list) and not default:
                param = node.declare_parameter(name, _PARAM_TYPES[desc.type], desc)
            else:
                param = node.declare_parameter(name, default, desc)
        except Exception as exc:  # rclpy raises several types for a bad override
            raise ParamError(f"parameter '{name}': {exc}") from exc
        value = param.value
        if value is None:
            value = default
        values[p.name] = list(value) if isinstance(value, (list, tuple)) or hasattr(value, "tolist") else value
    return from_mapping(cls, values, what=f"node '{node.get_name()}'")
