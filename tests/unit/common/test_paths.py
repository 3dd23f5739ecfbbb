"""tasks/common/paths.py names every stage output once; dvc.yaml must declare exactly
those outs, metrics and plots (DVC cannot read Python, so this test keeps them equal)."""
from pathlib import Path

import yaml

from tasks.common.paths import STAGES, StageFiles
from tests.support import ROOT


def declared(spec: dict, key: str) -> set[Path]:
    return {Path(next(iter(e)) if isinstance(e, dict) else e) for e in spec.get(key, [])}


def mismatches(dvc: dict, stages: dict[str, StageFiles]) -> list[str]:
    bad = []
    if set(dvc["stages"]) != set(stages):
        bad.append(f"stages differ: dvc.yaml {sorted(dvc['stages'])}, paths.py {sorted(stages)}")
    for name in set(dvc["stages"]) & set(stages):
        spec, files = dvc["stages"][name], stages[name]
        for key in ("outs", "metrics", "plots"):
            if declared(spec, key) != set(getattr(files, key)):
                bad.append(f"{name}.{key}: dvc.yaml {sorted(map(str, declared(spec, key)))} "
                           f"!= paths.py {sorted(map(str, getattr(files, key)))}")
        if not files.experiment:
            bad.append(f"{name}: no MLflow experiment")
    return bad


def test_dvc_yaml_declares_exactly_the_paths_of_paths_py():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    assert mismatches(dvc, STAGES) == []


def test_a_drifted_path_is_caught():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    dvc["stages"]["train_sage"]["outs"][0] = "data/prepared/tags/sage.npy"
    dvc["stages"]["evaluate_tags"]["metrics"] = []
    bad = mismatches(dvc, STAGES)
    assert len(bad) == 2 and bad[0].startswith(("train_sage.outs", "evaluate_tags.metrics"))
