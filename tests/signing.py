"""One signing key for the whole test session: every app, CLI run and worker the tests
start against the session's database seals the audit chain with it, as the processes of
one deployment share one key file, so each can check the head another signed."""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

from service.audit.chain import SealSigner
from service.signing.keys import KeyRing, load_or_create

TEST_SIGNING_KEY_FILE = Path(tempfile.mkdtemp(prefix="credit-test-signing-")) / "ed25519.pem"
# Inherited by the environments the tests build from os.environ (cli_env, served processes).
os.environ["SIGNING_KEY_FILE"] = str(TEST_SIGNING_KEY_FILE)


@cache
def session_ring() -> KeyRing:
    return load_or_create(TEST_SIGNING_KEY_FILE)


@cache
def session_sealer() -> SealSigner:
    return SealSigner(session_ring())
