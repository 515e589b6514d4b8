"""The Public Credit Platform Exchange protocol v1, the parts both sides share.

The adapter signs what it sends and the simulator checks it with the same function;
record validation, the digest and the vocabulary live here once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from service.identity.codes import IdentifierError, normalize_id_number, normalize_uscc

MAX_BATCH = 500
MAX_CLOCK_SKEW = 300  # seconds
NONCE_MEMORY = 600  # seconds a nonce may not be seen again
NONCE = re.compile(r"^[A-Za-z0-9-]{16,64}$")
OUTBOUND_TYPES = ("blacklist", "watchlist", "redlist", "penalty")
ACTIONS = ("publish", "withdraw")
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


def rejection(record: Mapping[str, Any]) -> str | None:
    """Why a record is invalid (``invalid_uscc``, ``missing_field:decision_no``), or None."""
    for name in (
        "record_id",
        "version",
        "record_type",
        "action",
        "subject",
        "effective_from",
        "decision_no",
        "authority",
    ):
        if record.get(name) in (None, ""):
            return f"missing_field:{name}"
    record_id, version = record["record_id"], record["version"]
    if not isinstance(record_id, str) or len(record_id) > 64:
        return "invalid_record_id"
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "invalid_version"
    if record["record_type"] not in OUTBOUND_TYPES:
        return "invalid_record_type"
    if record["action"] not in ACTIONS:
        return "invalid_action"
    subject = record["subject"]
    if not isinstance(subject, Mapping) or subject.get("kind") not in ("org", "person"):
        return "invalid_subject"
    try:
        if subject["kind"] == "org":
            normalize_uscc(str(subject.get("uscc") or ""))
        else:
            normalize_id_number(str(subject.get("id_number") or ""))
    except IdentifierError:
        return "invalid_uscc" if subject["kind"] == "org" else "invalid_id_number"
    if record["record_type"] == "penalty" and not isinstance(record.get("penalty"), Mapping):
        return "missing_field:penalty"
    if len(str(record.get("summary") or "")) > 2000:
        return "summary_too_long"
    return None
