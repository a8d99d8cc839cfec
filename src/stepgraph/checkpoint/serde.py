"""Turning state values into bytes for checkpoint storage, and back, without pickle.

:class:`Serializer` writes MessagePack (through ormsgpack) with extension types for the
Python values MessagePack lacks. These round-trip with their type intact:

* ``None``, ``bool``, ``int`` (any size), ``float``, ``str``, ``bytes``, ``list``,
  ``tuple``, ``dict`` (also with non-``str`` keys), ``set``, ``frozenset``;
* ``datetime`` / ``date`` / ``time`` / ``timedelta`` (time zones kept: ``zoneinfo`` zones
  by name, ``datetime.timezone`` exactly, any other tzinfo as the value's fixed UTC offset), ``UUID``, ``Decimal``, ``complex``,
  ``Enum`` members, ``pathlib`` paths, named tuples;
* instances of dataclasses, attrs classes and pydantic v2 models, stored as the class's
  import path plus their field values and rebuilt only if that path imports a class of
  the same kind (dataclasses and attrs classes through their constructor, pydantic
  models through ``model_construct`` so validators are not run twice);
* langchain-core messages (``AIMessage``, ``HumanMessage``, …) through langchain-core's
  own ``message_to_dict`` / ``messages_from_dict`` when langchain-core is installed.

Subclasses of ``dict``, ``list``, ``str``, ``int`` and ``float`` (other than enums and
named tuples) are stored as their base type; ``bytearray`` and ``memoryview`` as
``bytes``; pydantic private attributes are not stored (they get their defaults back).
Classes must be importable: a class defined inside a function is refused when the value
is stored, not when it is read. Reading a value imports the module its class names and
calls that class's constructor; nothing else from storage is ever executed.

Pickle is off by default. Nothing is pickled and no stored pickle payload is ever
loaded unless the serializer was created with ``Serializer(allow_pickle=True)``; then
values no other rule handles are pickled, and pickled values are loaded. Only enable it
for storage you trust: loading a pickle runs arbitrary code.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import importlib
import pathlib
import pickle
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any, Final

import attrs
import ormsgpack

from .errors import SerializationError

__all__ = ["Serializer"]

_OPTIONS: Final = (
    ormsgpack.OPT_PASSTHROUGH_BIG_INT
    | ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_TUPLE
    | ormsgpack.OPT_PASSTHROUGH_UUID
)

_SCALARS: Final = frozenset({str, float, bool, type(None)})
_INT_MIN: Final = -(1 << 63)
_UINT_MAX: Final = (1 << 64) - 1

# MessagePack extension codes. Stored data depends on them: never renumber.
_TUPLE: Final = 1
_SET: Final = 2
_FROZENSET: Final = 3
_BIGINT: Final = 4
_DICT: Final = 5  # a dict with at least one non-str key, as [k0, v0, k1, v1, ...]
_DATETIME: Final = 6
_DATE: Final = 7
_TIME: Final = 8
_TIMEDELTA: Final = 9
_UUID: Final = 10
_DECIMAL: Final = 11
_ENUM: Final = 12
_PATH: Final = 13
_DATACLASS: Final = 14
_ATTRS: Final = 15
_PYDANTIC: Final = 16
_LC_MESSAGE: Final = 17
_NAMEDTUPLE: Final = 18
_COMPLEX: Final = 19
_PICKLE: Final = 20

_PATH_TYPES: Final[dict[str, type[pathlib.PurePath]]] = {
    # concrete classes first: they are subclasses of the pure ones
    "PosixPath": pathlib.PosixPath,
    "WindowsPath": pathlib.WindowsPath,
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
}

_FIX = (
    "store JSON-compatible data, a dataclass/attrs/pydantic model, or pass "
    "allow_pickle=True (serde=Serializer(allow_pickle=True); only for storage you trust)"
)


class _Unencodable(Exception):
    """Internal: ``obj`` cannot be stored; ``detail`` says why and what to do."""

    def __init__(self, obj: Any, detail: str) -> None:
        super().__init__(detail)
        self.obj = obj
        self.detail = detail


class _NonStrKeyDict:
    """Internal: a dict with non-str keys, wrapped so the encoder sees it."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


def _type_name(obj: Any) -> str:
    return type(obj).__qualname__


def _class_path(obj: Any, cls: type | None = None) -> tuple[str, str]:
    cls = type(obj) if cls is None else cls
    qualname = cls.__qualname__
    if "<locals>" in qualname:
        raise _Unencodable(
            obj,
            f"class {qualname!r} is defined inside a function, so it could not be imported "
            "again to read the checkpoint back; define it at module level",
        )
    return cls.__module__, qualname


def _wrap_non_str_keys(obj: Any) -> Any:
    """Copy plain containers, wrapping every dict that has a non-str key."""
    if isinstance(obj, dict):
        if all(type(k) is str for k in obj):
            return {k: _wrap_non_str_keys(v) for k, v in obj.items()}
        flat: list[Any] = []
        for k, v in obj.items():
            flat.append(_wrap_non_str_keys(k))
            flat.append(_wrap_non_str_keys(v))
        return _NonStrKeyDict(flat)
    if isinstance(obj, list):
        return [_wrap_non_str_keys(x) for x in obj]
    if type(obj) is tuple:
        return tuple(_wrap_non_str_keys(x) for x in obj)
    return obj


def _encode_tz(tz: datetime.tzinfo | None, offset: datetime.timedelta | None) -> Any:
    """``None``, ``["zone", key]`` for zoneinfo zones, else ``["fixed", d, s, us, name]``."""
    if tz is None:
        return None
    if isinstance(tz, zoneinfo.ZoneInfo) and tz.key:
        return ["zone", tz.key]
    if offset is None:  # a tzinfo with no offset for this value: keep it naive
        return None
    name = None
    if isinstance(tz, datetime.timezone):
        custom = tz.tzname(None)
        if custom != datetime.timezone(offset).tzname(None):
            name = custom
    return ["fixed", offset.days, offset.seconds, offset.microseconds, name]


def _decode_tz(data: Any) -> datetime.tzinfo | None:
    if data is None:
        return None
    if data[0] == "zone":
        return zoneinfo.ZoneInfo(data[1])
    _, days, seconds, micros, name = data
    offset = datetime.timedelta(days=days, seconds=seconds, microseconds=micros)
    return datetime.timezone(offset) if name is None else datetime.timezone(offset, name)


class _Encoder:
    """One ``dumps`` call: the ``default`` hook plus the first failure it met."""

    __slots__ = ("allow_pickle", "failure")

    def __init__(self, allow_pickle: bool) -> None:
        self.allow_pickle = allow_pickle
        self.failure: _Unencodable | None = None

    def pack(self, obj: Any) -> bytes:
        try:
            data: bytes = ormsgpack.packb(obj, default=self.default, option=_OPTIONS)
        except TypeError as exc:
            if self.failure is not None:
                raise self.failure from None
            if "Dict key must be str" in str(exc):
                return self.pack_slow(obj)
            raise _Unencodable(obj, self._describe(exc)) from None
        return data

    def pack_slow(self, obj: Any) -> bytes:
        try:
            data: bytes = ormsgpack.packb(
                _wrap_non_str_keys(obj), default=self.default, option=_OPTIONS
            )
        except TypeError as exc:
            if self.failure is not None:
                raise self.failure from None
            raise _Unencodable(obj, self._describe(exc)) from None
        return data

    @staticmethod
    def _describe(exc: BaseException) -> str:
        if "Recursion limit" in str(exc):
            return "it is nested too deeply or contains itself; store a flatter value"
        return f"{exc}; {_FIX}"

    def ext(self, code: int, payload: Any) -> ormsgpack.Ext:
        return ormsgpack.Ext(code, self.pack(payload))

    def default(self, obj: Any) -> Any:
        try:
            return self._default(obj)
        except _Unencodable as exc:
            if self.failure is None:
                self.failure = exc
            raise
        except Exception as exc:  # a broken __eq__/property etc. while reading fields
            if self.failure is None:
                self.failure = _Unencodable(obj, f"reading it failed with {exc!r}; {_FIX}")
            raise

    def _default(self, obj: Any) -> Any:
        cls = type(obj)
        handler = _HANDLERS.get(cls)
        if handler is None:
            handler = _handler_for(cls)
            if len(_HANDLERS) < _HANDLERS_MAX:
                _HANDLERS[cls] = handler
        return handler(self, obj, cls)


# -- what ``default`` does per class -------------------------------------------------------
#
# The choice depends on the class only, so it is made once per class (a dict lookup per
# value after that) by :func:`_handler_for`, checking in the same order as always.

_Handler = Callable[[_Encoder, Any, type], Any]


def _enc_enum(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_ENUM, [*_class_path(obj), obj.value])


def _enc_tuple(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_TUPLE, list(obj))


def _enc_non_str_key_dict(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_DICT, obj.items)


def _enc_bigint(enc: _Encoder, obj: Any, cls: type) -> Any:
    # beyond 64 bits (bool and small ints are native)
    return ormsgpack.Ext(_BIGINT, obj.to_bytes((obj.bit_length() + 8) // 8, "big", signed=True))


def _enc_namedtuple(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_NAMEDTUPLE, [*_class_path(obj), list(obj)])


def _enc_frozenset(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_FROZENSET, list(obj))


def _enc_set(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_SET, list(obj))


def _enc_datetime(enc: _Encoder, obj: Any, cls: type) -> Any:
    tz = _encode_tz(obj.tzinfo, obj.utcoffset())
    return enc.ext(_DATETIME, [obj.replace(tzinfo=None).isoformat(), tz, obj.fold])


def _enc_date(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_DATE, obj.isoformat())


def _enc_time(enc: _Encoder, obj: Any, cls: type) -> Any:
    tz = _encode_tz(obj.tzinfo, obj.utcoffset())
    return enc.ext(_TIME, [obj.replace(tzinfo=None).isoformat(), tz, obj.fold])


def _enc_timedelta(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_TIMEDELTA, [obj.days, obj.seconds, obj.microseconds])


def _enc_uuid(enc: _Encoder, obj: Any, cls: type) -> Any:
    return ormsgpack.Ext(_UUID, obj.bytes)


def _enc_decimal(enc: _Encoder, obj: Any, cls: type) -> Any:
    return ormsgpack.Ext(_DECIMAL, str(obj).encode("ascii"))


def _enc_complex(enc: _Encoder, obj: Any, cls: type) -> Any:
    return enc.ext(_COMPLEX, [obj.real, obj.imag])


def _enc_path(enc: _Encoder, obj: Any, cls: type) -> Any:
    kind = next((name for name, t in _PATH_TYPES.items() if isinstance(obj, t)), "PurePosixPath")
    return enc.ext(_PATH, [kind, str(obj)])


def _enc_lc_message(enc: _Encoder, obj: Any, cls: type) -> Any:
    lc = sys.modules["langchain_core.messages"]
    return enc.ext(_LC_MESSAGE, lc.message_to_dict(obj))


def _enc_pydantic(enc: _Encoder, obj: Any, cls: type) -> Any:
    fields = {name: getattr(obj, name) for name in cls.model_fields}  # type: ignore[attr-defined]
    extra = obj.model_extra or {}
    # a parametrized generic (Model[int]) is rebuilt as its importable origin class
    origin = cls.__pydantic_generic_metadata__.get("origin") or cls  # type: ignore[attr-defined]
    return enc.ext(
        _PYDANTIC,
        [*_class_path(obj, origin), fields, dict(extra), sorted(obj.model_fields_set)],
    )


def _enc_dataclass(enc: _Encoder, obj: Any, cls: type) -> Any:
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return enc.ext(_DATACLASS, [*_class_path(obj), values])


def _enc_attrs(enc: _Encoder, obj: Any, cls: type) -> Any:
    values = {a.name: getattr(obj, a.name) for a in attrs.fields(cls)}
    return enc.ext(_ATTRS, [*_class_path(obj), values])


def _enc_other(enc: _Encoder, obj: Any, cls: type) -> Any:
    if enc.allow_pickle:
        try:
            return ormsgpack.Ext(_PICKLE, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:
            raise _Unencodable(obj, f"pickling it failed too ({exc!r})") from None
    raise _Unencodable(obj, f"stepgraph has no encoding for this type; {_FIX}")


def _handler_for(cls: type) -> _Handler:
    """How ``default`` encodes instances of ``cls`` (the first matching rule)."""
    if issubclass(cls, enum.Enum):
        return _enc_enum
    if cls is tuple:
        return _enc_tuple
    if issubclass(cls, _NonStrKeyDict):
        return _enc_non_str_key_dict
    if issubclass(cls, int):
        return _enc_bigint
    if issubclass(cls, tuple):
        if hasattr(cls, "_fields") and hasattr(cls, "_make"):
            return _enc_namedtuple
        return _enc_tuple
    rules: tuple[tuple[type, _Handler], ...] = (
        (frozenset, _enc_frozenset),
        (set, _enc_set),
        (datetime.datetime, _enc_datetime),
        (datetime.date, _enc_date),
        (datetime.time, _enc_time),
        (datetime.timedelta, _enc_timedelta),
        (uuid.UUID, _enc_uuid),
        (decimal.Decimal, _enc_decimal),
        (complex, _enc_complex),
        (pathlib.PurePath, _enc_path),
    )
    for base, handler in rules:
        if issubclass(cls, base):
            return handler
    lc = sys.modules.get("langchain_core.messages")
    if (
        lc is not None
        and issubclass(cls, lc.BaseMessage)
        and cls.__module__.startswith("langchain_core.")
    ):
        return _enc_lc_message
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and issubclass(cls, pydantic.BaseModel):
        return _enc_pydantic
    if dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        return _enc_dataclass
    if attrs.has(cls):
        return _enc_attrs
    return _enc_other


#: class → its handler (bounded: classes made on the fly must not pile up)
_HANDLERS: dict[type, _Handler] = {}
_HANDLERS_MAX = 4096


class _Undecodable(Exception):
    """Internal: a stored value cannot be read back; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _import_class(module: str, qualname: str) -> type:
    try:
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise _Undecodable(
            f"its class {module}.{qualname} cannot be imported ({exc!r}); keep the defining "
            "module importable under the same name (leave an alias behind when renaming or "
            "moving a class)"
        ) from exc
    if not isinstance(target, type):
        raise _Undecodable(
            f"it was stored as an instance of {module}.{qualname}, which is now a "
            f"{type(target).__qualname__}, not a class"
        )
    return target


def _wrong_kind(cls: type, kind: str) -> _Undecodable:
    return _Undecodable(
        f"it was stored as a {kind} of class {cls.__module__}.{cls.__qualname__}, but the "
        f"class imported under that name is no longer a {kind}"
    )


class _Decoder:
    """One ``loads`` call: the ``ext_hook`` plus the first failure it met."""

    __slots__ = ("allow_pickle", "failure")

    def __init__(self, allow_pickle: bool) -> None:
        self.allow_pickle = allow_pickle
        self.failure: _Undecodable | None = None

    def unpack(self, data: bytes) -> Any:
        try:
            return ormsgpack.unpackb(data, ext_hook=self.ext_hook)
        except ValueError as exc:
            if self.failure is not None:
                raise self.failure from None
            raise _Undecodable(
                f"the data is not valid MessagePack ({exc}); it was written by other "
                "software or is damaged"
            ) from None

    def ext_hook(self, code: int, data: bytes) -> Any:
        try:
            return self.ext(code, data)
        except Exception as exc:
            if self.failure is None:
                if isinstance(exc, _Undecodable):
                    self.failure = exc
                else:
                    self.failure = _Undecodable(
                        f"rebuilding it (MessagePack extension type {code}) failed with {exc!r}"
                    )
                    self.failure.__cause__ = exc
            raise

    def ext(self, code: int, data: bytes) -> Any:
        if code == _BIGINT:
            return int.from_bytes(data, "big", signed=True)
        if code == _UUID:
            return uuid.UUID(bytes=data)
        if code == _DECIMAL:
            return decimal.Decimal(data.decode("ascii"))
        if code == _PICKLE:
            if not self.allow_pickle:
                raise _Undecodable(
                    "it was stored with pickle, and pickle payloads (which run arbitrary code "
                    "when loaded) are only loaded by a Serializer created with "
                    "allow_pickle=True; if you trust this storage, create the checkpointer "
                    "with serde=Serializer(allow_pickle=True)"
                )
            return pickle.loads(data)
        payload = self.unpack(data)
        if code == _TUPLE:
            return tuple(payload)
        if code == _SET:
            return set(payload)
        if code == _FROZENSET:
            return frozenset(payload)
        if code == _DICT:
            return dict(zip(payload[::2], payload[1::2], strict=True))
        if code == _DATETIME:
            iso, tz, fold = payload
            return datetime.datetime.fromisoformat(iso).replace(tzinfo=_decode_tz(tz), fold=fold)
        if code == _DATE:
            return datetime.date.fromisoformat(payload)
        if code == _TIME:
            iso, tz, fold = payload
            return datetime.time.fromisoformat(iso).replace(tzinfo=_decode_tz(tz), fold=fold)
        if code == _TIMEDELTA:
            days, seconds, micros = payload
            return datetime.timedelta(days=days, seconds=seconds, microseconds=micros)
        if code == _COMPLEX:
            return complex(payload[0], payload[1])
        if code == _PATH:
            kind, text = payload
            path_type = _PATH_TYPES.get(kind, pathlib.PurePosixPath)
            try:
                return path_type(text)
            except NotImplementedError:  # a concrete path of the other OS family
                pure = pathlib.PureWindowsPath if kind == "WindowsPath" else pathlib.PurePosixPath
                return pure(text)
        if code == _LC_MESSAGE:
            try:
                from langchain_core.messages import messages_from_dict
            except ImportError as exc:
                raise _Undecodable(
                    "it is a langchain-core message and langchain-core is not installed "
                    "(pip install langchain-core)"
                ) from exc
            return messages_from_dict([payload])[0]
        if code in (_ENUM, _NAMEDTUPLE, _DATACLASS, _ATTRS, _PYDANTIC):
            return self._rebuild(code, payload)
        raise _Undecodable(
            f"it uses MessagePack extension type {code}, which this stepgraph does not know "
            "(written by a newer stepgraph or by other software; upgrade stepgraph)"
        )

    def _rebuild(self, code: int, payload: list[Any]) -> Any:
        cls = _import_class(payload[0], payload[1])
        if code == _ENUM:
            if not issubclass(cls, enum.Enum):
                raise _wrong_kind(cls, "Enum")
            return cls(payload[2])
        if code == _NAMEDTUPLE:
            if not (issubclass(cls, tuple) and hasattr(cls, "_fields")):
                raise _wrong_kind(cls, "named tuple")
            return cls(*payload[2])
        if code == _DATACLASS:
            if not dataclasses.is_dataclass(cls):
                raise _wrong_kind(cls, "dataclass")
            init = {f.name for f in dataclasses.fields(cls) if f.init}
            return _construct(cls, payload[2], init, {n: n for n in init})
        if code == _ATTRS:
            if not attrs.has(cls):
                raise _wrong_kind(cls, "attrs class")
            fields = [a for a in attrs.fields(cls) if a.init]
            aliases = {a.name: (a.alias or a.name) for a in fields}
            return _construct(cls, payload[2], set(aliases), aliases)
        pydantic = sys.modules.get("pydantic")
        if pydantic is None or not issubclass(cls, pydantic.BaseModel):
            raise _wrong_kind(cls, "pydantic model")
        fields, extra, fields_set = payload[2], payload[3], payload[4]
        model: Any = cls
        return model.model_construct(_fields_set=set(fields_set), **fields, **extra)


def _construct(
    cls: Callable[..., Any], values: dict[str, Any], init: set[str], aliases: dict[str, str]
) -> Any:
    """Call ``cls`` with the init fields, then restore the fields ``__init__`` skips."""
    obj = cls(**{aliases[name]: v for name, v in values.items() if name in init})
    for name, v in values.items():
        if name not in init:
            object.__setattr__(obj, name, v)
    return obj


def _locate(root: Any, target: Any, name: str, depth: int = 0) -> str | None:
    """Where ``target`` sits inside ``root``, as an access path starting with ``name``."""
    if root is target:
        return name
    if depth > 50:
        return None
    children: list[tuple[str, Any]] = []
    if isinstance(root, dict):
        for k, v in root.items():
            children.append((f"{name}[{k!r}]", v))
            children.append((f"{name} (a key)", k))
    elif isinstance(root, (list, tuple)):
        children = [(f"{name}[{i}]", v) for i, v in enumerate(root)]
    elif isinstance(root, (set, frozenset)):
        children = [(f"{name} (an element)", v) for v in root]
    elif dataclasses.is_dataclass(root) and not isinstance(root, type):
        children = [
            (f"{name}.{f.name}", getattr(root, f.name, None)) for f in dataclasses.fields(root)
        ]
    elif attrs.has(type(root)):
        children = [
            (f"{name}.{a.name}", getattr(root, a.name, None)) for a in attrs.fields(type(root))
        ]
    elif hasattr(type(root), "model_fields") and hasattr(root, "model_extra"):
        names = [*type(root).model_fields, *(root.model_extra or {})]
        children = [(f"{name}.{n}", getattr(root, n, None)) for n in names]
    for child_name, child in children:
        found = _locate(child, target, child_name, depth + 1)
        if found is not None:
            return found
    return None


class Serializer:
    """Encodes checkpoint values as typed bytes; see the module docstring for the types.

    ``allow_pickle=True`` pickles values no other rule handles and loads stored pickle
    payloads; leave it off unless you trust everyone who can write to the storage.
    Instances are immutable and safe to share between threads.
    """

    __slots__ = ("_allow_pickle",)

    def __init__(self, *, allow_pickle: bool = False) -> None:
        self._allow_pickle = allow_pickle

    @property
    def allow_pickle(self) -> bool:
        """Whether this serializer writes and reads pickle payloads."""
        return self._allow_pickle

    def __repr__(self) -> str:
        return f"Serializer(allow_pickle={self._allow_pickle})"

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Encode ``obj`` as ``(type_tag, data)``; raises :class:`SerializationError`."""
        return self._dumps(obj, None)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decode what :meth:`dumps_typed` produced; raises :class:`SerializationError`."""
        return self._loads(data, None)

    def dumps_channel(self, key: str, value: Any) -> tuple[str, bytes]:
        """Like :meth:`dumps_typed`, naming state key / channel ``key`` in errors."""
        return self._dumps(value, key)

    def loads_channel(self, key: str, data: tuple[str, bytes]) -> Any:
        """Like :meth:`loads_typed`, naming state key / channel ``key`` in errors."""
        return self._loads(data, key)

    def _dumps(self, obj: Any, key: str | None) -> tuple[str, bytes]:
        cls = type(obj)
        if cls in _SCALARS or (cls is int and _INT_MIN <= obj <= _UINT_MAX):
            # no hook to call and no options that apply: the encoding every path makes
            try:
                return "msgpack", ormsgpack.packb(obj)
            except TypeError:  # a str with lone surrogates: the path below explains it
                pass
        encoder = _Encoder(self._allow_pickle)
        try:
            return "msgpack", encoder.pack(obj)
        except _Unencodable as exc:
            raise _store_error(obj, key, exc) from None

    def _loads(self, data: tuple[str, bytes], key: str | None) -> Any:
        tag, payload = data
        decoder = _Decoder(self._allow_pickle)
        try:
            if tag == "msgpack":
                return decoder.unpack(payload)
            if tag == "null":
                return None
            if tag == "bytes":
                return bytes(payload)
            if tag == "pickle":
                return decoder.ext(_PICKLE, payload)
            raise _Undecodable(
                f"its type tag {tag!r} is unknown (written by other software or a newer "
                "stepgraph; upgrade stepgraph)"
            )
        except _Undecodable as exc:
            at = f" at key {key!r}" if key is not None else ""
            raise SerializationError(
                f"Cannot read back the stored value{at}: {exc.reason}"
            ) from exc.__cause__


def _store_error(root: Any, key: str | None, exc: _Unencodable) -> SerializationError:
    at = f" at key {key!r}" if key is not None else ""
    where = ""
    if exc.obj is not root and not isinstance(exc.obj, type):
        path = _locate(root, exc.obj, key if key is not None else "value")
        if path is not None:
            where = f" (found at {path})"
    return SerializationError(
        f"Cannot store value of type {_type_name(exc.obj)!r}{at}{where}: {exc.detail}"
    )
