"""The Public Credit Platform Exchange protocol v1, the parts both sides share.

The adapter signs what it sends and the simulator checks it with the same function;
the wire format, the digest and the vocabulary live here once. The wire format is
typed structs: a record is valid when it decodes as ``WireRecord`` (what a platform
stores), a changes-feed item can be kept when its ``Envelope`` decodes (the rest of an
item, a type we do not know or a subject we cannot match, is kept as it came), and a
decoding error names the field, which ``rejection`` turns into the protocol's reason
(``missing_field:decision_no``, ``invalid_uscc``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Literal, TypeVar, get_args

import msgspec
from msgspec import Meta, Struct

from service.identity.codes import IdentifierError, normalize_id_number, normalize_uscc

MAX_BATCH = 500
MAX_CLOCK_SKEW = 300  # seconds
NONCE_MEMORY = 600  # seconds a nonce may not be seen again
NONCE = re.compile(r"^[A-Za-z0-9-]{16,64}$")
RecordType = Literal["blacklist", "watchlist", "redlist", "penalty"]
Action = Literal["publish", "withdraw"]
OUTBOUND_TYPES: tuple[str, ...] = get_args(RecordType)
STATUS_ACCEPTED, STATUS_DUPLICATE, STATUS_STALE, STATUS_REJECTED = (
    "accepted",
    "duplicate",
    "stale",
    "rejected",
)
DELIVERED = frozenset({STATUS_ACCEPTED, STATUS_DUPLICATE, STATUS_STALE})
# What a platform says a stored record is, by the action that stored it.
IN_FORCE, WITHDRAWN = "in_force", "withdrawn"
STATUS_OF_ACTION = {"publish": IN_FORCE, "withdraw": WITHDRAWN}
T = TypeVar("T")


def signing_message(
    method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path_with_query, timestamp, nonce, digest]).encode()


def signature(
    secret: str, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    message = signing_message(method, path_with_query, timestamp, nonce, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def digest_of(lines: Iterable[tuple[str, int, str]]) -> str:
    """sha256 of ``record_id:version:status\\n`` lines sorted by record_id (lowercase hex)."""
    digest = hashlib.sha256()
    for record_id, version, status in sorted(lines):
        digest.update(f"{record_id}:{version}:{status}\n".encode())
    return digest.hexdigest()


# What is not a record's content: its identity and version, the action (compared as
# the status), and what a platform adds when it answers GET /v1/records/{id}.
_NOT_CONTENT = frozenset({"record_id", "version", "action", "status", "receipt_id"})


def content_hash(record: Mapping[str, Any]) -> str:
    """sha256 of what a record says, whatever the order of its keys.

    A person's ID number is left out: we keep it encrypted and decrypt it only to send,
    and a platform may hold it masked. The digest of the protocol covers only ids,
    versions and statuses; this is how reconciliation compares the content itself.
    """
    content = {key: value for key, value in record.items() if key not in _NOT_CONTENT}
    subject = content.get("subject")
    if isinstance(subject, Mapping):
        content["subject"] = {key: value for key, value in subject.items() if key != "id_number"}
    return hashlib.sha256(msgspec.json.encode(content, order="sorted")).hexdigest()


class Uscc(str):
    """A USCC, its check character verified when a record is decoded."""


class IdNumber(str):
    """A resident ID number, its check digit verified when a record is decoded."""


_CHECKS: dict[type, Callable[[str], str]] = {Uscc: normalize_uscc, IdNumber: normalize_id_number}
Text = Annotated[str, Meta(min_length=1)]  # present and not empty


class Envelope(Struct, kw_only=True):
    """Which record, which version of it, and what to do: every record and feed item has
    it (a feed item's other fields are kept as they come)."""

    record_id: Annotated[str, Meta(min_length=1, max_length=64)]
    version: Annotated[int, Meta(ge=1)]
    action: Action


class OrgSubject(Struct, tag_field="kind", tag="org"):
    uscc: Uscc
    name: str = ""


class PersonSubject(Struct, tag_field="kind", tag="person"):
    id_number: IdNumber
    name: str = ""  # the full name; the platform masks what it publishes


class Authority(Struct):
    name: str
    uscc: str | None = None


class WireRecord(Envelope, kw_only=True):
    """A record as ``POST /v1/records`` carries it; unknown fields are kept, not checked."""

    record_type: RecordType
    subject: OrgSubject | PersonSubject
    effective_from: date
    decision_no: Text
    authority: Authority
    effective_to: date | None = None
    reason_code: str | None = None
    summary: Annotated[str, Meta(max_length=2000)] | None = None
    penalty: dict[str, Any] | None = None  # the disclosure fields, on a penalty record

    def __post_init__(self) -> None:
        if self.record_type == "penalty" and self.penalty is None:
            raise ValueError("Object missing required field `penalty`")  # msgspec's words


def _checked(kind: type, value: Any) -> Any:
    check = _CHECKS.get(kind)
    if check is None:
        raise NotImplementedError
    if not isinstance(value, str):
        raise TypeError("Expected `str`")  # msgspec adds where
    try:
        check(value)
    except IdentifierError as error:
        raise ValueError(str(error)) from error
    return kind(value)


def decode_as(shape: type[T], value: Any) -> T:
    """``value`` (JSON as decoded) as ``shape``; msgspec.ValidationError naming the field."""
    return msgspec.convert(value, shape, dec_hook=_checked)


# The protocol's reasons where they are not ``invalid_<field>``, by the field's path.
_REASONS = {"subject.uscc": "invalid_uscc", "subject.id_number": "invalid_id_number"}
_MISSING = re.compile(r"^Object missing required field `(\w+)`")


def reason_of(error: msgspec.ValidationError) -> str:
    """The protocol's reason for a decoding error: ``missing_field:decision_no``,
    ``invalid_version``, ``invalid_uscc``."""
    text, _, where = str(error).partition(" - at `$")
    path = [part for part in where.rstrip("`").split(".") if part]
    if missing := _MISSING.match(text):
        path.append(missing.group(1))
        if len(path) == 1:
            return f"missing_field:{path[0]}"
    elif len(path) == 1 and ("got `null`" in text or "length >= 1" in text):
        return f"missing_field:{path[0]}"  # null and empty are missing, as the spec has it
    if not path:
        return "not_an_object"
    if path == ["summary"] and "length <=" in text:
        return "summary_too_long"
    return _REASONS.get(".".join(path[:2]), f"invalid_{path[0]}")


def rejection(record: Any) -> str | None:
    """Why a record is invalid (``invalid_uscc``, ``missing_field:decision_no``), or None."""
    if isinstance(record, Mapping):  # an empty value is a missing one, as the spec has it
        record = {name: value for name, value in record.items() if value != ""}
    try:
        decode_as(WireRecord, record)
    except msgspec.ValidationError as error:
        return reason_of(error)
    return None
