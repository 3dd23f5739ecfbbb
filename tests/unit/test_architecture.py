"""The layout's rules, read from the source (no imports executed):

- no import cycles among project modules;
- no module imports a stage module (what dvc.yaml runs), and the library packages
  import only downward: common <- ner, tags <- serving <- predict CLI <- flows;
- models/ imports nothing from tasks/ or flows/;
- every stage's dvc.yaml deps cover each project module it imports, directly or not;
- no test module imports another test module; no benchmark imports test code;
- package __init__ files hold a docstring only (they are not listed as deps).

Each checker is also run on a planted violation, so a rule that cannot fail is caught.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest
import yaml

from tests.support import ROOT

PACKAGES = ("tasks", "models", "flows")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = ROOT, packages=PACKAGES) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (function bodies too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> nx.DiGraph:
    """module -> the project modules it imports (``from a import b`` names module a.b
    when that is a module, else a)."""
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        for target in imported_names(path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                g.add_edge(name, target)
    return g


def stage_modules(dvc_yaml: dict) -> dict[str, str]:
    out = {}
    for stage, spec in dvc_yaml["stages"].items():
        cmd = spec["cmd"].split()
        assert cmd[:2] == ["python", "-m"], f"{stage}: cmd must be `python -m tasks.<stage>`"
        out[stage] = cmd[2]
    return out


def cycles(g: nx.DiGraph) -> list[list[str]]:
    return [c for c in nx.simple_cycles(g)]


LAYERS = {  # a module of the key may import only modules whose prefix is listed
    "tasks.common": ("tasks.common",),
    "tasks.ner": ("tasks.common", "tasks.ner", "models"),
    "tasks.tags": ("tasks.common", "tasks.tags", "models"),
    "tasks.serving": ("tasks.common", "tasks.ner", "tasks.tags", "tasks.serving"),
    "tasks.report": ("tasks.common", "tasks.report"),
    "models": ("models",),
}


def layer_violations(g: nx.DiGraph, stages: set[str]) -> list[str]:
    bad = []
    for src, dst in g.edges:
        if dst in stages:
            bad.append(f"{src} imports the stage module {dst}")
        for prefix, allowed in LAYERS.items():
            if (src == prefix or src.startswith(prefix + ".")) and not any(
                    dst == a or dst.startswith(a + ".") for a in allowed):
                bad.append(f"{src} imports {dst} (allowed: {', '.join(allowed)})")
        if src.startswith("tasks") and dst.startswith("flows"):
            bad.append(f"{src} imports the flow module {dst}")
    return bad


def uncovered_deps(dvc_yaml: dict, g: nx.DiGraph, modules: dict[str, Path], root: Path = ROOT) -> list[str]:
    """Per stage, the project modules it imports (transitively) that no dep covers."""
    missing = []
    for stage, module in stage_modules(dvc_yaml).items():
        deps = [d for d in dvc_yaml["stages"][stage].get("deps", []) if "${" not in d]
        for name in sorted(nx.descendants(g, module) | {module}):
            rel = modules[name].relative_to(root).as_posix()
            if rel.endswith("__init__.py"):
                continue  # docstring only (checked below)
            if not any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps):
                missing.append(f"{stage}: {rel} (imported through {module}) is not a dep")
    return missing


@pytest.fixture(scope="module")
def project():
    modules = project_modules()
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    return modules, import_graph(modules), dvc


def test_no_import_cycles(project):
    _, g, _ = project
    assert cycles(g) == []


def test_layers_and_stage_modules(project):
    _, g, dvc = project
    assert layer_violations(g, set(stage_modules(dvc).values())) == []


def test_models_import_nothing_from_tasks_or_flows(project):
    modules, g, _ = project
    bad = [(a, b) for a, b in g.edges if a.startswith("models") and not b.startswith("models")]
    assert bad == []


def test_every_stage_lists_the_modules_it_imports(project):
    modules, g, dvc = project
    assert uncovered_deps(dvc, g, modules) == []


def test_package_inits_hold_only_a_docstring(project):
    modules, _, _ = project
    for name, path in modules.items():
        if path.name == "__init__.py":
            body = ast.parse(path.read_text(encoding="utf-8")).body
            assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), path


def test_tests_and_benchmarks_keep_to_themselves():
    tests = project_modules(ROOT, ("tests",))
    for name, path in tests.items():
        for target in imported_names(path):
            assert not target.rpartition(".")[2].startswith("test_") and ".test_" not in target, \
                f"{name} imports the test module {target}"
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        assert not any(t == "tests" or t.startswith("tests.") for t in imported_names(path)), \
            f"{path.name} imports test code"


# ----------------------------------------------------------------------- the rules can fail
def planted_project(tmp_path: Path) -> tuple[dict[str, Path], nx.DiGraph]:
    files = {
        "tasks/__init__.py": "", "tasks/common/__init__.py": "", "tasks/ner/__init__.py": "",
        "tasks/common/a.py": "from tasks.ner import b\n",           # common importing ner: a layer violation
        "tasks/ner/b.py": "def f():\n    import tasks.common.a\n",  # ... and a cycle with a lazy import
        "tasks/stage_x.py": "from tasks.ner.b import f\n",
        "tasks/ner/c.py": "from tasks.stage_x import f\n",          # a library importing a stage
        "models/__init__.py": "", "models/m.py": "from tasks.common import a\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    modules = project_modules(tmp_path, ("tasks", "models"))
    return modules, import_graph(modules)


def test_checkers_catch_planted_violations(tmp_path):
    modules, g = planted_project(tmp_path)
    assert sorted(map(sorted, cycles(g))) == [["tasks.common.a", "tasks.ner.b"]]
    bad = layer_violations(g, {"tasks.stage_x"})
    assert "tasks.ner.c imports the stage module tasks.stage_x" in bad
    assert any(b.startswith("tasks.common.a imports tasks.ner.b") for b in bad)
    assert any(b.startswith("models.m imports tasks.common.a") for b in bad)
    dvc = {"stages": {"x": {"cmd": "python -m tasks.stage_x", "deps": ["${data.dir}", "tasks/stage_x.py",
                                                                       "tasks/ner"]}}}
    assert uncovered_deps(dvc, g, modules, tmp_path) == [
        "x: tasks/common/a.py (imported through tasks.stage_x) is not a dep"]
    dvc["stages"]["x"]["deps"].append("tasks/common")
    assert uncovered_deps(dvc, g, modules, tmp_path) == []
