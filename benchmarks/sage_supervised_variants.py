"""How the supervised GraphSAGE preset was chosen: each variant is trained with seed 42's
train tags and scored by its tag head's LRAP on seed 42's validation rows (test rows are
never read: tasks/tags/sage.py:split_labels).

    python benchmarks/sage_supervised_variants.py '{}' '{"learning_rate": 0.003}'

Each argument is a JSON object of overrides of the ``supervised`` preset; each line
printed is one variant's best validation LRAP, its epochs and training time. Needs
`dvc repro project_graph embed_text`. docs/results.md lists the runs that chose the preset.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment  # noqa: E402

quiet_environment()
os.chdir(ROOT)


def main(specs: list[str]) -> None:
    from models.graphsage import resolve_config
    from tasks.common.params import load_params
    from tasks.tags.sage import fit_and_embed, split_labels

    params = load_params().tags
    labels = split_labels(params)[0]
    for spec in specs or ["{}"]:
        config = resolve_config("supervised", **json.loads(spec))
        *_, stats = fit_and_embed(config, params.evaluate.seeds[0], labels=labels)
        print(spec, json.dumps({"validation_lrap": round(stats["best_validation_lrap"], 4),
                                "epochs": stats["epochs_run"], "train_s": round(stats["train_seconds"])}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
