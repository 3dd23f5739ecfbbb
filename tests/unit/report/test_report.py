"""make report: the committed tables are what the files give, and a hand-edited figure,
a changed source file or an unknown marker is caught."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tasks.common.stats import format_mean_std, mean_std
from tasks.report.__main__ import main, report
from tasks.report.markdown import REFERENCE_MACHINE, ReportError, Source, paired_by_seed, replace_blocks
from tests.support import ROOT


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """The pages and every file the tables read, in a throw-away root."""
    for rel in ("README.md", "docs", "metrics", "benchmarks/results", "plots/ner/history.csv"):
        src, dest = ROOT / rel, tmp_path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dest) if src.is_dir() else shutil.copy2(src, dest)
    return tmp_path


def test_committed_tables_are_what_the_files_give():
    assert report(ROOT, check=True) == [], "run `make report` and commit the pages"


def test_a_hand_edited_figure_fails_the_check(project_copy, capsys):
    page = project_copy / "docs" / "results.md"
    text = page.read_text()
    cell = mean_std(json.loads((ROOT / "metrics" / "tags.json").read_text())["concat"]["per_seed"][s]["test"]["lrap"]
                    for s in ("42", "43", "44"))
    figure = format_mean_std(*cell)
    assert figure in text
    page.write_text(text.replace(figure, format_mean_std(cell[0] + 0.01, cell[1]), 1))
    assert report(project_copy, check=True) == ["docs/results.md: tags"]
    assert main(["--check", "--root", str(project_copy)]) == 1
    assert "stale (hand-edited, or its source changed): docs/results.md: tags" in capsys.readouterr().out
    assert main(["--root", str(project_copy)]) == 0  # make report mends it ...
    assert page.read_text() == text and report(project_copy, check=True) == []  # ... to the committed page


def test_a_changed_source_file_makes_its_tables_stale(project_copy):
    path = project_copy / "metrics" / "ner.json"
    metrics = json.loads(path.read_text())
    metrics["test"]["f1"] += 0.001
    path.write_text(json.dumps(metrics))
    assert sorted(report(project_copy, check=True)) == ["README.md: summary", "docs/results.md: ner-committed"]


def test_unknown_marker_and_missing_source_are_named(project_copy, capsys):
    with pytest.raises(ReportError, match="page.md: unknown table <!-- report:nope -->"):
        replace_blocks("<!-- report:nope -->\nx\n<!-- /report:nope -->\n", {"tags": ""}, "page.md")
    (project_copy / "metrics" / "tags.json").unlink()
    assert main(["--check", "--root", str(project_copy)]) == 2
    assert "metrics/tags.json: missing" in capsys.readouterr().err


def test_mean_std_is_the_sample_std():
    values = [0.9, 0.91, 0.94]
    assert mean_std(values) == pytest.approx((np.mean(values), np.std(values, ddof=1)))
    assert mean_std([0.5]) == (0.5, 0.0)
    assert format_mean_std(0.90244, 0.00313, digits=2, scale=100) == "90.24 ± 0.31"


def test_paired_differences_take_the_common_seeds_in_numeric_order():
    a = {"9": {"f1": 0.90, "p": 0.5}, "10": {"f1": 0.92, "p": 0.5}, "42": {"f1": 0.91, "p": 0.5}}
    b = {"10": {"f1": 0.91, "p": 0.6}, "9": {"f1": 0.93, "p": 0.4}, "7": {"f1": 0.0, "p": 0.0}}
    paired = paired_by_seed(a, b, ("f1",))
    assert list(paired) == ["9", "10"]  # 42 and 7 lack a partner; "10" sorts after "9"
    assert paired["9"]["f1"] == pytest.approx(-0.03) and paired["10"]["f1"] == pytest.approx(0.01)
    assert list(paired_by_seed({43: {"f1": 1.0}, 42: {"f1": 1.0}}, {42: {"f1": 0.5}, 43: {"f1": 0.0}}, ("f1",)).items()) \
        == [(42, {"f1": 0.5}), (43, {"f1": 1.0})]


def test_a_table_from_another_machine_is_marked():
    assert "another machine" not in Source(("x.json",), machine=REFERENCE_MACHINE).caption()
    assert "**another machine** than the reference" in Source(("x.json",), machine="laptop arm64, 8 cores").caption()


def test_the_host_cpu_is_named_by_model_family_and_avx512(tmp_path):
    from tasks.report.markdown import host_cpu

    info = tmp_path / "cpuinfo"
    core = ("processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
            "model name\t: AMD EPYC\nflags\t\t: fpu sse2 {flags}\npower management:\n")
    info.write_text(core.format(n=0, flags="avx2 avx512f") + "\n" + core.format(n=1, flags="avx2 avx512f"))
    assert host_cpu(info) == "AMD EPYC, family 25 model 17, AVX-512"
    info.write_text(core.format(n=0, flags="avx2 avx512_vnni"))  # an AVX-512 extension without the base set
    assert host_cpu(info) == "AMD EPYC, family 25 model 17, no AVX-512"
    assert host_cpu(tmp_path / "missing") == "unknown"


def test_the_figure_is_redrawn_from_the_files_and_a_stale_one_fails_the_check(project_copy, capsys):
    from tasks.report.figures import FIGURES, ner_seeds_svg

    figure = project_copy / "docs" / "images" / "ner_seeds.svg"
    assert "docs/images/ner_seeds.svg" in FIGURES
    assert ner_seeds_svg(project_copy) == figure.read_text()  # same files, same bytes
    default = json.loads((project_copy / "metrics" / "ner_seeds.json").read_text())["default"]
    run_file = project_copy / f"benchmarks/results/ner_seeds/{default}-seed42.json"
    run = json.loads(run_file.read_text())
    assert f"{100 * run['test_f1']:.2f}" not in figure.read_text()  # drawn, not printed: points, not numbers
    run["test_f1"] -= 0.01  # the default's run: the README's summary changes too
    run_file.write_text(json.dumps(run))
    assert report(project_copy, check=True) == ["README.md: summary", "docs/results.md: ner-seeds, ner-paired",
                                                "docs/images/ner_seeds.svg"]
    assert main(["--root", str(project_copy)]) == 0
    assert figure.read_text() == ner_seeds_svg(project_copy) and report(project_copy, check=True) == []


def test_the_paired_ner_table_counts_the_run_files_not_an_older_summary(project_copy):
    """A variant's run finished after metrics/ner_seeds.json was last summarised: its seed
    joins the paired row (seeds, mean ± std, seeds ahead), from the run files alone."""
    from tasks.report.ner_tables import ner_paired

    runs = project_copy / "benchmarks" / "results" / "ner_seeds"
    summary = json.loads((project_copy / "metrics" / "ner_seeds.json").read_text())
    best, other = summary["default"], next(iter(summary["paired_vs_default"]))
    mine = {json.loads(p.read_text())["seed"]: p for p in runs.glob(f"{other}-seed*.json")}
    theirs = {json.loads(p.read_text())["seed"]: json.loads(p.read_text()) for p in runs.glob(f"{best}-seed*.json")}
    new_seed = min(set(theirs) - set(mine))
    planted = {**json.loads(next(iter(mine.values())).read_text()), "seed": new_seed,
               "dev_f1": theirs[new_seed]["dev_f1"] - 0.01, "test_f1": theirs[new_seed]["test_f1"] - 0.02}
    (runs / f"{other}-seed{new_seed}.json").write_text(json.dumps(planted))
    row = next(line for line in ner_paired(project_copy).splitlines() if f"`{other}` |" in line)
    seeds = sorted([*mine, new_seed])
    assert f"| {', '.join(map(str, seeds))} |" in row and row.endswith(f" of {len(seeds)} |"), row


def test_the_paired_ner_table_shows_what_the_graph_adds_under_each_recipe(project_copy):
    """Each variant with a no-graph ablation, the default or not, has its own row
    `variant − ablation`, equal to the differences taken seed by seed from the run files."""
    from tasks.report.ner_tables import NER_ABLATION, ner_paired

    runs = project_copy / "benchmarks" / "results" / "ner_seeds"
    table = ner_paired(project_copy)
    checked = 0
    for variant, ablation in NER_ABLATION.items():
        a, b = ({r["seed"]: r for r in (json.loads(p.read_text()) for p in runs.glob(f"{v}-seed*.json"))}
                for v in (variant, ablation))
        seeds = sorted(set(a) & set(b))
        if not seeds:
            continue
        row = next(line for line in table.splitlines() if line.startswith(f"| `{variant}` − `{ablation}` |"))
        dev = mean_std(a[s]["dev_f1"] - b[s]["dev_f1"] for s in seeds)
        spread = f" ± {dev[1] * 100:.2f}" if len(seeds) > 1 else ""  # one seed: no spread shown
        ahead = sum(a[s]["test_f1"] > b[s]["test_f1"] for s in seeds)
        assert f"| {', '.join(map(str, seeds))} | {dev[0] * 100:+.2f}{spread} |" in row, row
        assert row.endswith(f"| {ahead} of {len(seeds)} |"), row
        checked += 1
    assert checked >= 2  # the current default's pair and the previous default's


def test_the_paired_ner_table_keeps_each_earlier_defaults_comparisons_after_the_defaults(project_copy):
    """The results page explains each earlier choice of default by its paired rows: they
    stay, one per other variant that shares a seed with it, after the default's rows."""
    from tasks.report.ner_tables import NER_PREVIOUS_DEFAULTS, ner_paired, ner_run_files, run_variants

    best = json.loads((project_copy / "metrics" / "ner_seeds.json").read_text())["default"]
    rows = [line for line in ner_paired(project_copy).splitlines() if line.startswith("| `")]
    last_default_row = max(i for i, line in enumerate(rows) if line.startswith(f"| `{best}` − "))
    seeds = {v: {r["seed"] for r in ner_run_files(project_copy, v)} for v in run_variants(project_copy)}
    checked = 0
    for earlier in (v for v in NER_PREVIOUS_DEFAULTS if v != best and v in seeds):
        for other in (v for v in seeds if v not in (best, earlier) and seeds[v] & seeds[earlier]):
            at = [i for i, line in enumerate(rows) if line.startswith(f"| `{earlier}` − `{other}` |")]
            assert len(at) == 1 and at[0] > last_default_row, (earlier, other)
            checked += 1
    assert checked >= 10


def test_early_stop_replays_train_ners_own_rule_on_a_history():
    """The patience table cuts recorded runs short by the rule train_ner stops by
    (tasks/ner/training.py: out_of_patience, finished), replayed epoch by epoch here as
    training's scorer updates its state: ties are no gain, and the epoch cap stops too."""
    from types import SimpleNamespace

    import numpy as np

    from tasks.ner.training import finished
    from tasks.report.ner_tables import early_stop

    def replay(dev_f1, patience):
        tp, state = SimpleNamespace(patience=patience, epochs=len(dev_f1)), {"epoch": 0, "best_f1": -1.0,
                                                                             "best_epoch": 0}
        while not finished(state, tp):
            state["epoch"] += 1
            if dev_f1[state["epoch"] - 1] > state["best_f1"]:
                state["best_f1"], state["best_epoch"] = dev_f1[state["epoch"] - 1], state["epoch"]
        return state["best_epoch"], state["epoch"]

    rng = np.random.default_rng(0)
    for _ in range(300):
        history = np.round(np.cumsum(rng.normal(0.01, 0.02, rng.integers(1, 40))), 2).tolist()  # ties happen
        for patience in range(1, 8):
            assert early_stop(history, patience) == replay(history, patience), (history, patience)
    assert early_stop([0.5, 0.6, 0.6, 0.6, 0.7], 2) == (2, 4)  # an equal F1 is no gain


def test_the_suite_table_shows_where_the_time_of_the_last_whole_suite_went(tmp_path):
    """An entry of `make test-fast`'s part (``--tests tests/unit``) joins the table, but the
    file-by-file table stays the last whole suite's."""
    from tasks.report import benchmarks

    def entry(tests: str, file: str) -> dict:
        return {"command": f"-m pytest -q {tests}", "tests": tests, "commit": "abc1234", "exit_code": 0,
                "wall_s": 60.0, "pytest_s": 59.0, "counts": {"passed": 3}, "cpu_busy": 0.9,
                "cpu_busy_by_minute": [0.9], "machine": "vm x86_64, 2 cores", "date": "2026-12-06",
                "files": [{"file": file, "process": "gw0", "start": 0.0, "end": 59.0, "seconds": 59.0}]}

    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "test_suite.json").write_text(json.dumps({"whole": entry("tests", "tests/e2e/test_x.py"),
                                                         "fast": entry("tests/unit", "tests/unit/test_y.py")}))
    text = benchmarks.test_suite(tmp_path)
    assert "| fast |" in text and "-m pytest -q tests/unit" in text
    assert "Where the time of `whole` went" in text and "tests/e2e/test_x.py" in text
    assert "tests/unit/test_y.py" not in text


def test_the_suite_cpu_table_gives_each_kind_its_share_and_lumps_the_rest():
    from tasks.report.benchmarks import suite_cpu

    kinds = [{"kind": "stage train_sage", "processes": 3, "cpu_s": 60.0},
             {"kind": "DVC", "processes": 10, "cpu_s": 30.0},
             {"kind": "SSH", "processes": 2, "cpu_s": 6.0}, {"kind": "git", "processes": 1, "cpu_s": 4.0}]
    text = suite_cpu("run", {"cpu_by_process": kinds, "cpu_busy_s": 110.0}, shown=2)
    assert "100.0 s of the 110.0 s the cores were busy" in text
    assert "| stage train_sage | 3 | 60.0 s | 60.0% |" in text and "| DVC | 10 | 30.0 s | 30.0% |" in text
    assert "| 2 other kinds | 3 | 10.0 s | 10.0% |" in text and "SSH" not in text
    assert "other kinds" not in suite_cpu("run", {"cpu_by_process": kinds, "cpu_busy_s": 110.0}, shown=4)


def test_the_suite_floor_spares_mlflow_in_every_stage_process_and_the_sparable_kinds():
    from tasks.report.benchmarks import suite_floor

    kinds = [{"kind": "stage train_sage", "processes": 10, "cpu_s": 100.0},
             {"kind": "stage sample_graph", "processes": 30, "cpu_s": 90.0},
             {"kind": "temporary Prefect server (a flow command's own)", "processes": 5, "cpu_s": 25.0},
             {"kind": "evaluate_tags' fit processes (joblib)", "processes": 8, "cpu_s": 15.0},
             {"kind": "DVC", "processes": 80, "cpu_s": 40.0},
             {"kind": "stage predict", "processes": 4, "cpu_s": 20.0}]  # the serving command: no DVC stage
    text = suite_floor("s", {"cpu_by_process": kinds, "cpu_busy_s": 1600.0}, {"mlflow_in_a_stage_s": 2.5})
    # 40 stage processes x 2.5 s = 100; 25 + 15 = 40; 1600 - 140 = 1460 CPU-s = 12.2 min on two cores
    assert "40 stage processes" in text and "about 100 CPU-s" in text and "spent 40 CPU-s" in text
    assert "would be 1460: **12.2 min**" in text
