"""MLflow models-from-code definition of the registered NER tagger (``gnn-ner``).

MLflow stores this file itself with each model version (no pickled class), and runs it
when the version is loaded; it only needs ``tasks.ner.inference``'s public functions.
Input: a DataFrame with a ``text`` column. Output: ``entities``, a list of
``{"type", "text"}`` per row.
"""
from __future__ import annotations

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class NerPyfunc(PythonModel):
    def load_context(self, context) -> None:
        from tasks.ner.inference import load_tagger

        self.tagger = load_tagger(context.artifacts["ner"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from tasks.ner.inference import tag_entities

        rows = [[{"type": t, "text": w} for t, w in tag_entities(self.tagger, str(text))]
                for text in model_input["text"]]
        return pd.DataFrame({"entities": rows})


set_model(NerPyfunc())
