"""The shape of the code, held by tests: packages import each other without cycles, the
composition root sits on top, the command context is a leaf, and the pipeline's order is
the one the README describes."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import service
from service.credit import contributions
from service.credit.events import StarRatingRecorded
from service.credit.scoring import rescore
from service.integrations import staging
from service.listing.events import ListEntryChanged
from service.public import readmodel
from service.records.events import DeficiencyRectified, RecordConfirmed, RecordRevoked
from service.registry.events import SubjectChanged
from service.triggers import proposals
from service.wiring import PIPELINE

ROOT = Path(service.__file__).parent
# The top: they assemble the domains, and nothing below may import them.
COMPOSITION = {"app", "cli", "worker", "wiring", "tables", "metrics", "demo", "health"}


def package_of(module: str) -> str:
    """`service.records.service` -> `records`; a top-level module is its own package."""
    return module.split(".")[1]


def import_graph() -> dict[str, set[str]]:
    """Which package imports which, from every `import` and `from ... import` in service/."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue  # alembic's scripts, run by alembic, imported by no module
        source = package_of(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("service.") and package_of(name) != source:
                    graph[source].add(package_of(name))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_packages_import_each_other_even_through_others() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_below_the_composition_root_imports_it() -> None:
    graph = import_graph()
    offenders = {
        package: sorted(targets & COMPOSITION)
        for package, targets in graph.items()
        if package not in COMPOSITION and targets & COMPOSITION
    }
    assert offenders == {}


def test_the_command_context_knows_no_domain() -> None:
    assert import_graph()["context"] <= {"actor", "clock", "events"}


def test_the_steps_after_a_record_event_run_in_the_documented_order() -> None:
    for event in (RecordConfirmed, RecordRevoked, DeficiencyRectified):
        assert PIPELINE.steps_for(event) == (
            contributions.on_records,  # each record's kept parts in a score, first,
            rescore,  # then the scores,
            proposals.on_records,  # then the triggers that read them,
            staging.on_penalties,  # the platforms' copy of a disclosed penalty,
            readmodel.on_records,  # and the public view last, showing all of it
        )
    assert PIPELINE.steps_for(ListEntryChanged) == (
        staging.on_list_entries,
        readmodel.on_list_entries,
    )
    assert PIPELINE.steps_for(SubjectChanged) == (staging.on_subjects, readmodel.on_subjects)
    assert PIPELINE.steps_for(StarRatingRecorded) == (readmodel.on_star_ratings,)


# The web layers: the API's (web) and the workbench's pages. Sign-in is domain logic
# (service.auth) that both use and neither may be imported by it.
WEB_LAYERS = {"web", "workbench", "public"}


def test_sign_in_knows_no_web_layer() -> None:
    assert import_graph()["auth"].isdisjoint(WEB_LAYERS | COMPOSITION)


def test_only_the_composition_root_assembles_the_workbench() -> None:
    """Pages sit on top of the domains they call; no domain reaches up into them."""
    importers = {package for package, targets in import_graph().items() if "workbench" in targets}
    assert importers <= COMPOSITION
