"""ION exports: turn lines of DynamoDB's Amazon Ion text into DynamoDB JSON lines for the columnar pipeline.

A DynamoDB ION export writes one item a line, ``$ion_1_0 {Item:{...}}``, mapping types as AWS documents them:
S → Ion string, N → Ion decimal (ints accepted too), B → blob, BOOL → bool, NULL → an Ion null, L → list,
M → struct, SS/NS/BS → lists annotated ``$dynamodb_SS`` / ``$dynamodb_NS`` / ``$dynamodb_BS``.

Each line becomes the DynamoDB JSON line with the same values (numbers keep every digit; blobs become base64), so
the rest of the converter (profile, schema, unwrap) is shared with JSON exports. This per-value Python step is the
slow part of an ION conversion; reading is done by ``amazon.ion`` (its C extension when installed).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from ddb_lake.core.errors import MalformedLineError, UnsupportedFormatError

ION_FORMAT = "ION"
JSON_FORMAT = "DYNAMODB_JSON"
SET_ANNOTATIONS = {"$dynamodb_SS": "SS", "$dynamodb_NS": "NS", "$dynamodb_BS": "BS"}
PLAIN_NUMBER_DIGITS = 40  # plain notation up to this many digits, scientific beyond (e.g. 1E-130)


def require_ion_reader(export_id: str) -> Any:
    """``amazon.ion.simpleion``, or a clear error saying how to get it."""
    try:
        from amazon.ion import simpleion
    except ImportError:
        raise UnsupportedFormatError(
            "ION exports need the amazon.ion package (pip install 'amazon.ion==0.15.0'), or request the export "
            "with ExportFormat=DYNAMODB_JSON", export_id=export_id, file="manifest-summary.json") from None
    return simpleion


def require_supported_format(output_format: str, export_id: str) -> None:
    """Refuse output formats other than DynamoDB JSON and ION, naming the manifest."""
    if output_format == ION_FORMAT:
        require_ion_reader(export_id)
    elif output_format != JSON_FORMAT:
        raise UnsupportedFormatError(f"export output format {output_format!r} is not supported "
                                     f"(expected {JSON_FORMAT} or {ION_FORMAT})",
                                     export_id=export_id, file="manifest-summary.json")


def number_text(value: Decimal | int) -> str:
    """A DynamoDB number's text: plain digits when short enough, else the exact scientific form."""
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise ValueError(f"number {value} is not finite")
    plain = format(value, "f")
    return plain if len(plain) <= PLAIN_NUMBER_DIGITS else str(value).replace("e", "E")


def _is_null(value: Any) -> bool:
    """Any Ion null (``null``, ``null.decimal``, ...); amazon.ion gives typed nulls one class."""
    return value is None or type(value) is _ion().IonPyNull


class _IonNames:
    """amazon.ion names, imported on first use (the package is only needed for ION exports)."""

    def __init__(self) -> None:
        from amazon.ion.core import IonType, Timestamp
        from amazon.ion.simple_types import IonPyDict, IonPyNull
        from amazon.ion.symbols import SymbolToken

        self.IonType, self.IonPyDict, self.IonPyNull = IonType, IonPyDict, IonPyNull
        self.bare_names = {float: "float", Timestamp: "timestamp", SymbolToken: "symbol"}


_NAMES: list[_IonNames] = []


def _ion() -> _IonNames:
    if not _NAMES:
        _NAMES.append(_IonNames())
    return _NAMES[0]


def _annotation(value: Any) -> str | None:
    annotations = getattr(value, "ion_annotations", ())
    if not annotations:
        return None
    if len(annotations) > 1:
        raise ValueError(f"value has several annotations {[a.text for a in annotations]}")
    text = annotations[0].text
    if text not in SET_ANNOTATIONS:
        raise ValueError(f"unknown annotation {text!r}; expected one of {', '.join(SET_ANNOTATIONS)}")
    return SET_ANNOTATIONS[text]


def typed_value(value: Any) -> dict[str, Any]:
    """One Ion value → DynamoDB JSON's ``{"TAG": ...}``.

    Plain Python values (what the C reader gives for unannotated values with ``MAY_BE_BARE``) take the fast path
    by exact type; annotated lists, typed nulls and the pure-Python reader's ``IonPy*`` objects go by ``ion_type``.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is Decimal:
        return {"N": number_text(value)}
    if kind is bool:
        return {"BOOL": value}
    if kind is int:
        return {"N": str(value)}
    if kind is bytes:
        return {"B": base64.b64encode(value).decode("ascii")}
    if kind is list:
        return {"L": [typed_value(element) for element in value]}
    if value is None:
        return {"NULL": True}
    names = _ion()
    if kind is names.IonPyDict and not value.ion_annotations:
        return {"M": {name: typed_value(member) for name, member in value.items()}}
    return _typed_ion_value(value, names)


def _typed_ion_value(value: Any, names: _IonNames) -> dict[str, Any]:
    ion_types = names.IonType
    kind = getattr(value, "ion_type", None)
    if kind is None:
        bare = next((name for cls, name in names.bare_names.items() if isinstance(value, cls)), type(value).__name__)
        raise ValueError(f"Ion {bare} is not a DynamoDB type (expected string, decimal, blob, bool, null, list or "
                         "struct)")
    if _is_null(value):
        return {"NULL": True}
    tag = _annotation(value)
    if tag is not None:
        if kind != ion_types.LIST:
            raise ValueError(f"{tag} annotation on a {kind.name.lower()}, expected a list")
        return {tag: [_set_member(member, tag, ion_types) for member in value]}
    if kind == ion_types.STRING:
        return {"S": str(value)}
    if kind == ion_types.BOOL:
        return {"BOOL": bool(value)}
    if kind in (ion_types.DECIMAL, ion_types.INT):
        return {"N": number_text(Decimal(value) if kind == ion_types.DECIMAL else int(value))}
    if kind == ion_types.BLOB:
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if kind == ion_types.LIST:
        return {"L": [typed_value(element) for element in value]}
    if kind == ion_types.STRUCT:
        return {"M": {name: typed_value(member) for name, member in value.items()}}
    raise ValueError(f"Ion {kind.name.lower()} is not a DynamoDB type (expected string, decimal, blob, bool, "
                     "null, list or struct)")


def _set_member(member: Any, tag: str, ion_types: Any) -> str:
    if _is_null(member):
        raise ValueError(f"{tag} member is null")
    kind = getattr(member, "ion_type", None) or _bare_ion_type(member, ion_types)
    if tag == "SS" and kind == ion_types.STRING:
        return str(member)
    if tag == "NS" and kind in (ion_types.DECIMAL, ion_types.INT):
        return number_text(Decimal(member) if kind == ion_types.DECIMAL else int(member))
    if tag == "BS" and kind == ion_types.BLOB:
        return base64.b64encode(bytes(member)).decode("ascii")
    raise ValueError(f"{tag} member is an Ion {kind.name.lower() if kind else type(member).__name__}")


def _bare_ion_type(value: Any, ion_types: Any) -> Any:
    return {str: ion_types.STRING, Decimal: ion_types.DECIMAL, int: ion_types.INT, bytes: ion_types.BLOB,
            bool: ion_types.BOOL, float: ion_types.FLOAT, list: ion_types.LIST}.get(type(value))


def json_line(record: Any) -> bytes:
    """One Ion export record (``{Item:{...}}`` or ``{Keys, NewImage, OldImage, Metadata}``) → a DynamoDB JSON line."""
    ion_types = _ion().IonType
    if getattr(record, "ion_type", None) != ion_types.STRUCT or _is_null(record):
        raise ValueError("line is not an Ion struct like {Item:{...}}")
    out: dict[str, Any] = {}
    for part, attributes in record.items():
        if getattr(attributes, "ion_type", None) != ion_types.STRUCT or _is_null(attributes):
            raise ValueError(f"{part} is not a struct of attributes")
        out[part] = {name: typed_value(value) for name, value in attributes.items()}
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def ion_lines_to_json(data: bytes, *, file: str, first_line: int, simpleion: Any) -> bytes:
    """Convert newline-separated Ion export lines to DynamoDB JSON lines (blank lines stay blank)."""
    from amazon.ion.simpleion import IonPyValueModel

    out = []
    for offset, line in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")):
        if not line.strip():
            out.append(b"")
            continue
        try:
            # amazon.ion 0.15's pure-Python reader decodes bytes as Latin-1: give it text (the C reader takes bytes)
            text = line if simpleion.c_ext else line.decode("utf-8")
            values = simpleion.loads(text, single_value=False, text_buffer_size_limit=len(line) + 1024,
                                     value_model=IonPyValueModel.MAY_BE_BARE)
            if len(values) != 1:
                raise ValueError(f"line holds {len(values)} Ion values, expected one {{Item:{{...}}}}")
            out.append(json_line(values[0]))
        except Exception as err:  # amazon.ion raises several unrelated types (IonException, ValueError, ...)
            raise MalformedLineError(f"Ion line could not be read: {err}", file=file,
                                     line=first_line + offset) from None
    return b"\n".join(out) + b"\n"
