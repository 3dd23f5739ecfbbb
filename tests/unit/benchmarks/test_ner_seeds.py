"""benchmarks/ner_seeds.py: variants are validated params, the summary's means, sample
std and seed-paired differences are right, and a workspace run is adopted only when the
workspace trains exactly that variant."""
import json
import statistics

import pytest

from tests.support import ROOT, load_benchmark


@pytest.fixture
def seeds(tmp_path, monkeypatch):
    module = load_benchmark("ner_seeds")
    monkeypatch.setattr(module, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(module, "SUMMARY", tmp_path / "metrics" / "ner_seeds.json")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    return module


def write_run(seeds, variant, seed, dev, test, seconds=60.0, **extra):
    seeds.RUNS.mkdir(exist_ok=True)
    record = {"variant": variant, "seed": seed, "best_epoch": 3, "epochs_run": 9, "seconds": seconds,
              "dev_f1": dev, "test_f1": test, "test_precision": test, "test_recall": test, **extra}
    (seeds.RUNS / f"{variant}-seed{seed}.json").write_text(json.dumps(record))


def test_every_variant_is_valid_params_and_sets_its_seed(seeds):
    from tasks.common.params import validate_params

    for variant in seeds.VARIANTS:
        ner = validate_params(seeds.variant_params(variant, 7)).ner
        assert ner.train.seed == 7
    no_gcn = validate_params(seeds.variant_params("default_crf_no_gcn", 1)).ner.model
    assert no_gcn.gcn_layers == 0 and no_gcn.output == "crf"


def test_a_variant_keeps_its_recipe_when_params_yaml_adopts_another(seeds):
    """params.yaml switching gradient clipping on makes graph_clip_norm the default; the
    graph variant's runs (clipping off) stay the graph variant's. Likewise for batches of 64."""
    import yaml

    from tasks.common.params import validate_params

    raw = yaml.safe_load((seeds.ROOT / "params.yaml").read_text())
    raw["ner"]["train"].update(clip_norm=1.0, word_dropout=0.25, batch_size=32)
    (seeds.ROOT / "params.yaml").write_text(yaml.safe_dump(raw))
    graph = validate_params(seeds.variant_params("graph", 42)).ner.train
    assert (graph.clip_norm, graph.word_dropout) == (0.0, 0.0)
    assert validate_params(seeds.variant_params("graph_clip_norm", 42)).ner.train.clip_norm == 1.0
    assert seeds.default_variant() is None  # word dropout 0.25 is no variant
    raw["ner"]["train"]["word_dropout"] = 0.0
    (seeds.ROOT / "params.yaml").write_text(yaml.safe_dump(raw))
    assert seeds.default_variant() == "graph_clip_norm"
    # Batches of 64 adopted: the variants that name no batch size keep 32.
    raw["ner"]["train"]["batch_size"] = 64
    (seeds.ROOT / "params.yaml").write_text(yaml.safe_dump(raw))
    assert validate_params(seeds.variant_params("graph_clip_norm", 42)).ner.train.batch_size == 32
    assert validate_params(seeds.variant_params("no_graph_clip_norm_batch64", 42)).ner.train.batch_size == 64
    assert seeds.default_variant() == "graph_clip_norm_batch64"


def test_summary_means_std_ranking_and_paired_differences(seeds):
    import yaml

    dev_a, test_a, dev_b, test_b = [0.95, 0.94, 0.96], [0.90, 0.91, 0.89], [0.93, 0.935], [0.88, 0.87]
    for seed, dev, test in zip((1, 2, 3), dev_a, test_a):
        write_run(seeds, "default_crf", seed, dev, test)
    for seed, dev, test in zip((1, 3), dev_b, test_b):
        write_run(seeds, "default_softmax", seed, dev, test)
    write_run(seeds, "seed_readme", 1, 0.99, 0.99)  # one lucky seed tops the ranking ...
    (seeds.ROOT / "params.yaml").write_text(yaml.safe_dump(seeds.variant_params("default_crf", 42)))
    summary = seeds.summarise()
    assert summary["default"] == "default_crf"  # ... but the pairs are with what params.yaml trains
    a = summary["variants"]["default_crf"]
    assert a["seeds"] == [1, 2, 3]
    assert a["dev_f1"]["mean"] == pytest.approx(statistics.fmean(dev_a))
    assert a["test_f1"]["std"] == pytest.approx(statistics.stdev(test_a))
    assert summary["ranked_by_dev_f1"] == ["seed_readme", "default_crf", "default_softmax"]
    assert summary["paired_vs_default"]["seed_readme"]["seeds"] == [1]
    paired = summary["paired_vs_default"]["default_softmax"]
    assert paired["seeds"] == [1, 3]  # only the seeds both variants ran
    diffs = [0.95 - 0.93, 0.96 - 0.935]
    assert paired["dev_f1"]["mean"] == pytest.approx(statistics.fmean(diffs))
    assert paired["dev_f1"]["std"] == pytest.approx(statistics.stdev(diffs))
    assert json.loads(seeds.SUMMARY.read_text()) == json.loads(json.dumps(summary))


def test_a_workspace_that_trains_another_variant_is_not_adopted(seeds):
    with pytest.raises(SystemExit, match="does not train variant default_softmax"):
        seeds.record_workspace("default_softmax")  # params.yaml's default preset ends in a CRF


def test_resumed_and_adopted_runs_count_in_the_scores_but_not_in_the_time_per_run(seeds, tmp_path):
    write_run(seeds, "graph", 1, 0.95, 0.90, seconds=600.0)
    write_run(seeds, "graph", 2, 0.94, 0.91, seconds=1000.0)
    write_run(seeds, "graph", 3, 0.96, 0.92, seconds=100.0, resumed_after_epoch=30)
    # adopted from the workspace (--from-workspace): its seconds sum the epochs only
    write_run(seeds, "graph", 4, 0.95, 0.93, seconds=400.0, source="dvc repro (workspace)")
    write_run(seeds, "no_graph", 1, 0.93, 0.89, seconds=50.0, resumed_after_epoch=5)
    summary = seeds.summarise()["variants"]
    assert summary["graph"]["seeds"] == [1, 2, 3, 4]
    assert summary["graph"]["test_f1"]["mean"] == pytest.approx(0.915)
    assert summary["graph"]["seconds"] == {"mean": 800.0, "std": pytest.approx(statistics.stdev([600, 1000])),
                                           "runs": 2}
    assert summary["no_graph"]["seconds"] is None  # no whole run: no time per run


def test_only_the_checkpoint_training_would_resume_counts_as_a_resume(seeds, tmp_path, monkeypatch):
    from tasks.common.params import validate_params
    from tasks.ner.training import checkpoint_dir

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "prepared" / "ner").mkdir(parents=True)
    (tmp_path / "data" / "prepared" / "ner" / "vocab.json").write_text("{}")
    ner = validate_params(seeds.variant_params("graph", 45)).ner
    assert seeds.resumable_epoch(ner) == 0
    other = tmp_path / ".cache" / "train_ner" / "0123456789abcdef" / "state.json"  # another run's key
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({"epoch": 12, "best_epoch": 9, "history": []}))
    assert seeds.resumable_epoch(ner) == 0
    state = checkpoint_dir(ner) / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"epoch": 30, "best_epoch": 29, "history": []}))
    assert seeds.resumable_epoch(ner) == 30


def test_a_run_file_keeps_each_epochs_dev_f1_as_training_wrote_it(seeds, tmp_path):
    """The history read back is the one train_ner writes (its own CSV writer), in epoch order."""
    from tasks.common.files import csv_text

    rows = [{"epoch": e, "train_loss": 1.0 / e, "dev_precision": 0.9, "dev_recall": 0.9, "dev_f1": f, "seconds": s}
            for e, f, s in ((1, 0.8812345678, 30.04), (2, 0.91, 29.96), (3, 0.905, 31.0))]
    path = tmp_path / "history.csv"
    path.write_text(csv_text(rows))
    assert seeds.epoch_history(path) == {"dev_f1_by_epoch": [0.881235, 0.91, 0.905],
                                         "epoch_seconds": [30.0, 30.0, 31.0]}
