"""Bring your own data: switching tags.data to the Medium CSVs is a params.yaml change
alone; `dvc repro` runs the tag pipeline on them, and re-runs import_articles when a
CSV changes (the data folder is a templated dep of the stage)."""
import csv
import json
import sys

import pytest

from tests.support import TINY_TAGS, make_project, run_ok
from tests.synthetic import write_medium_slice

pytestmark = pytest.mark.e2e


def test_medium_csvs_through_dvc_repro_without_editing_dvc_yaml(tmp_path):
    medium = {**TINY_TAGS, "tags.data.format": "medium", "tags.data.dir": "data/raw/medium",
              "tags.evaluate.min_count": 10}
    proj, env = make_project(tmp_path, medium)
    dvc_yaml = (proj / "dvc.yaml").read_text()
    write_medium_slice(proj / "data" / "raw" / "medium")
    run_ok([sys.executable, "-m", "dvc", "repro", "evaluate_tags"], proj, env, timeout=900)
    data = json.loads((proj / "metrics" / "tags_data.json").read_text())
    assert data["articles"] == 120 and data["lists"] == 30
    metrics = json.loads((proj / "metrics" / "tags.json").read_text())
    assert metrics["setup"]["target_tags"] == 3  # "misc, etc" survives the CSV round trip as one tag
    with open(proj / "plots" / "tags" / "top_tags.csv", newline="") as f:
        assert "misc, etc" in {row["tag"] for row in csv.DictReader(f)}
    assert (proj / "dvc.yaml").read_text() == dvc_yaml

    with open(proj / "data" / "raw" / "medium" / "medium_lists.csv", "a", newline="") as f:
        csv.writer(f).writerow(["https://medium.example/p/2", "list1"])
    status = run_ok([sys.executable, "-m", "dvc", "status", "import_articles"], proj, env).stdout
    assert "data/raw/medium" in status and "modified" in status
    again = run_ok([sys.executable, "-m", "dvc", "repro", "evaluate_tags"], proj, env, timeout=900).stdout
    assert "Running stage 'import_articles'" in again
    assert json.loads((proj / "metrics" / "tags_data.json").read_text())["memberships"] == data["memberships"] + 1
