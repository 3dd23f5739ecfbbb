"""Every environment knob of the project, named, typed and documented in one place.

Project settings carry the prefix ``GNN_`` (``GNN_PREFECT_PORT=4300 make ui``); the few
standard variables the project also reads (``MLFLOW_TRACKING_URI``, ``KERAS_BACKEND``, ...)
are fields here too, under their own names. No other module reads ``os.environ`` for a
setting (tests/unit/common/test_settings.py enforces it): call ``settings()``, which reads
the environment afresh, so a variable set by a parent process or a test is always seen.

Telemetry is switched off in one place: ``quiet.env`` at the project root, which the
Makefile includes and ``quiet_environment()`` applies. ``docs/settings.md`` is generated
from this class (``make report``).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal

from pydantic import AliasChoices, Field, IPvAnyAddress, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
QUIET_ENV = PROJECT_ROOT / "quiet.env"
PREFIX = "GNN_"


class SettingsError(ValueError):
    """An environment variable has a value the project cannot use; the message names it."""


def _std(name: str, description: str, default=None):
    """A standard (unprefixed) variable that the project reads, such as MLFLOW_TRACKING_URI."""
    return Field(default, validation_alias=AliasChoices(name), description=description)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", populate_by_name=False,
                                      validate_default=True)

    # make ui (flows/ui.py, flows/serve.py)
    prefect_port: int = Field(4200, ge=1, le=65535, description="make ui: port of the Prefect server and UI")
    mlflow_port: int = Field(5000, ge=1, le=65535, description="make ui: port of the MLflow server and UI")
    mlflow_ui: str = Field("http://127.0.0.1:5000",
                           description="MLflow UI address used in the links of Prefect artifacts")
    serve_limit: int = Field(2, ge=1, description="make ui: flow runs the deployments run at once")
    # Handed from a flow to its stage processes (flows/runner.py); not set by hand.
    parent_run_id: str | None = Field(None, description="set by a flow: the MLflow run its stages nest under")
    dvc_experiment: str | None = Field(None, description="set by a flow run that is a DVC experiment: its name")
    # make cluster (flows/cluster/)
    cluster_dir: Path | None = Field(None, description="make cluster: state folder (default .cluster/)")
    cluster_pg_port: int = Field(5433, ge=1, le=65535, description="make cluster: PostgreSQL port")
    cluster_prefect_port: int = Field(4300, ge=1, le=65535, description="make cluster: Prefect server port")
    cluster_mlflow_port: int = Field(5300, ge=1, le=65535, description="make cluster: MLflow server port")
    cluster_workers: int = Field(2, ge=0, description="make cluster: number of Prefect workers on this host "
                                                        "(0: only workers that join from other hosts)")
    cluster_pool: str = Field("gnn", min_length=1, description="make cluster: name of the Prefect work pool")
    cluster_heartbeat_s: int = Field(30, ge=30, description="make cluster: flow-run heartbeat; a run silent "
                                                            "for 2.5x this is declared Crashed")
    cluster_pg_user: str = Field("postgres", description="make cluster as root: the OS user PostgreSQL runs as")
    cluster_bind: IPvAnyAddress = Field("127.0.0.1", description="make cluster: the address the Prefect and MLflow "
                                        "servers listen on; any other than loopback turns on authentication and "
                                        "an SSH DVC remote (docs/scaling.md)")
    cluster_ssh_port: int = Field(2222, ge=1, le=65535, description="make cluster on a network address: port of "
                                                                   "the SSH server of the DVC remote")
    # Set on a cluster worker by make cluster (flows/cluster/services.py).
    worker: str | None = Field(None, description="set on a cluster worker: its name (an MLflow tag)")
    workspace: Path | None = Field(None, description="set on a cluster worker: its git workspace")
    dvc_shared_remote: str | None = Field(None, description="set on a cluster worker: the DVC remote "
                                                            "all workers share")
    # Tests
    behaviour_models: Literal["tiny", "real"] = Field(
        "tiny", description="tests/model: `real` tests the trained models in artifacts/ (make test-model)")
    test_artifacts: Path = Field(PROJECT_ROOT / "test-artifacts",
                                 description="where tests leave screenshots for a person to look at")
    # Standard variables the project reads as well
    mlflow_tracking_uri: str | None = _std("MLFLOW_TRACKING_URI", "MLflow store (default sqlite:///mlflow.db)")
    mlflow_experiment_name: str | None = _std("MLFLOW_EXPERIMENT_NAME",
                                              "set by a flow for its stages: the MLflow experiment")
    keras_backend: Literal["tensorflow", "jax", "torch"] = _std(
        "KERAS_BACKEND", "Keras backend (make run: tensorflow; GPU machines: jax)", "tensorflow")
    prefect_home: Path = _std("PREFECT_HOME", "Prefect's state folder", PROJECT_ROOT / ".prefect")


def settings() -> Settings:
    """The settings as the environment gives them now; a bad value exits with its name."""
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(f"{_env_name(e['loc'])}={e.get('input')!r}: {e['msg'].lower()}" for e in err.errors())
        raise SettingsError(f"invalid environment setting: {problems}") from None


def _env_name(loc: tuple) -> str:
    name = str(loc[0]) if loc else "?"
    field = Settings.model_fields.get(name)
    alias = getattr(field, "validation_alias", None) if field else None
    return alias.choices[0] if alias is not None else (PREFIX + name).upper()


def env_name(field: str) -> str:
    """The environment variable behind a field (``prefect_port`` -> ``GNN_PREFECT_PORT``)."""
    return _env_name((field,))


def quiet_values(path: Path = QUIET_ENV) -> dict[str, str]:
    """``quiet.env``: KEY=value lines that switch off telemetry and backend noise."""
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def quiet_environment() -> None:
    """Apply quiet.env to this process (and so to the processes it starts); a value the
    user set explicitly is kept."""
    for key, value in quiet_values().items():
        os.environ.setdefault(key, value)


@contextmanager
def native_stderr_hidden() -> Iterator[None]:
    """Hide what native libraries write straight to file descriptor 2 while they load
    (TensorFlow prints absl lines such as "Could not find cuda drivers" before its log
    level applies). For command lines whose output is the answer: Python's own errors
    still raise, and print once the block has ended."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

