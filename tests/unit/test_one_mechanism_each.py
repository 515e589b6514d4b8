"""One mechanism for each job, held by tests: one retry schedule, one start-up
registration of the platforms, one way a record is confirmed, one place a list step is
recorded, one table of the lists' writes."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import service
from service.listing import routes
from service.listing import service as listing
from service.outbox import queue as outbox
from service.outbox.models import OutboxMessage

ROOT = Path(service.__file__).parent


def tree(module: str) -> ast.Module:
    return ast.parse((ROOT / module).read_text(encoding="utf-8"))


def functions_containing(module: str, wanted: type[ast.AST], test: object = None) -> set[str]:
    """The top-level functions of a module in which a node of this kind appears."""
    found = set()
    for node in tree(module).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, wanted) and (test is None or test(inner)):  # type: ignore[operator]
                    found.add(node.name)
    return found


def calls_to(module: str, name: str) -> int:
    """How many times a module calls a function of this name (``f(...)`` or ``m.f(...)``)."""
    count = 0
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Call):
            called = node.func
            if (isinstance(called, ast.Name) and called.id == name) or (
                isinstance(called, ast.Attribute) and called.attr == name
            ):
                count += 1
    return count


def test_notices_failing_together_are_retried_at_different_moments() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    messages = [
        OutboxMessage(topic="list.notice", key=str(n), available_at=now, created_at=now)
        for n in range(20)
    ]
    for message in messages:
        outbox.failed(message, now, "HTTPStatusError: 503")
    waits = [message.available_at - now for message in messages]
    # stamina's schedule: the first retry after 1 s, plus up to 1 s at random.
    assert all(timedelta(seconds=1) <= wait <= timedelta(seconds=2) for wait in waits)
    assert len(set(waits)) == len(waits)


def test_every_retry_waits_on_the_one_schedule() -> None:
    """No doubling written by hand in the service, and stamina configured in one place."""
    powers, stamina_users = [], []
    for path in ROOT.rglob("*.py"):
        module = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Pow)
                and ast.unparse(node.left) in ("2", "2.0")
            ):
                powers.append(module)
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("retry", "retry_context")
                and ast.unparse(node.value) == "stamina"
            ):
                stamina_users.append(module)
    assert powers == []  # the schedule's own power is self.base ** n
    assert stamina_users == ["outbox/backoff.py"]


def test_the_platforms_are_registered_at_start_by_one_function() -> None:
    for module in ("app.py", "worker.py", "cli.py"):
        assert (calls_to(module, "register_at_start"), calls_to(module, "register_platforms")) == (
            1,
            0,
        ), module


def test_a_record_comes_into_force_in_one_function() -> None:
    def sets_confirmed(node: ast.Attribute) -> bool:
        return node.attr == "CONFIRMED" and ast.unparse(node.value) == "RecordStatus"

    writers = functions_containing("records/service.py", ast.Attribute, sets_confirmed)
    # _require_in_force and views read the status; only confirm_many writes it.
    readers = {"_require_in_force", "current"}
    assert writers - readers == {"confirm_many"}


def test_a_list_step_is_recorded_in_one_function() -> None:
    def builds_transition(node: ast.Call) -> bool:
        return isinstance(node.func, ast.Name) and node.func.id == "ListTransition"

    assert functions_containing("listing/service.py", ast.Call, builds_transition) == {"_record"}


def test_the_lists_writes_are_one_table() -> None:
    routed = {command.run for command in routes.COMMANDS}
    steps = {
        listing.propose, listing.notify, listing.object_to, listing.decide_objection,
        listing.decide, listing.publish, listing.withdraw, listing.revoke,
        listing.apply_for_repair, listing.decide_repair,
    }  # fmt: skip
    assert routed == steps
    # No handler of the module is written by hand but the reads.
    handwritten = {
        node.name
        for node in ast.walk(tree("listing/routes.py"))
        if isinstance(node, ast.AsyncFunctionDef)
        and any("post" in ast.unparse(d) or "get" in ast.unparse(d) for d in node.decorator_list)
    }
    assert handwritten == {"search", "read", "print_document"}
