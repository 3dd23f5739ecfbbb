"""The tag pipeline gives the same numbers for the same params and seed: two runs of
every stage's work, in two fresh folders, write identical embeddings and metrics."""
import json

import numpy as np

from tasks.common import paths
from tests.support import train_tiny_tags


def without_timings(tree):
    """Metrics minus wall-clock figures (seconds, throughput), which may differ."""
    if isinstance(tree, dict):
        return {k: without_timings(v) for k, v in tree.items() if "seconds" not in k and not k.endswith("_per_s")}
    return tree


def test_two_runs_give_identical_outputs(tmp_path):
    a, b = train_tiny_tags(tmp_path / "a"), train_tiny_tags(tmp_path / "b")
    for rel in (paths.TEXT_EMBEDDINGS, paths.SAGE_EMBEDDINGS):
        np.testing.assert_array_equal(np.load(a / rel), np.load(b / rel))
    for rel in (paths.SAGE_METRICS, paths.TAGS_METRICS, paths.GRAPH_METRICS, paths.SAMPLE_METRICS):
        assert without_timings(json.loads((a / rel).read_text())) == without_timings(json.loads((b / rel).read_text()))
