"""The one settings object: types, names and errors, and the rule that nothing else
reads the environment for a project setting (checked on the source, and on a planted
violation so that the rule can fail)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tasks.common.settings import QUIET_ENV, Settings, SettingsError, env_name, quiet_values, settings
from tests.support import ROOT

SETTINGS_MODULE = ROOT / "tasks" / "common" / "settings.py"
SCANNED = ("tasks", "models", "flows", "benchmarks", "tests")
# Reading these is not reading a project setting: they are passed on to child processes.
PASS_THROUGH = {"PATH", "PYTHONPATH"}


def setting_names() -> set[str]:
    return {env_name(field) for field in Settings.model_fields}


def environment_reads(path: Path) -> list[str]:
    """``os.environ.get(K)``, ``os.getenv(K)`` and ``os.environ[K]`` (read) in ``path``,
    where K is not a literal pass-through name: each as ``file:line``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            target = ast.unparse(node.func)
            if target in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if ast.unparse(node.value) in ("os.environ", "environ"):
                key = node.slice
        if key is not None and not (isinstance(key, ast.Constant) and key.value in PASS_THROUGH):
            found.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{node.lineno}")
    return sorted(found, key=lambda hit: int(hit.rpartition(":")[2]))


def test_no_module_but_settings_reads_the_environment():
    files = [p for pkg in SCANNED for p in sorted((ROOT / pkg).rglob("*.py")) if p != SETTINGS_MODULE]
    assert len(files) > 50
    offenders = [hit for p in files for hit in environment_reads(p)]
    assert not offenders, f"read the setting through tasks.common.settings.settings() instead: {offenders}"


def test_the_rule_catches_a_planted_read(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('import os\nPORT = int(os.environ.get("GNN_PREFECT_PORT", "4200"))\n'
                       'URI = os.environ["MLFLOW_TRACKING_URI"]\nPATH = os.environ.get("PATH")\n'
                       'ENV = {**os.environ, "GNN_WORKER": "w1"}\n')
    assert environment_reads(planted) == [f"{planted}:2", f"{planted}:3"]


def test_defaults_and_prefix(monkeypatch):
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    s = settings()
    assert (s.prefect_port, s.mlflow_port, s.cluster_workers, s.behaviour_models) == (4200, 5000, 2, "tiny")
    monkeypatch.setenv("GNN_PREFECT_PORT", "4300")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x.db")
    s = settings()
    assert s.prefect_port == 4300 and s.mlflow_tracking_uri == "sqlite:///x.db"
    assert env_name("prefect_port") == "GNN_PREFECT_PORT" and env_name("keras_backend") == "KERAS_BACKEND"


@pytest.mark.parametrize("name,value,why", [("GNN_PREFECT_PORT", "http", "integer"),
                                            ("GNN_CLUSTER_WORKERS", "-1", "greater than or equal to 0"),
                                            ("GNN_CLUSTER_HEARTBEAT_S", "5", "greater than or equal to 30"),
                                            ("KERAS_BACKEND", "theano", "tensorflow")])
def test_a_bad_value_names_its_variable(monkeypatch, name, value, why):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        settings()
    assert f"{name}={value!r}: " in str(err.value) and why in str(err.value)


def test_every_setting_is_documented():
    for field, info in Settings.model_fields.items():
        assert info.description and len(info.description) > 10, field


def test_telemetry_is_switched_off_in_one_place():
    values = quiet_values()
    assert values["DO_NOT_TRACK"] == "1" and values["MLFLOW_DISABLE_TELEMETRY"] == "true"
    makefile = (ROOT / "Makefile").read_text()
    assert f"include {QUIET_ENV.name}" in makefile
    for key in values:  # no second copy of the block anywhere
        copies = [p for pkg in SCANNED for p in (ROOT / pkg).rglob("*.py") if f'"{key}": "' in p.read_text()]
        assert not copies and f"{key} :=" not in makefile, (key, copies)
