"""MLflow models-from-code definition of the registered tag model (``gnn-tags``).

MLflow stores this file itself with each model version (no pickled class), and runs it
when the version is loaded; it only needs ``tasks.tags.inference``'s public functions.
Input: a DataFrame with ``text`` and ``lists`` (a list of list ids) columns. Output:
``tags``, ``top_tags``, ``top_probabilities``, ``neighbours``, ``best_jaccard``, ``notes``,
``graph_tags``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class TagsPyfunc(PythonModel):
    def load_context(self, context) -> None:
        from tasks.tags.inference import TagModelFiles, load_tag_model

        self.model = load_tag_model(TagModelFiles(**{k: Path(v) for k, v in context.artifacts.items()}))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from tasks.tags.inference import predict_tags

        out = [predict_tags(self.model, str(text), [str(x) for x in lists])
               for text, lists in zip(model_input["text"], model_input["lists"])]
        return pd.DataFrame({"tags": [p.tags for p in out], "top_tags": [[t for t, _ in p.top] for p in out],
                             "top_probabilities": [[v for _, v in p.top] for p in out],
                             "neighbours": [p.neighbours for p in out], "best_jaccard": [p.best_jaccard for p in out],
                             "notes": [p.notes for p in out], "graph_tags": [p.graph_tags for p in out]})


set_model(TagsPyfunc())
