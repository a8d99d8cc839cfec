"""State schemas → channel specs; building node inputs; reading node outputs.

TypedDict, dataclass, pydantic ``BaseModel`` and attrs classes are supported. A key
annotated ``Annotated[T, reducer]`` folds every write through ``reducer``; its initial
value is ``T()`` when that works (``[]``, ``0``, ``{}``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin, get_type_hints

import attrs

__all__ = [
    "ChannelSpec",
    "build_instance",
    "channel_specs",
    "is_instance_schema",
    "output_as_dict",
    "schema_keys",
]

_MISSING = object()


@attrs.frozen
class ChannelSpec:
    """How one state key stores writes."""

    key: str
    reducer: Callable[[Any, Any], Any] | None = None
    default: Callable[[], Any] | None = None
    """Initial value factory (reducer keys only); None when ``T()`` cannot be built."""


def _type_hints(schema: Any) -> dict[str, Any]:
    if schema is None or schema is Any:
        return {}
    if isinstance(schema, Mapping):  # a plain dict schema is not supported, but be kind
        raise TypeError(
            f"State schema must be a class (TypedDict, dataclass, pydantic model or attrs "
            f"class), got a {type(schema).__name__} instance"
        )
    try:
        hints = get_type_hints(schema, include_extras=True)
    except NameError as exc:
        raise TypeError(
            f"Cannot resolve the annotations of state schema {schema.__qualname__}: {exc}. "
            "Define the schema and its reducers at module level (string annotations from "
            "`from __future__ import annotations` are resolved in the module's globals)."
        ) from exc
    if dataclasses.is_dataclass(schema):
        names = [f.name for f in dataclasses.fields(schema)]
        return {n: hints.get(n, Any) for n in names}
    if attrs.has(schema):
        return {
            a.name: hints.get(a.name, a.type if a.type is not None else Any)
            for a in attrs.fields(schema)
        }
    model_fields = getattr(schema, "model_fields", None)
    if isinstance(model_fields, Mapping):
        return {n: hints.get(n, Any) for n in model_fields}
    return {k: v for k, v in hints.items() if not k.startswith("__")}


def schema_keys(schema: Any) -> tuple[str, ...]:
    """The state keys a schema declares, in declaration order."""
    return tuple(_type_hints(schema))


def _reducer_of(annotation: Any) -> Callable[[Any, Any], Any] | None:
    if get_origin(annotation) is not typing.Annotated:
        return None
    for meta in reversed(annotation.__metadata__):
        if not callable(meta) or isinstance(meta, type):
            continue
        try:
            params = [
                p
                for p in inspect.signature(meta).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):  # builtins without signatures, e.g. operator.add
            return meta  # type: ignore[no-any-return]
        if len(params) >= 2:
            return meta  # type: ignore[no-any-return]
    return None


def _default_factory(annotation: Any) -> Callable[[], Any] | None:
    base = get_args(annotation)[0] if get_origin(annotation) is typing.Annotated else annotation
    origin = get_origin(base) or base
    if origin is typing.Union or (sys.version_info >= (3, 10) and _is_union_type(origin)):
        return None
    if not callable(origin):
        return None
    try:
        origin()
    except Exception:
        return None
    return origin  # type: ignore[no-any-return]


def _is_union_type(tp: Any) -> bool:
    import types

    return isinstance(tp, types.UnionType) or tp is types.UnionType


def channel_specs(*schemas: Any) -> dict[str, ChannelSpec]:
    """Channel specs for the union of keys of ``schemas`` (the first schema wins a key)."""
    specs: dict[str, ChannelSpec] = {}
    for schema in schemas:
        for key, annotation in _type_hints(schema).items():
            if key in specs:
                continue
            reducer = _reducer_of(annotation)
            specs[key] = ChannelSpec(
                key, reducer, _default_factory(annotation) if reducer is not None else None
            )
    return specs


@functools.lru_cache(maxsize=256)
def _is_instance_class(schema: type[Any]) -> bool:
    return (
        dataclasses.is_dataclass(schema)
        or attrs.has(schema)
        or isinstance(getattr(schema, "model_fields", None), Mapping)
    )


def is_instance_schema(schema: Any) -> bool:
    """Whether nodes receive an instance of ``schema`` (dataclass, pydantic, attrs)."""
    return isinstance(schema, type) and _is_instance_class(schema)


def build_instance(schema: type[Any], values: Mapping[str, Any]) -> Any:
    """An instance of ``schema`` from the keys of ``values`` it declares (defaults fill in)."""
    keys = schema_keys(schema)
    return schema(**{k: values[k] for k in keys if k in values})


def output_as_dict(value: Any) -> dict[str, Any] | None:
    """A node's return value as a dict of updates, or None if it is not state-shaped.

    Instances of dataclass / attrs / pydantic classes count: fields whose value is None
    are skipped unless the field's default is not None or it was set explicitly.
    """
    cls = type(value)
    if not is_instance_schema(cls):
        return None
    keys = schema_keys(cls)
    defaults: dict[str, Any] = {}
    explicitly_set: set[str] | None = None
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
    elif attrs.has(cls):
        for a in attrs.fields(cls):
            if a.default is not attrs.NOTHING and not isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                defaults[a.name] = a.default
    else:
        explicitly_set = set(getattr(value, "model_fields_set", ()))
        for name, field in cls.model_fields.items():
            default = getattr(field, "default", _MISSING)
            if default is not _MISSING and type(default).__name__ != "PydanticUndefinedType":
                defaults[name] = default
    out: dict[str, Any] = {}
    for k in keys:
        v = getattr(value, k, _MISSING)
        if v is _MISSING:
            continue
        if (
            v is None
            and defaults.get(k, _MISSING) is None
            and not (explicitly_set is not None and k in explicitly_set)
        ):
            continue
        out[k] = v
    return out
