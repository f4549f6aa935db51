"""Imports point one way: no module of ``hub`` or ``connectors`` imports from a higher layer.

The layers are described in docs/design.md ("Layers"); this is their one definition. Every
import counts, also one inside a function: a lazy import keeps start-up fast, it does not
make an upward dependency acceptable. Within a layer modules may import each other, but no
two modules import each other (directly or round a longer cycle), and no two packages
either: ``hub.routing`` may use ``hub.consent``, then nothing of ``hub.consent`` uses
``hub.routing``. A package whose modules sit in several layers (``hub.security``: its
client in the base, its ACLs among the rules, its command on top) counts once per layer.
``connectors`` uses only the hub's shared part (core, base, contract, the Kafka clients),
and that part uses nothing of ``connectors``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "connectors")

# Lowest first. An entry names a module or a package (then it covers everything below it
# that no longer entry names); the roots ``hub`` and ``connectors`` name only their
# ``__init__``. A new module must be placed here, else test_every_module_has_a_layer fails.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", (  # what every part shares, importing nothing of the hub: the routing decision,
        # the kinds of its reasons and of the audit's decisions (the metrics' help text names
        # them), every topic name and topic test
        "hub.core",
    )),
    ("base", (  # shared by every layer: errors, paths, settings, metrics, the clock
        "hub", "hub.errors", "hub.paths", "hub.wording", "hub.argtypes", "hub.yamlfile",
        "hub.clock", "hub.metrics", "hub.signals", "hub.settings", "hub.security",
        "hub.security.redact", "hub.security.client", "connectors.progress",
        "connectors.delivery.metrics",
    )),
    ("contract", (  # the event contract, the agency list, the dead-letter record
        "hub.contract", "hub.agencies", "hub.deadletter",
    )),
    ("agency formats", (  # the agencies' side of the contract: exports, German words, CSV
        "connectors", "connectors.vocabulary", "connectors.pseudonym", "connectors.rows",
        "connectors.envelopes", "connectors.formats", "connectors.consent",
        "connectors.export_file", "connectors.phonetics", "connectors.encodings",
        "connectors.delivery",
        "connectors.delivery.csvfile", "connectors.delivery.batchfiles",
        "connectors.delivery.backoff", "connectors.delivery.loops",
    )),
    ("rules", (  # the hub's pure cores: consent, routing, handovers, analytics, reports
        "hub.consent", "hub.handover", "hub.routing", "hub.audit", "hub.analytics",
        "hub.report", "hub.security.acl", "hub.topics", "hub.simulation", "hub.linkage",
    )),
    ("adapters", (  # Kafka, files, HTTP, processes
        "hub.kafka_io", "hub.tail", "hub.operator_views", "hub.broker", "hub.connectivity",
        "hub.faust", "hub.security.apply", "hub.report.load", "hub.deployment",
        "connectors.publish",
        "hub.topic_admin", "hub.routing.inbox_scan", "connectors.ingest", "connectors.sdk",
        "hub.analytics.rocks", "hub.analytics.takeover", "hub.analytics.repartition",
        "connectors.delivery.inbox", "connectors.delivery.directory",
        "connectors.delivery.webhook",
    )),
    ("runtime", (  # long-running processes: the Faust worker and its agents, the demo
        "hub.routing.agent", "hub.routing.runtime", "hub.routing.tables",
        "hub.analytics.agent", "hub.linkage.agent", "hub.worker", "hub.demo",
    )),
    ("commands", ("hub.commands",)),  # one module per command, registered on `hub` by hub.cli
    ("entry point", ("hub.cli", "hub.__main__")),
]

# Upward imports that are known and not fixed yet: (importer, imported) -> why.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}

# Import cycles that are known and not fixed yet: the modules of each, sorted -> why.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, str]:
    """Every module of the packages, by name, with its source."""
    return {module_name(path): path.read_text(encoding="utf-8")
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def layer_of(module: str) -> int | None:
    best, best_len = None, -1
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            covers = module == entry or (entry not in PACKAGES
                                         and module.startswith(entry + "."))
            if covers and len(entry) > best_len:
                best, best_len = index, len(entry)
    return best


def imports_of(module: str, source: str, known: set[str]) -> list[tuple[str, int]]:
    """The project modules ``module`` imports (anywhere in it), with the line."""
    # a package's relative imports start from the package itself, a module's from its parent
    is_package = module in PACKAGES or any(k.startswith(module + ".") for k in known)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: None if is_package else -1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found += [(t, node.lineno) for t in targets if t.split(".")[0] in PACKAGES]
    return found


def upward_imports(modules: dict[str, str]) -> list[tuple[str, str, int]]:
    """(importer, imported, line) for each import from a higher layer."""
    known = set(modules)
    upward = []
    for module, source in modules.items():
        own = layer_of(module)
        for target, line in imports_of(module, source, known):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                upward.append((module, target, line))
    return upward


def describe(module: str) -> str:
    return f"{module} ({LAYERS[layer_of(module)][0]})"


def test_every_module_has_a_layer():
    missing = sorted(m for m in sources() if layer_of(m) is None)
    assert not missing, f"place these modules in a layer of tests/test_layers.py: {missing}"


def test_imports_point_down():
    upward = [(m, t, line) for m, t, line in upward_imports(sources())
              if (m, t) not in KNOWN_UPWARD]
    assert not upward, "imports from a higher layer (docs/design.md, Layers):\n" + "\n".join(
        f"  {m.replace('.', '/')}.py:{line}: {describe(m)} imports {describe(t)}"
        for m, t, line in upward)


def test_known_upward_imports_are_still_there():
    """A known exception that was fixed is taken off the list."""
    present = {(m, t) for m, t, _ in upward_imports(sources())}
    assert set(KNOWN_UPWARD) <= present, set(KNOWN_UPWARD) - present


def import_cycles(modules: dict[str, str]) -> list[tuple[str, ...]]:
    """The groups of modules that import each other round a cycle, each sorted."""
    known = set(modules)
    return cycles_of({m: {t for t, _ in imports_of(m, source, known) if t in known and t != m}
                      for m, source in modules.items()})


def cycles_of(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The groups of nodes of ``graph`` (node -> the nodes it points to) that point to each
    other round a cycle (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(tuple(sorted(group)))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    cycles, known = set(import_cycles(sources())), set(KNOWN_CYCLES)
    assert cycles <= known, f"modules that import each other: {cycles - known}"
    assert known <= cycles, f"fixed, take them off KNOWN_CYCLES: {known - cycles}"


def package_of(module: str, known: set[str]) -> str:
    """The unit a package loop is judged on: a module's package below ``hub`` or
    ``connectors`` (``hub.routing.rules`` -> ``hub.routing``; a top-level module is its own
    package), with its layer when the package spans several (``hub.security@base``)."""
    parts = module.split(".")
    package = ".".join(parts[:2])
    if len(parts) == 2 and not any(k.startswith(package + ".") for k in known):
        return module  # a module of its own, e.g. hub.audit
    layers = {layer_of(k) for k in known if k == package or k.startswith(package + ".")}
    if len(layers) > 1:
        return f"{package}@{LAYERS[layer_of(module)][0]}"
    return package


def package_graph(modules: dict[str, str]) -> dict[str, dict[str, tuple[str, str]]]:
    """package -> package it imports -> one (importer, imported) pair of modules that does."""
    known = set(modules)
    graph: dict[str, dict[str, tuple[str, str]]] = {}
    for module, source in modules.items():
        own = package_of(module, known)
        graph.setdefault(own, {})
        for target, _ in imports_of(module, source, known):
            theirs = package_of(target, known) if target in known else None
            if theirs is not None and theirs != own:
                graph[own].setdefault(theirs, (module, target))
    return graph


def package_cycles(modules: dict[str, str]) -> list[tuple[str, ...]]:
    """The groups of packages that import each other round a cycle, each sorted."""
    return cycles_of({package: set(targets)
                      for package, targets in package_graph(modules).items()})


def test_no_package_cycles():
    modules = sources()
    graph = package_graph(modules)
    cycles = package_cycles(modules)
    assert not cycles, "packages that import each other:\n" + "\n".join(
        "  " + " <-> ".join(cycle) + ": " + "; ".join(
            f"{graph[a][b][0]} imports {graph[a][b][1]}"
            for a in cycle for b in cycle if b in graph[a])
        for cycle in cycles)


# What ``connectors`` may use of ``hub`` (docs/design.md, "connectors and hub"): the hub's
# shared part, i.e. the layers below the agency formats and the Kafka clients. That part
# uses nothing of ``connectors``; the rest of the hub may use ``connectors`` as the layers
# allow. So no loop runs between the two packages.
HUB_SHARED_LAYERS = ("core", "base", "contract")
HUB_SHARED_MODULES = ("hub.kafka_io",)


def in_hub_shared_part(module: str) -> bool:
    layer = layer_of(module)
    return module in HUB_SHARED_MODULES or (
        layer is not None and LAYERS[layer][0] in HUB_SHARED_LAYERS)


def package_root(module: str) -> str:
    return module.split(".")[0]


def hub_used_by_connectors(modules: dict[str, str]) -> dict[str, str]:
    """Every module of ``hub`` that ``connectors`` uses, directly or through other modules
    of ``hub`` -> the module of ``connectors`` it is used from."""
    known = set(modules)
    used: dict[str, str] = {}
    todo = [(target, module) for module, source in modules.items()
            if package_root(module) == "connectors"
            for target, _ in imports_of(module, source, known)
            if package_root(target) == "hub" and target in known]
    while todo:
        module, via = todo.pop()
        if module in used:
            continue
        used[module] = via
        todo += [(target, via) for target, _ in imports_of(module, modules[module], known)
                 if package_root(target) == "hub" and target in known]
    return used


def connectors_beyond_the_shared_part(modules: dict[str, str]) -> list[str]:
    """What breaks the rule: a module of ``hub`` outside the shared part that ``connectors``
    uses, or a module of the shared part that imports ``connectors``."""
    known = set(modules)
    beyond = [f"{describe(module)}, used from {via}"
              for module, via in sorted(hub_used_by_connectors(modules).items())
              if not in_hub_shared_part(module)]
    beyond += [f"{module.replace('.', '/')}.py:{line}: {module} imports {target}"
               for module, source in sorted(modules.items())
               if package_root(module) == "hub" and in_hub_shared_part(module)
               for target, line in imports_of(module, source, known)
               if package_root(target) == "connectors"]
    return beyond


def test_connectors_use_only_the_hubs_shared_part():
    beyond = connectors_beyond_the_shared_part(sources())
    assert not beyond, (
        "connectors imports from hub only hub.core, the base and contract layers and "
        "hub.kafka_io, and those import nothing of connectors (docs/design.md, connectors "
        "and hub):\n" + "\n".join(f"  {line}" for line in beyond))


def test_connectors_beyond_the_shared_part_are_found():
    modules = {"connectors.sdk": "from hub.kafka_io import producer", "hub.kafka_io": "",
               "hub.tail": "", "hub.errors": "", "hub.routing.rules": "",
               "connectors.formats": "from hub.errors import HubError"}
    assert connectors_beyond_the_shared_part(modules) == []
    modules["hub.kafka_io"] = "from hub.tail import Tail"  # through the shared part
    assert connectors_beyond_the_shared_part(modules) == [
        "hub.tail (adapters), used from connectors.sdk"]
    modules["hub.kafka_io"] = ""
    modules["hub.errors"] = "def f():\n    from connectors.formats import FORMATS\n"
    assert connectors_beyond_the_shared_part(modules) == [
        "hub/errors.py:2: hub.errors imports connectors.formats"]
    modules["hub.errors"] = ""
    modules["hub.routing.rules"] = "from connectors.formats import FORMATS"  # the rest: fine
    assert connectors_beyond_the_shared_part(modules) == []


def test_a_package_cycle_is_found():
    """Two packages that use each other through different modules: no module cycle, but a
    package loop (as hub.routing and hub.consent were, through hub.consent.ledger)."""
    modules = {"hub.routing": "", "hub.routing.rules": "from hub.consent.ledger import x",
               "hub.routing.reasons": "", "hub.consent": "",
               "hub.consent.ledger": "from hub.routing.reasons import ReasonKind",
               "hub.audit": "import hub.routing.rules", "hub.errors": ""}
    assert import_cycles(modules) == []
    assert package_cycles(modules) == [("hub.consent", "hub.routing")]
    modules["hub.consent.ledger"] = "from hub.errors import ConfigError"
    assert package_cycles(modules) == []


def test_a_package_cycle_through_a_top_level_module_is_found():
    modules = {"hub.routing": "", "hub.routing.engine": "from hub.audit import record",
               "hub.routing.rules": "", "hub.audit": "from hub.routing.rules import Decision"}
    assert import_cycles(modules) == []
    assert package_cycles(modules) == [("hub.audit", "hub.routing")]


def test_a_package_in_several_layers_counts_once_per_layer():
    known = {"hub.security", "hub.security.client", "hub.security.acl", "hub.kafka_io"}
    assert package_of("hub.security.client", known) == "hub.security@base"
    assert package_of("hub.security.acl", known) == "hub.security@rules"
    assert package_of("hub.kafka_io", known) == "hub.kafka_io"


def test_a_cycle_is_found():
    modules = {"hub.a": "import hub.b", "hub.b": "def f():\n    from hub.c import x\n",
               "hub.c": "from hub import a", "hub.d": "import hub.a"}
    assert import_cycles(modules) == [("hub.a", "hub.b", "hub.c")]


@pytest.mark.parametrize("source", [
    "from hub.cli import main",                     # at module level
    "def f():\n    from hub.worker import run_worker\n",  # hidden in a function
    "import hub.kafka_io",
])
def test_an_upward_import_is_found(source):
    modules = {"hub.contract.models": source, "hub.cli": "", "hub.worker": "",
               "hub.kafka_io": ""}
    assert [(m, line) for m, _, line in upward_imports(modules)] == [
        ("hub.contract.models", source.count("\n", 0, source.index("import")) + 1)]


def test_relative_and_submodule_imports_are_resolved():
    known = {"hub", "hub.cli", "hub.report", "hub.report.model", "hub.report.letter"}
    assert imports_of("hub.report", "from . import model", known) == [("hub.report.model", 1)]
    assert imports_of("hub.report.letter", "from .model import X\nfrom .. import cli",
                      known) == [("hub.report.model", 1), ("hub.cli", 2)]
    assert imports_of("hub.report.letter", "from hub import cli, __version__", known) == [
        ("hub.cli", 1), ("hub", 1)]
