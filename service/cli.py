"""The `credit-service` command: serve, db upgrade, users, audit verify, seed-demo and more."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.actor import Role
from service.config import Settings, SettingsError
from service.db.embedded import EmbeddedPostgres
from service.db.engine import make_engine, make_session_factory
from service.errors import causes
from service.logs import configure_logging, redact

if TYPE_CHECKING:
    from service.audit.content import ContentReport
    from service.integrations.platforms import Platform, Platforms
    from service.integrations.sync import Connections
    from service.signing.keys import VerifyingKeys

T = TypeVar("T")


class OneLineErrors(click.Group):
    """The command group: a failure an operator can fix ends in one line on stderr (what is
    wrong, what to do) and exit code 1, not a traceback. The one place for it: commands
    only raise; anything not known here still shows its (redacted) traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            message = explained(error)
            if message is None:
                raise
            raise click.ClickException(redact(message)) from None


def explained(error: BaseException) -> str | None:
    """One line for a known failure anywhere in the chain of causes; None if unknown."""
    import socket

    import asyncpg
    import httpx

    from service.audit.chain import ChainTampered
    from service.integrations.client import PlatformError
    from service.integrations.platforms import PlatformsError
    from service.signing.keys import SigningKeyError

    for cause in causes(error):
        if isinstance(cause, asyncpg.InvalidCatalogNameError):
            return (
                f"{cause}: create it (createdb) or point DATABASE_URL at an existing database, "
                "then run `credit-service db upgrade`"
            )
        if isinstance(
            cause, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
        ):
            return (
                f"the database refused the login ({cause}): check DATABASE_URL's user and password"
            )
        if isinstance(cause, ChainTampered):
            return str(cause)
        if isinstance(cause, SigningKeyError):
            return f"the signing key (SIGNING_KEY_FILE or DATA_DIR/signing/): {cause}"
        if isinstance(cause, asyncpg.UndefinedTableError):
            return "the database has no tables yet: run `credit-service db upgrade` first"
        # Before OSError: httpx's transport errors are caused by one.
        if isinstance(cause, httpx.TransportError):
            return (
                f"cannot reach the platform at {_origin(cause)} ({type(cause).__name__}"
                f"{': ' + str(cause) if str(cause) else ''}): check its url in PLATFORMS_FILE "
                "and that it is up, then run the command again"
            )
        if isinstance(cause, PlatformError):
            return (
                f"the platform did not give a usable answer ({cause}): run the command again later"
            )
        if isinstance(cause, PlatformsError):
            return str(cause)
        if isinstance(cause, ConnectionError | TimeoutError | socket.gaierror):
            return (
                f"cannot reach the database server {_database_address()} ({cause}): "
                "check DATABASE_URL's host and port and that PostgreSQL is running"
            )
    return None


def _origin(error: Any) -> str:
    """scheme://host:port of the request that failed: never its path, query or credentials."""
    try:
        url = error.request.url
    except RuntimeError:  # httpx raises this when the error has no request
        return "its url"
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


def _database_address() -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(os.environ.get("DATABASE_URL", ""))
    except (ArgumentError, ValueError):  # only a hint in a message
        return "of DATABASE_URL"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _one_shot_log_level(settings: Settings) -> str:
    """Commands that run once log warnings only, unless LOG_LEVEL asks for more: their
    output is for a person, and a failure is then its one line on stderr."""
    return settings.log_level if os.environ.get("LOG_LEVEL") else "WARNING"


def _platforms_ready(settings: Settings) -> Platforms:
    """The platforms file, with every platform's secret there: checked when a command that
    signs requests starts, not at its first batch."""
    from service.integrations.platforms import PlatformsError, load_platforms

    try:
        platforms = load_platforms(settings.platforms_file)
        platforms.require_secrets()
    except (PlatformsError, OSError) as error:
        raise click.ClickException(str(error)) from error
    return platforms


def _settings() -> Settings:
    try:
        return Settings.from_env().with_secret_key()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


def _quiet_settings() -> Settings:
    """The settings of a command that prints its own answer: it logs only warnings."""
    settings = _settings()
    configure_logging(settings.log_format, "WARNING")
    return settings


@contextmanager
def _database_url(settings: Settings) -> Iterator[str]:
    """DATABASE_URL if set; otherwise the embedded cluster, stopped when we are done."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@asynccontextmanager
async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


def _run(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main(url: str) -> T:
        async with _engine(url) as engine:
            return await work(engine)

    with _database_url(settings) as url:
        return asyncio.run(main(url))


def _in_transaction(
    work: Callable[[AsyncSession], Awaitable[T]],
) -> Callable[[AsyncEngine], Awaitable[T]]:
    """``work`` in a session of its own, committed when it returns."""

    async def run(engine: AsyncEngine) -> T:
        async with make_session_factory(engine)() as session, session.begin():
            return await work(session)

    return run


def _run_domain(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work``; a domain error (a bad file, an unknown version) exits with its message."""
    from service.errors import DomainError
    from service.policy.load import PolicyError

    try:
        return _run(settings, work)
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    except PolicyError as error:
        raise click.ClickException(str(error)) from error


@click.group(cls=OneLineErrors)
def main() -> None:
    """Regulatory credit and red/black-list service for elderly care."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True,
    help="the HTTP server that runs the workers (granian measured faster: decision 0034)",
)  # fmt: skip
def serve(host: str, port: int, workers: int, server: str) -> None:
    """Serve the HTTP API (several stateless workers share one database)."""
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit
    # lets the embedded database stop cleanly instead of dying with the process. (granian
    # installs its own handler once it starts: it stops its workers and returns.)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with _database_url(settings) as url:
        # Workers are separate processes: they find the database (and the secret
        # generated under DATA_DIR) through the environment, not through this process.
        os.environ["DATABASE_URL"] = url
        os.environ["SECRET_KEY"] = settings.secret_key.reveal() if settings.secret_key else ""
        if server == "granian":
            _serve_granian(settings, host, port, workers)
            return
        import uvicorn

        uvicorn.run(
            "service.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
            # X-Forwarded-For names the client only when a configured proxy sent it;
            # from anyone else (loopback included) it is ignored, so a client cannot
            # pick the address the public rate limit counts.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies) or None,
        )


# granian's own loggers, without their handlers: their lines (warnings and errors only)
# go through the root logger, so they are rendered and redacted like every other line.
_GRANIAN_LOGGERS: dict[str, Any] = {
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    }
}


def _serve_granian(settings: Settings, host: str, port: int, workers: int) -> None:
    """The same app under granian (HTTP/1.1), until SIGTERM or SIGINT.

    Each worker is a process that runs the app's lifespan (startup before it serves,
    shutdown after its last request). On SIGTERM granian stops the workers gracefully and
    returns, so the embedded database, if any, stops after them. X-Forwarded-For is
    applied by the app's factory (TRUSTED_PROXIES), as uvicorn does it; access lines come
    from the app's own middleware."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels

    from service.app import proxied_app_from_env

    # The app the workers build, built once here first (its lifespan does not run): a bad
    # configuration, such as an unreadable platforms file, then stops the command with its
    # one line, as under uvicorn, instead of a traceback from a worker that exits.
    proxied_app_from_env()
    server = Granian(
        "service.app:proxied_app_from_env",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        http=HTTPModes.http1,
        factory=True,
        # Its start and stop lines (where it listens, its workers) at LOG_LEVEL, like uvicorn's.
        log_level=LogLevels.__members__.get(settings.log_level.lower(), LogLevels.info),
        log_dictconfig=_GRANIAN_LOGGERS,
        log_access=False,
    )
    # granian configured logging for its loggers just now; ours again, as it was.
    configure_logging(settings.log_format, settings.log_level)
    server.serve()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from service.db.migrate import current_revision, upgrade
    from service.policy.store import ensure_shipped
    from service.public.readmodel import public_view_missing, rebuild
    from service.wiring import system_context

    settings = _settings()
    configure_logging(settings.log_format, _one_shot_log_level(settings))

    async def work(engine: AsyncEngine) -> str | None:
        await upgrade(engine, revision)
        if revision == "head":
            # The policy that ships with this code, if the database does not have it yet.
            async with make_session_factory(engine)() as session, session.begin():
                await ensure_shipped(session, system_context())
                # A database from before the public view: fill it once.
                if await public_view_missing(session):
                    await rebuild(session, system_context())
        return await current_revision(engine)

    click.echo(f"database at migration {_run(settings, work)}", err=True)


@main.group()
def users() -> None:
    """Users and their tokens."""


@users.command("create")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--region", default=None, help="region prefix for inspectors and reviewers")
@click.option("--name", required=True)
@click.option(
    "--login",
    default=None,
    help="a member of staff who signs in: print their one-time enrolment link, not a token",
)
def users_create(role: str, region: str | None, name: str, login: str | None) -> None:
    """Create a user. Without --login: a machine client, and its bearer token (only the
    token) on stdout. With --login: a member of staff, and the one-time link (valid 72
    hours) where they set a password and their second factor, on stdout."""
    from service.auth.service import create_user
    from service.auth.staff import create_staff_user
    from service.auth.totp import TotpVault
    from service.wiring import system_context

    settings = _quiet_settings()
    assert settings.secret_key is not None
    vault = TotpVault(settings.secret_key)

    async def work(session: AsyncSession) -> str:
        if login is not None:
            enrolment = await create_staff_user(
                session, system_context(), name=name, role=Role(role), region_code=region,
                login=login, vault=vault,
            )  # fmt: skip
            return enrolment.link(settings.base_url)
        _, token = await create_user(
            session, system_context(), name=name, role=Role(role), region_code=region
        )
        return token

    click.echo(_run_domain(settings, _in_transaction(work)))


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


MAX_FETCHED_BYTES = 64 * 1024 * 1024  # a checkpoint list or a key set is far smaller


def _fetched(source: str) -> str:
    """The text of a file, or of an http(s) URL's answer (a copy kept elsewhere)."""
    if source.startswith(("http://", "https://")):
        import httpx

        origin = _origin_of(source)  # never the whole URL: it may carry a token
        try:
            response = httpx.get(source, timeout=30, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise click.ClickException(
                f"cannot fetch from {origin}: {type(error).__name__}"
            ) from None
        content = response.content
    else:
        try:
            with Path(source).open("rb") as handle:
                content = handle.read(MAX_FETCHED_BYTES + 1)
        except OSError as error:
            raise click.ClickException(f"cannot read {source}: {error.strerror}") from None
        origin = source
    if len(content) > MAX_FETCHED_BYTES:
        raise click.ClickException(f"{origin}: larger than {MAX_FETCHED_BYTES} bytes")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{origin}: not UTF-8 text") from None


def _origin_of(url: str) -> str:
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "an invalid URL"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def _signing_ring(settings: Settings) -> Any:
    from service.signing.keys import SigningKeyError, load_or_create

    try:
        return load_or_create(settings.signing_key_path)
    except (OSError, SigningKeyError) as error:
        raise click.ClickException(f"the signing key: {error}") from None


def _verifying_keys(settings: Settings, jwks: str | None) -> Any:
    """The public keys to check signatures with: a JWKS given (file or URL), else the
    local key ring's (current and retired), which is never created here."""
    import json

    from service.signing.keys import SigningKeyError, VerifyingKeys, load_verifying

    try:
        if jwks is None:
            return load_verifying(settings.signing_key_path)
        return VerifyingKeys.from_jwks(json.loads(_fetched(jwks)))
    except (ValueError, OSError, SigningKeyError) as error:
        raise click.ClickException(f"no keys to verify with: {error}") from None


@audit.command("verify")
@click.option(
    "--content",
    is_flag=True,
    help="also recompute the content hash of every protected row (records, deficiencies, "
    "list entries and transitions, subjects, users) and name each one whose content is not "
    "what its last audited write left: an edit made with the audit triggers switched off",
)
@click.option(
    "--checkpoints",
    "checkpoint_source",
    default=None,
    metavar="FILE_OR_URL",
    help="signed checkpoints kept outside this database (the public list's JSON, saved or "
    "fetched from another copy, or one JWS per line): the chain must hold each one's head",
)
@click.option(
    "--jwks",
    default=None,
    metavar="FILE_OR_URL",
    help="public keys for the checkpoints' signatures (default: this service's key ring)",
)
def audit_verify(content: bool, checkpoint_source: str | None, jwks: str | None) -> None:
    """Exit 0 if the audit chain is intact; otherwise name the first broken row and exit 1.

    Intact means: every row links to the one before, the head carries a seal signature
    that verifies (so no row was appended below the sealer), and, with --checkpoints,
    every checkpointed head is still in the chain with its hash (so nothing before it was
    truncated or rewritten). With --content, also exit 1 if any protected row's content
    does not match the chain. The outcome is appended to the chain, where the admins'
    page shows the last one."""
    from service.audit import checkpoints as audit_checkpoints
    from service.audit.chain import ChainReport, SealSigner
    from service.audit.content import content_check
    from service.audit.verification import verify_and_record
    from service.wiring import system_context

    settings = _quiet_settings()
    signer = SealSigner(_signing_ring(settings))
    outside: list[audit_checkpoints.Checkpoint] = []
    if checkpoint_source is not None:
        keys = _verifying_keys(settings, jwks)
        try:
            outside = [
                audit_checkpoints.read(jws, keys)
                for jws in audit_checkpoints.parse_published(_fetched(checkpoint_source))
            ]
        except audit_checkpoints.CheckpointError as error:
            raise click.ClickException(f"{checkpoint_source}: {error}") from None

    async def work(
        engine: AsyncEngine,
    ) -> tuple[ChainReport, list[audit_checkpoints.Disagreement], ContentReport | None]:
        async with make_session_factory(engine)() as session, session.begin():
            report = await verify_and_record(session, system_context(), signer)  # seals first
            connection = await session.connection()
            disagreements = await audit_checkpoints.check_chain(connection, outside)
        if not content:
            return report, disagreements, None
        # In a transaction of its own, after the verification's has let go of the chain
        # lock (it reads the queue too): the sealers go on while every row is hashed.
        async with engine.connect() as connection:
            return report, disagreements, await content_check(connection)

    report, disagreements, checked = _run(settings, work)
    for disagreement in disagreements:
        checkpoint = disagreement.checkpoint
        click.echo(
            f"checkpoint {checkpoint.sequence} signed {checkpoint.signed_at}: "
            f"{disagreement.problem}",
            err=True,
        )
    if report.intact:
        sealed = f", head sealed by key {report.sealed_by}" if report.sealed_by else ""
        held = f"; all {len(outside)} outside checkpoints held" if outside else ""
        if not disagreements:
            click.echo(f"audit chain intact: {report.rows_checked} rows{sealed}{held}")
    else:
        click.echo(
            f"audit chain broken at row {report.first_broken_id}: {report.problem}", err=True
        )
    if checked is not None:
        _echo_content_report(checked)
    if not report.intact or disagreements or (checked is not None and not checked.clean):
        sys.exit(1)


def _echo_content_report(report: ContentReport) -> None:
    for mismatch in report.mismatches:
        where = mismatch.table + (f" {mismatch.target_id}" if mismatch.target_id else "")
        click.echo(f"{where}: {mismatch.problem}", err=True)
    if report.clean:
        click.echo(f"content matches the chain: {report.rows_checked} protected rows")
    else:
        click.echo(
            f"content does not match the chain: {len(report.mismatches)} problems found in "
            f"{report.rows_checked} protected rows",
            err=True,
        )
    click.echo(f"{report.outside_service_count} writes made outside the service in the chain")
    for write in report.latest_outside_service:
        click.echo(
            f"  audit row {write.audit_id} at {write.occurred_at.isoformat()}: {write.action} "
            f"of {write.target_type} {write.target_id} by database role {write.actor_role}"
        )


@audit.command("baseline")
def audit_baseline() -> None:
    """Vouch for the present content of the protected tables: record in the audit chain
    the content hash of every protected row that no audited write accounts for (and the
    absence of every audited row that is gone), so `audit verify --content` accepts them
    from now on. For use after a bulk load made outside the service, once you have
    checked the data: whoever runs it vouches that what is in the tables now is right."""
    from service.actor import SYSTEM_ROLE
    from service.audit.chain import SealSigner, seal
    from service.audit.content import Vouching, record_baseline

    settings = _quiet_settings()
    signer = SealSigner(_signing_ring(settings))

    async def work(session: AsyncSession) -> dict[str, int]:
        connection = await session.connection()
        counts = await record_baseline(connection, Vouching(actor_role=SYSTEM_ROLE))
        await seal(connection, signer)  # the baseline is in the chain when this commits
        return counts

    counts = _run(settings, _in_transaction(work))
    for table, count in counts.items():
        click.echo(f"{table}: {count} baseline rows")
    click.echo(f"{sum(counts.values())} baseline rows sealed into the audit chain")


@audit.command("seal")
def audit_seal() -> None:
    """Seal the committed rows waiting in the audit queue into the chain now (the
    serving processes and the worker do it on their own within a second)."""
    from service.audit.chain import SealSigner, seal

    settings = _quiet_settings()
    signer = SealSigner(_signing_ring(settings))

    async def work(session: AsyncSession) -> int:
        return await seal(await session.connection(), signer)

    sealed = _run(settings, _in_transaction(work))
    click.echo(f"{sealed} audit rows sealed")


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Seal what waits, then sign a checkpoint of the chain's head now and store it (the
    worker signs one every CHECKPOINT_INTERVAL_SECONDS when the head has moved)."""
    from service.audit import checkpoints as audit_checkpoints
    from service.audit.chain import SealSigner, seal
    from service.clock import system_clock

    settings = _quiet_settings()
    ring = _signing_ring(settings)

    async def work(session: AsyncSession) -> Any:
        await seal(await session.connection(), SealSigner(ring))
        return await audit_checkpoints.make(session, ring, system_clock(), only_if_moved=False)

    made = _run(settings, _in_transaction(work))
    if made is None:
        raise click.ClickException("the audit chain is empty: nothing to checkpoint yet")
    click.echo(made.jws)
    click.echo(f"checkpoint of row {made.sequence} signed with key {made.key_id}", err=True)


def _settings_without_secret() -> Settings:
    """The settings of a command that needs no secret key (so makes none under DATA_DIR)."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_format, "WARNING")
    return settings


@main.group()
def keys() -> None:
    """The Ed25519 key that signs decisions and checkpoints (SIGNING_KEY_FILE, or under
    DATA_DIR/signing/)."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key; the old one's public half is kept, so what it signed still
    verifies (it stays in /.well-known/jwks.json). Restart the running processes: they
    sign with the key they read at start until then."""
    from service.signing.keys import SigningKeyError, rotate

    settings = _settings_without_secret()
    try:
        old, new = rotate(settings.signing_key_path)
    except (SigningKeyError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"old kid {old}")
    click.echo(f"new kid {new}")
    click.echo(
        "restart every running `credit-service serve` and worker: they sign with the old key "
        "until they do",
        err=True,
    )


@keys.command("show")
def keys_show() -> None:
    """Print the public key set (JWKS), as /.well-known/jwks.json serves it; makes no key."""
    import json

    from service.signing.keys import SigningKeyError, load_verifying, public_jwk

    settings = _settings_without_secret()
    try:
        verifying = load_verifying(settings.signing_key_path)
    except (SigningKeyError, OSError) as error:
        raise click.ClickException(str(error)) from error
    jwks = {"keys": [public_jwk(key) for key in verifying.by_kid.values()]}
    click.echo(json.dumps(jwks, indent=2))


@main.group()
def decisions() -> None:
    """Signed eligibility decisions (signed=true)."""


@decisions.command("verify")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--jwks", "jwks_source", default=None, metavar="FILE_OR_URL",
    help="the public key set to verify against: a JWKS file, or an http(s):// URL such as "
    "https://credit.example/.well-known/jwks.json (default: the local key ring's public "
    "keys, current and retired; no key is ever made)",
)  # fmt: skip
def decisions_verify(file: Any, jwks_source: str | None) -> None:
    """Verify signed eligibility decisions offline and print what each decided.

    FILE (or - for stdin) holds either one compact JWS (the `decision_jws` of an answer),
    or a JSON answer of the eligibility API saved as received: one answer, or the bulk
    answer, whose every `decision_jws` is verified. Prints each decision's payload and
    "signature valid (kid ...)"; exits 1 with a one-line error at the first that does not
    verify."""
    import json

    from service.eligibility.signed import verify_decision
    from service.signing.jws import InvalidJWS

    keys = _decision_keys(jwks_source)
    text = file.read().strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise click.ClickException(f"{file.name}: not JSON ({error})") from None
        answers = document.get("answers", [document]) if isinstance(document, dict) else []
        found = [a.get("decision_jws") for a in answers if isinstance(a, dict)]
        compacts = [jws for jws in found if isinstance(jws, str)]
        if not compacts:
            raise click.ClickException(f"{file.name}: no decision_jws in this answer")
    else:
        compacts = [text]
    for number, compact in enumerate(compacts, start=1):
        which = f"decision {number} of {len(compacts)}" if len(compacts) > 1 else "the decision"
        try:
            header, payload = verify_decision(compact, keys)
        except InvalidJWS as error:
            raise click.ClickException(f"{which}: {error}") from None
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        click.echo(f"signature valid (kid {header['kid']})")


def _decision_keys(source: str | None) -> VerifyingKeys:
    """VerifyingKeys from a JWKS file or URL, or from the local key ring, never made here:
    verifying offline must not create a key."""
    return _verifying_keys(_settings_without_secret(), source)  # type: ignore[no-any-return]


@main.command()
@click.option("--policy", "version", default=None, help="policy version (default: in force today)")
@click.option("--region", default=None, help="only subjects of this region prefix")
@click.option(
    "--batch-size", default=20_000, show_default=True, type=click.IntRange(100, 1_000_000)
)
@click.option(
    "--verify",
    "verify_size",
    default=None,
    type=click.IntRange(1, 100_000),
    metavar="N",
    help="store nothing: score N sampled subjects with the engine and in SQL, compare both "
    "and their current stored scores, and exit 1 on any difference",
)
def recompute(
    version: str | None, region: str | None, batch_size: int, verify_size: int | None
) -> None:
    """Rescore every subject as of today, in batches, and store what changed."""
    if verify_size is not None:
        _verify_scores(version, region, verify_size)
        return
    from service.credit.bulk import count_subjects
    from service.credit.scoring import RecomputeReport
    from service.credit.scoring import recompute as run_recompute
    from service.wiring import system_context

    settings = _quiet_settings()

    async def work(engine: AsyncEngine) -> RecomputeReport:
        async with engine.connect() as connection:
            total = await count_subjects(connection, region)
        with click.progressbar(length=total, label="rescoring", file=sys.stderr) as bar:
            return await run_recompute(
                engine,
                system_context(),
                version=version,
                region=region,
                batch_size=batch_size,
                progress=bar.update,
            )

    report = _run_domain(settings, work)
    click.echo(
        f"{report.subjects} subjects rescored under policy {report.policy_version} in "
        f"{report.seconds:.1f} s; {report.changed} changed"
    )


def _verify_scores(version: str | None, region: str | None, size: int) -> None:
    from service.credit.verify import Verification, verify_scores
    from service.wiring import system_context

    settings = _quiet_settings()

    async def work(engine: AsyncEngine) -> Verification:
        return await verify_scores(
            engine, system_context(), size=size, version=version, region=region
        )

    report = _run_domain(settings, work)
    for difference in report.differences:
        click.echo(str(difference))
    click.echo(
        f"{report.sampled} subjects scored by the engine and in SQL under policy "
        f"{report.policy_version} as of {report.as_of}, {report.stored_compared} current "
        f"stored scores compared: {len(report.differences) or 'no'} "
        f"difference{'' if len(report.differences) == 1 else 's'}"
    )
    if report.differences:
        sys.exit(1)


@main.group()
def policy() -> None:
    """Policy versions: install, list, simulate a draft."""


def _policy_text(file: Path) -> str:
    try:
        return file.read_text("utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file}: a policy file is UTF-8 TOML text") from error


@policy.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policy_install(file: Path) -> None:
    """Store a new policy version from a TOML file (it takes effect on its effective_from)."""
    from service.policy.store import install
    from service.wiring import system_context

    settings = _quiet_settings()

    document = _policy_text(file)

    async def work(session: AsyncSession) -> str:
        stored = await install(session, system_context(), document, str(file))
        return f"policy {stored.version} installed, effective from {stored.effective_from}"

    click.echo(_run_domain(settings, _in_transaction(work)))


@policy.command("list")
def policy_list() -> None:
    """Every installed version, oldest first; the one in force today is marked *."""
    from service.clock import local_date, system_clock
    from service.policy.store import version_in_force, versions

    settings = _quiet_settings()

    async def work(engine: AsyncEngine) -> list[str]:
        async with make_session_factory(engine)() as session:
            now = system_clock()
            current = await version_in_force(session, local_date(now), now)
            return [
                f"{'*' if v.version == current.version else ' '} {v.version}\t"
                f"effective {v.effective_from}\tinstalled {v.activated_at:%Y-%m-%d %H:%M}\t{v.title}"
                for v in await versions(session)
            ]

    for line in _run_domain(settings, work):
        click.echo(line)


@policy.command("simulate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--show", default=20, show_default=True, help="how many changed subjects to list")
def policy_simulate(file: Path, as_of: datetime | None, show: int) -> None:
    """Say what a draft policy would change (grades, stars, eligibility), changing nothing."""
    from service.eligibility.whatif import Simulation, simulate
    from service.errors import DomainError
    from service.policy.store import checked_document
    from service.wiring import system_context

    settings = _quiet_settings()
    try:
        draft = checked_document(_policy_text(file), str(file))
    except DomainError as error:
        raise click.ClickException(error.detail) from error

    async def work(engine: AsyncEngine) -> Simulation:
        ctx = system_context()
        async with make_session_factory(engine)() as session:
            return await simulate(session, ctx, draft, as_of.date() if as_of else None)

    report = _run_domain(settings, work)
    click.echo(
        f"policy {report.draft_version} against {report.current_version} in force, as of "
        f"{report.as_of}: {report.subjects} subjects, {len(report.changes)} would change"
    )
    click.echo(f"  grade changes: {report.grade_changes}")
    click.echo(f"  effective star changes: {report.star_changes}")
    for program, count in sorted(report.eligibility_changes.items()):
        click.echo(f"  eligibility changes, {program}: {count}")
    for change in report.changes[:show]:
        click.echo(
            f"  {change.subject_kind} {change.subject_id} ({change.region_code}): "
            f"grade {change.before.grade}->{change.after.grade}, "
            f"stars {change.before.stars}->{change.after.stars}"
        )


@main.command()
@click.option("--once", is_flag=True, help="one pass, then exit (for cron and tests)")
@click.option("--interval", default=10.0, show_default=True, help="seconds between passes")
def worker(once: bool, interval: float) -> None:
    """Run expiries, daily list triggers and the outbox; several workers may run at once."""
    from service.wiring import system_context
    from service.worker import Pass, run

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    platforms = _platforms_ready(settings)
    stop = asyncio.Event()

    async def work(engine: AsyncEngine) -> Pass:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await run(
            make_session_factory(engine), system_context, settings, platforms,
            once=once, interval=interval, stop=stop,
        )  # fmt: skip

    done = _run_domain(settings, work)
    click.echo(
        f"expired {done.expired} entries, delivered {done.delivered} messages "
        f"({done.failed} failed), daily jobs: {done.jobs or 'none due'}"
    )


@main.group()
def idempotency() -> None:
    """Stored answers of retried POST requests."""


@idempotency.command("purge")
def idempotency_purge() -> None:
    """Delete the Idempotency-Key answers older than their 24-hour retention."""
    from service.clock import system_clock
    from service.idempotency.store import purge_expired

    async def work(session: AsyncSession) -> int:
        return await purge_expired(session, system_clock())

    deleted = _run(_quiet_settings(), _in_transaction(work))
    click.echo(f"{deleted} expired idempotency keys deleted")


@main.command("seed-demo")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="do nothing when institutions already exist")
def seed_demo(seed: int, if_empty: bool) -> None:
    """Load a reproducible synthetic province: institutions, practitioners and records."""
    from service.demo.seeding import seed_demo

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    assert settings.secret_key is not None
    secret_key = settings.secret_key

    async def work(engine: AsyncEngine) -> str:
        async with make_session_factory(engine)() as session:
            summary = await seed_demo(session, seed=seed, if_empty=if_empty, secret_key=secret_key)
        return summary + "\n" + await _demo_staff(settings, engine)

    click.echo(_run(settings, work), err=True)


async def _demo_staff(settings: Settings, engine: AsyncEngine) -> str:
    """The demo's members of staff, in development only; their secrets are shown once."""
    from service.auth.totp import TotpVault
    from service.demo.staff import seed_demo_staff
    from service.wiring import system_context

    if settings.environment == "production":
        return "demo staff not created: ENVIRONMENT is production"
    assert settings.secret_key is not None
    async with make_session_factory(engine)() as session, session.begin():
        created = await seed_demo_staff(session, system_context(), TotpVault(settings.secret_key))
    if not created:
        return "demo staff exist already (their passwords were shown when they were created)"
    lines = [
        f"demo staff (shown this once; sign in at {settings.base_url}/staff/sign-in):",
        *(
            f"  {c.member.login:<15} {c.member.role.value:<9} password {c.password}"
            + (f"  TOTP secret {c.totp_secret}" if c.totp_secret else "  (no second factor)")
            for c in created
        ),
    ]
    return "\n".join(lines)


@main.group()
def public() -> None:
    """The public read model behind the public pages and API."""


@public.command("rebuild")
def public_rebuild() -> None:
    """Recompute every institution's public answer and every published entry (the worker
    does this daily; run it after restoring a backup or changing the policy)."""
    from service.public.readmodel import rebuild
    from service.wiring import system_context

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)

    async def work(session: AsyncSession) -> int:
        return await rebuild(session, system_context())

    click.echo(f"public view rebuilt: {_run_domain(settings, _in_transaction(work))} institutions")


@main.group()
def sync() -> None:
    """Sync with the public-credit platforms of PLATFORMS_FILE."""


def _sync_run(
    work: Callable[[async_sessionmaker[AsyncSession], Connections], Awaitable[T]],
) -> T:
    """Run ``work`` with the platforms registered and one signed client per platform."""
    from service.identity.protection import IdNumberVault
    from service.integrations.sync import connect, register_at_start

    settings = _settings()
    configure_logging(settings.log_format, _one_shot_log_level(settings))
    platforms = _platforms_ready(settings)
    if not platforms.platforms:
        raise click.ClickException("no platforms: set PLATFORMS_FILE to a platforms file")
    assert settings.secret_key is not None
    secret_key = settings.secret_key

    async def main(engine: AsyncEngine) -> T:
        sessions = make_session_factory(engine)
        await register_at_start(sessions, platforms)
        async with connect(platforms, IdNumberVault(secret_key)) as connections:
            return await work(sessions, connections)

    return _run_domain(settings, main)


def _sync_each(
    name: str | None,
    step: Callable[[async_sessionmaker[AsyncSession], Connections, Platform], Awaitable[bool]],
) -> bool:
    """Run ``step`` for each chosen platform in turn; True if any step says it went wrong."""

    async def work(sessions: async_sessionmaker[AsyncSession], connections: Connections) -> bool:
        wrong = False
        for platform in _chosen(connections, name):
            wrong = await step(sessions, connections, platform) or wrong
        return wrong

    return _sync_run(work)


def _chosen(connections: Connections, name: str | None) -> list[Platform]:
    from service.integrations.platforms import PlatformsError

    try:
        return [connections.platforms.named(name)] if name else connections.platforms.platforms
    except PlatformsError as error:
        raise click.ClickException(str(error)) from error


_PLATFORM = click.option("--platform", "name", default=None, help="one platform (default: all)")


@sync.command("push")
@_PLATFORM
def sync_push(name: str | None) -> None:
    """Send what is waiting, now (the worker does this on its own)."""
    from datetime import UTC, datetime

    from service.integrations.sync import drain

    async def push(
        sessions: async_sessionmaker[AsyncSession], connections: Connections, platform: Platform
    ) -> bool:
        lane = await drain(sessions, connections, platform, lambda: datetime.now(UTC))
        click.echo(
            f"{platform.name}: {lane.delivered} delivered, {lane.dead} rejected"
            + (f"; failed: {lane.error}, next try {lane.retry_at:%H:%M:%S}" if lane.error else "")
            + (f"; {lane.skipped}" if lane.skipped else "")
        )
        return False  # a failed delivery is retried by the worker: not this command's failure

    _sync_each(name, push)


@sync.command("pull")
@_PLATFORM
def sync_pull(name: str | None) -> None:
    """Import other departments' lists from the changes feed, from the stored cursor."""
    from service.integrations.inbound import pull
    from service.wiring import system_context

    async def pull_one(
        sessions: async_sessionmaker[AsyncSession], connections: Connections, platform: Platform
    ) -> bool:
        report = await pull(
            sessions, system_context(), platform, connections.client(platform), connections.vault
        )
        if report.skipped:  # asked for by name, it is a failure; otherwise say so
            click.echo(f"{platform.name}: not pulled ({report.skipped})", err=bool(name))
            return bool(name)
        click.echo(
            f"{platform.name}: {report.items} items, {report.imported} imported, "
            f"{report.repeats} repeats, {report.malformed} malformed, {report.matched} "
            f"matched, {report.proposed} black-list proposals"
            + (f"; stopped: {report.error}" if report.error else "")
        )
        return report.error is not None

    if _sync_each(name, pull_one):
        sys.exit(1)


@sync.command("reconcile")
@_PLATFORM
@click.option("--dry-run", is_flag=True, help="report the drift, re-send nothing")
@click.option(
    "--deep", is_flag=True, help="compare every record's content, even when the digests agree"
)
def sync_reconcile(name: str | None, dry_run: bool, deep: bool) -> None:
    """Rebuild records from their sources, compare digests (and content), re-send, report."""
    from service.integrations.reconcile import reconcile, render
    from service.wiring import system_context

    async def reconcile_one(
        sessions: async_sessionmaker[AsyncSession], connections: Connections, platform: Platform
    ) -> bool:
        report = await reconcile(
            sessions, system_context(), platform, connections.client(platform),
            connections.platforms.sender, resend=not dry_run, deep=deep,
        )  # fmt: skip
        click.echo(render(report))
        return not report.in_sync

    if _sync_each(name, reconcile_one):
        sys.exit(2)  # scripts can tell drift (2) from a failure (1)


@sync.command("retry-dead")
@click.option(
    "--platform", "name", required=True, help="the platform whose dead letters to re-send"
)
def sync_retry_dead(name: str) -> None:
    """Re-send a platform's dead letters, rebuilt from their corrected sources."""
    from service.integrations.status import retry_dead
    from service.wiring import system_context

    async def work(sessions: async_sessionmaker[AsyncSession], connections: Connections) -> int:
        platform = _chosen(connections, name)[0]
        async with sessions() as session, session.begin():
            return await retry_dead(session, system_context(), platform.name)

    count = _sync_run(work)
    click.echo(f"{name}: {count} dead letters queued again; the worker sends them")


def _client_option(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    clients: dict[str, str] = {}
    for value in values:
        client_id, _, secret = value.partition("=")
        if not client_id or not secret:
            raise click.BadParameter(f"expected ID=SECRET, got {value!r}")
        clients[client_id] = secret
    return clients or {"demo": "demo-secret"}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="0 picks a free port")  # fmt: skip
@click.option("--client", "clients", multiple=True, callback=_client_option, metavar="ID=SECRET",
              help="a client and its secret; repeatable (default demo=demo-secret)")  # fmt: skip
def simulator(host: str, port: int, clients: dict[str, str]) -> None:
    """Run a public-credit platform simulator (protocol v1, fault injection) until stopped.

    A development tool: it needs the development extras (pip install -e '.[dev]')."""
    try:
        from platform_simulator.server import Simulator, running
    except ImportError as error:
        raise click.ClickException(
            f"the simulator is a development tool and needs the development extras ({error}): "
            "pip install -e '.[dev]'"
        ) from None
    from service.secret import register

    configure_logging("auto", "INFO")
    for secret in clients.values():
        register(secret)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with running(Simulator(clients), host, port) as bound:
            # Tests and scripts parse this line for the port when --port is 0.
            click.echo(f"simulator listening on http://{host}:{bound}")
            sys.stdout.flush()
            await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
