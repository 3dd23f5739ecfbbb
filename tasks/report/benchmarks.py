"""The benchmark tables of docs/benchmarks.md, from benchmarks/results/*.json."""
from __future__ import annotations

from pathlib import Path

from tasks.common.paths import STAGES
from tasks.report.markdown import Source, block, load, seconds, table

RESULTS = "benchmarks/results"


def source(rel: str, data: dict) -> Source:
    return Source((rel,), data.get("command"), data.get("machine"), data.get("date"))


def projection(root: Path) -> str:
    rel = f"{RESULTS}/graph_speed.json"
    d = load(root, rel)
    rows = [[f"lists of <= {p['max_list_size']} articles" if p["max_list_size"] else "every list",
             f"{p['ordered_pairs']:,}", seconds(p["ours_s"]), seconds(p["reference_s"]), f"{p['speedup']:.1f}x",
             "yes" if p["identical_pairs_and_scores"] else "**no**"] for p in d["projection"]]
    body = table(["Jaccard projection, citeulike-t", "ordered pairs", "ours (sparse products)",
                  "reference (Python sets)", "speed-up", "same pairs and scores"], rows)
    return block(body, source(rel, d))


def graphsage(root: Path) -> str:
    rel = f"{RESULTS}/graph_speed.json"
    d = load(root, rel)
    rows = [[f"`{g['preset']}` preset", f"{g['train_nodes']:,}", g["epochs_run"], seconds(g["train_seconds"]),
             f"{g['train_target_nodes_per_s']:,.0f}", seconds(g["embed_seconds"])] for g in d["graphsage"]]
    ref = d["gds_reference"]
    rows.append([ref["note"], "its sample", "—", seconds(ref["train_s"]), "—",
                 f"{seconds(ref['write_s'])} (write)"])
    prop = d["propagation"]
    body = table(["GraphSAGE", "trained on (articles)", "epochs", "training", "target nodes/s",
                  "embedding every article"], rows)
    body += (f"\n\nThe parameter-free propagation over the same {prop['edges']:,} edges "
             f"({prop['hops']} hops, {prop['dim']}-d): {seconds(prop['seconds'])}.")
    return block(body, source(rel, d))


def sage_feeding(root: Path) -> str:
    rel = f"{RESULTS}/sage_feeding.json"
    d = load(root, rel)
    rows = [[name, m["steps_per_epoch"], seconds(m["first_epoch_s"]), seconds(m["later_epoch_s"]),
             ", ".join(h[:12] for h in m["weights_sha256"])] for name, m in d["modes"].items()]
    body = table([f"`{d['preset']}` preset, one seed", "steps per epoch", "first epoch (with tracing)",
                  "later epoch (mean)", "weights (sha256)"], rows)
    body += (f"\n\nLater epochs, Keras's own feeding over two threads: "
             f"**{d['later_epoch_ratio_plain_over_threads']:.2f}x**; "
             f"same weights: {'yes' if d['same_weights'] else '**no**'}; host CPU: {d.get('cpu', 'not recorded')}.")
    return block(body, source(rel, d))


def make_run(root: Path) -> str:
    rel = f"{RESULTS}/make_run.json"
    runs = load(root, rel)
    main_stages = ("train_ner", "train_sage", "evaluate_tags")
    rows = []
    for label, r in runs.items():
        spans = {s["stage"]: s["seconds"] for s in r["stages"]}
        other = sum(v for k, v in spans.items() if k not in main_stages)
        rows.append([label, f"`{r['commit']}`", r["date"], r.get("cpu", "not recorded"), minutes(r["make_data_s"]),
                     *(minutes(spans.get(k, 0.0)) for k in main_stages), minutes(other),
                     minutes(r.get("stages_overlap_s", 0.0)), minutes(r["outside_stages_s"]),
                     f"**{minutes(r['make_run_s'])}**"])
    body = table(["run", "commit", "date", "host CPU", "make data (install, pull)", *main_stages, "other stages",
                  "stage time overlapping another stage", "outside the stages (flow, Prefect)", "make run"], rows)
    last = list(runs.values())[-1]
    return block(body, Source((rel,), last["command"], last["machine"]))


def minutes(s: float) -> str:
    whole = round(s)
    return f"{whole // 60} min {whole % 60:02d} s"


def minilm(root: Path) -> str:
    rel = f"{RESULTS}/minilm_speed.json"
    d = load(root, rel)
    sizes = d["installed_mb"]
    total = lambda path: sum(v for v in sizes[path].values() if v)  # noqa: E731
    listed = lambda path: ", ".join(f"{k} {v:,.0f}" for k, v in sizes[path].items() if v)  # noqa: E731
    rows = [[f"Keras (keras-hub backbone, `tokenizers`; KERAS_BACKEND={d['keras_backend']})",
             f"{d['articles_per_s']['keras']:.1f}", seconds(d["start_s"]["keras"]),
             f"{total('keras_path'):,.0f} MB ({listed('keras_path')})"],
            ["sentence-transformers on torch (the reference)", f"{d['articles_per_s']['sentence_transformers']:.1f}",
             seconds(d["start_s"]["sentence_transformers"]), f"{total('torch_path'):,.0f} MB ({listed('torch_path')})"]]
    body = table(["all-MiniLM-L6-v2", "articles/s", "load + first batches", "installed for it"], rows)
    body += (f"\n\nKeras over sentence-transformers: **{d['keras_over_sentence_transformers']:.2f}x** articles/s "
             f"({d['articles']:,} citeulike-t articles, best of {len(d['seconds']['keras'])} passes each, in turns). "
             f"Cosine between the two on every article: min {d['cosine']['min']:.6f}, mean {d['cosine']['mean']:.6f}. "
             f"Both need {', '.join(k for k, v in sizes['shared'].items() if v)} "
             f"({sum(v for v in sizes['shared'].values() if v):,.0f} MB). "
             f"Load average (1 min) at the end of the run: {d['load_average_1min_at_end']}.")
    return block(body, source(rel, d))


def orchestration(root: Path) -> str:
    rows, sources = [], []
    for flow in ("tags", "pipeline"):
        rel = f"{RESULTS}/orchestration_overhead_{flow}.json"
        d = load(root, rel)
        sources.append(source(rel, d))
        for way, label in (("dvc", "`dvc repro`"), ("flow", f"`python -m flows.{flow}`")):
            s = d["seconds"][way]
            cells = [seconds(s[k]) if isinstance(s.get(k), (int, float)) else "—"
                     for k in ("uncached_cold", "uncached_warm", "cached_median", "cached_server_median")]
            rows.append([flow if way == "dvc" else "", label, *cells])
        if d.get("uncached_overhead") is not None:
            rows.append(["", "flow overhead, uncached warm", "", f"{d['uncached_overhead'] * 100:+.1f} %", "", ""])
    body = table(["flow", "way", "uncached, new workspace", "uncached, warm", "cached, temporary server",
                  "cached, `make ui` running"], rows)
    return block(body, Source(tuple(f for s in sources for f in s.files), sources[0].command, sources[0].machine))


def mlflow_stores(root: Path) -> str:
    rows, files, first = [], [], None
    for name in ("mlflow_backends", "mlflow_backends_16procs"):
        rel = f"{RESULTS}/{name}.json"
        d = load(root, rel)
        first, files = first or d, files + [rel]
        for store, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            r = d[store]
            rows.append([f"{d['procs']} x {d['writes_per_proc']}", label, f"{r['succeeded']:,} / {r['writes']:,}",
                         seconds(r["wall_s"]), f"{r['writes_per_s']:.1f}", r["database_is_locked"]])
        rows.append(["", "PostgreSQL / SQLite", "", "", f"**{d['postgresql_vs_sqlite_throughput']:.2f}x**", ""])
    body = table(["processes x writes", "store", "succeeded", "wall", "writes/s", "\"database is locked\""], rows)
    return block(body, Source(tuple(files), first["command"], first["machine"], first["date"]))


def cluster(root: Path) -> str:
    rows, files, first = [], [], None
    for name, label in (("cluster_parallel", "scaled mission"), ("cluster_parallel_full", "full mission")):
        rel = f"{RESULTS}/{name}.json"
        d = load(root, rel)
        first, files = first or d, files + [rel]
        for mode, how in (("parallel_2_workers", "2 workers, at once"), ("sequential_1_worker", "1 worker, in turn")):
            m = d[mode]
            rows.append([label, how, seconds(m["cluster_ready_s"]), f"**{seconds(m['wall_s'])}**",
                         seconds(m["runs"]["ner"]["total_run_time_s"]), seconds(m["runs"]["tags"]["total_run_time_s"])])
        rows.append([label, "sequential / parallel", "", f"**{d['sequential_over_parallel']:.2f}x**", "", ""])
    body = table(["mission", "mode", "cluster ready", "both flows done", "ner flow run", "tags flow run"], rows)
    return block(body, Source(tuple(files), first["command"], first["machine"], first["date"]))


def cluster_hosts(root: Path) -> str:
    rel = f"{RESULTS}/cluster_hosts.json"
    d = load(root, rel)
    local, other = d["local_2_workers"], d["other_hosts_2_workers"]
    rows = [["2 workers on the server host (127.0.0.1, no credentials, remote a folder)",
             seconds(local["cluster_ready_s"]), "", f"**{seconds(local['wall_s'])}**"],
            ["2 workers on 2 other hosts (credentials, remote over SSH)", seconds(other["cluster_ready_s"]),
             seconds(other["workers_joined_s"]), f"**{seconds(other['wall_s'])}**"],
            ["other hosts / local", "", "", f"**{d['other_hosts_over_local']:.2f}x**"]]
    body = table(["cluster", "ready", "workers joined", "both flows done"], rows)
    return block(body, Source((rel,), d["command"], d["machine"], d["date"]))


def test_suite(root: Path) -> str:
    rel = f"{RESULTS}/test_suite.json"
    d = load(root, rel)
    runs = {label: r for label, r in d.items() if isinstance(r, dict)}
    rows = [[label, f"`{r['commit']}`", f"`{r['command']}`", ", ".join(f"{v} {k}" for k, v in r["counts"].items()),
             f"**{r['pytest_s'] / 60:.1f} min**" if r["pytest_s"] else "—", f"{r['wall_s'] / 60:.1f} min",
             f"{r['cpu_busy']:.0%}" if "cpu_busy" in r else "—"]
            for label, r in runs.items()]
    body = table(["run", "commit", "command", "tests", "pytest time", "wall time", "CPU busy"], rows)
    body += "".join(f"\n\n{label}: {r['note']}" for label, r in runs.items() if r.get("note"))
    if "serial_over_parallel" in d:
        body += f"\n\nSerial over parallel, same commit: **{d['serial_over_parallel']:.2f}x**."
    timed = [(label, r) for label, r in runs.items() if r.get("files") and r.get("tests", "tests") == "tests"]
    if timed:
        body += "\n\n" + suite_files(*timed[-1])
    first = next(iter(runs.values()))
    dates = sorted({r["date"] for r in runs.values()})
    return block(body, Source((rel,), "python benchmarks/test_suite.py --label LABEL [--serial]", first["machine"],
                              dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"))


def suite_files(label: str, run: dict, shown: int = 12) -> str:
    """Where run ``label``'s time went: its longest test files, on which process and when,
    and how busy both cores were minute by minute."""
    rows = [[f"`{f['file']}`", f["process"], f"{f['start'] / 60:.1f}-{f['end'] / 60:.1f} min", seconds(f["seconds"])]
            for f in run["files"][:shown]]
    rest = run["files"][shown:]
    rows.append([f"{len(rest)} other files", "", "", seconds(sum(f["seconds"] for f in rest))])
    minutes = " ".join(f"{b:.0%}" for b in run["cpu_busy_by_minute"])
    return (f"Where the time of `{label}` went (its longest test files; the process that ran each, and when):\n\n"
            + table(["test file", "process", "from-to", "seconds"], rows)
            + f"\n\nCPU busy, minute by minute: {minutes}."
            + (suite_cpu(label, run) if run.get("cpu_by_process") else ""))


def suite_cpu(label: str, run: dict, shown: int = 16) -> str:
    """Which kinds of process spent run ``label``'s CPU-seconds (benchmarks/process_cpu.py)."""
    kinds = run["cpu_by_process"]
    sampled = sum(k["cpu_s"] for k in kinds)
    rows = [[k["kind"], k["processes"], seconds(k["cpu_s"]), f"{k['cpu_s'] / sampled:.1%}"] for k in kinds[:shown]]
    if rest := kinds[shown:]:
        spent = sum(k["cpu_s"] for k in rest)
        rows.append([f"{len(rest)} other kinds", sum(k["processes"] for k in rest), seconds(spent),
                     f"{spent / sampled:.1%}"])
    return (f"\n\nWhere the CPU-seconds of `{label}` went, by kind of process (sampled twice a second: "
            f"{seconds(sampled)} of the {seconds(run['cpu_busy_s'])} the cores were busy):\n\n"
            + table(["process", "processes", "CPU", "share"], rows))


def stage_startup(root: Path) -> str:
    rel = f"{RESULTS}/stage_startup.json"
    d = load(root, rel)
    rows = [[step["step"], f"{step['cpu_s_median']:.2f} s", f"+{step['adds_s']:.2f} s"] for step in d["steps"]]
    body = table(["a fresh process that runs", f"CPU (median of {d['repeats']})", "adds"], rows)
    body += f"\n\nHost CPU: {d['host_cpu']}; commit `{d['commit']}`."
    suites = {label: r for label, r in load(root, f"{RESULTS}/test_suite.json").items()
              if isinstance(r, dict) and r.get("cpu_by_process") and r.get("tests") == "tests"}
    if suites:
        body += "\n\n" + suite_floor(*list(suites.items())[-1], d)
    return block(body, Source((rel, f"{RESULTS}/test_suite.json"), d["command"], d["machine"], d["date"]))


# Kinds of process (benchmarks/process_cpu.py) that a change of the tests' set-up could spare.
SPARABLE = ("temporary Prefect server (a flow command's own)", "evaluate_tags' fit processes (joblib)")


def suite_floor(label: str, run: dict, startup: dict) -> str:
    """What the suite run ``label`` would still need were every DVC stage's process spared
    MLflow's start-up and the SPARABLE processes gone: the levers measured, not built."""
    kinds = run["cpu_by_process"]
    stages = sum(k["processes"] for k in kinds if k["kind"].removeprefix("stage ") in STAGES)  # DVC's stages
    mlflow = stages * startup["mlflow_in_a_stage_s"]
    sparable = sum(k["cpu_s"] for k in kinds if k["kind"] in SPARABLE)
    left = run["cpu_busy_s"] - mlflow - sparable
    return (f"In the suite run `{label}` (above), {stages} stage processes ran: MLflow's start-up in them, at the "
            f"median above, comes to about {mlflow:.0f} CPU-s, and its temporary Prefect servers and evaluate_tags' "
            f"fit processes spent {sparable:.0f} CPU-s. Were all of that spared, the {run['cpu_busy_s']:.0f} "
            f"CPU-s the cores were busy would be {left:.0f}: **{left / 120:.1f} min** on two cores kept fully busy "
            f"(the goal: 12 min).")


TABLES = {"bench-projection": projection, "bench-minilm": minilm, "bench-graphsage": graphsage,
          "bench-sage-feeding": sage_feeding, "bench-make-run": make_run, "bench-orchestration": orchestration,
          "bench-mlflow": mlflow_stores, "bench-cluster": cluster, "bench-cluster-hosts": cluster_hosts,
          "bench-test-suite": test_suite, "bench-stage-startup": stage_startup}
