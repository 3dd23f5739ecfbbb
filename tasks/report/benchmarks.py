"""The benchmark tables of docs/benchmarks.md, from benchmarks/results/*.json."""
from __future__ import annotations

from pathlib import Path

from tasks.report.markdown import Source, block, load, seconds, table

RESULTS = "benchmarks/results"


def _source(rel: str, data: dict) -> Source:
    return Source((rel,), data.get("command"), data.get("machine"), data.get("date"))


def ner_layers(root: Path) -> str:
    rel = f"{RESULTS}/ner_speed.json"
    d = load(root, rel)
    rows = [[label, f"{d[key]['mean_padded_length']:.0f}", f"{d[key]['sentences_per_s']:.1f}",
             f"{d[key]['sentences_per_s'] / d['dense']['sentences_per_s']:.2f}x",
             f"{d[key]['training_rss_mb']:,.0f} MB"]
            for key, label in (("edge", "edge list, full per-relation weights"),
                               ("edge_bases", "edge list, 8 bases (the default preset's layer)"),
                               ("dense", "dense `(batch, relations, n, n)` reference"),
                               ("dense_pad128", "dense reference, padded to 128 as the original"))]
    body = table(["layer", "padded length", "sentences/s", "x dense", "training memory (RSS growth)"], rows)
    return block(body, _source(rel, d))


def ner_backends(root: Path) -> str:
    rel = f"{RESULTS}/ner_backends.json"
    d = load(root, rel)
    runs = [v for v in d.values() if isinstance(v, dict) and "epoch_s" in v]
    rows = [[r["backend"], r["padding"], r["batch_shapes"], seconds(r["first_epoch_s"]), seconds(r["epoch_s"]),
             f"{r['sentences_per_s']:.0f}"] for r in runs]
    body = table(["backend", "batch lengths", "training batch shapes", "first epoch (with compiling)", "later epoch",
                  "sentences/s"], rows)
    body += f"\n\nJAX over TensorFlow, later epochs: **{d['epoch_ratio_jax_over_tensorflow']:.2f}x**."
    return block(body, _source(rel, d))


def ner_stage_epoch(root: Path) -> str:
    rel = f"{RESULTS}/ner_stage_epoch.json"
    d = load(root, rel)
    rows = [[r["configuration"], r["backend"], r["train_batches"], seconds(r["epochs"][0]["epoch_s"]),
             *(seconds(r["epochs"][-1][k]) for k in ("epoch_s", "train_s", "dev_scoring_s", "checkpoint_s"))]
            for r in d["runs"]]
    body = table(["configuration", "backend", "training batches", "first epoch", "later epoch", "of it: training",
                  "dev scoring", "checkpoint"], rows)
    ratios = ", ".join(f"{b} {r:.2f}x" for b, r in d["epoch_ratio_after_over_before"].items())
    body += f"\n\nDocument-level epoch over sentence-level epoch: **{ratios}**."
    before, after = d["batches"]["before"], d["batches"]["after"]
    body += (f" One training epoch's batches: `before` pads {before['tokens']:,} tokens to "
             f"{before['padded_positions']:,} positions, `after` to {after['padded_positions']:,}; the character "
             f"CNN and the graph convolution work on the real tokens only, in lists padded to "
             f"{after['node_list_rows']:,} rows, and on their {after['edges']:,} edges ({after['document_edges']:,} of "
             f"them document edges), in edge lists padded to {after['edge_list_rows']:,} rows.")
    return block(body, _source(rel, d))


def ner_fit_calls(root: Path) -> str:
    rel = f"{RESULTS}/ner_fit_calls.json"
    d = load(root, rel)
    rows = [[rep["date"], fit_calls_label(way, r.get("feeding_workers", 1)),
             " / ".join(f"{e['span_wall_s']:.0f}" for e in r["epochs"]),
             seconds(r["later_pass_wall_s"]), seconds(r["later_span_wall_s"]), seconds(r["later_span_cpu_s"]),
             f"{r['later_span_cores_busy']:.2f}", f"{r['batches_not_trained']} of "
             f"{sum(e['batches'] for e in r['epochs']):,}"]
            for rep in d["repeats"] for way, r in rep["runs"].items()]
    body = table(["run", "fit calls", "span of each epoch, s", "later epochs: training pass", "span", "span CPU",
                  "cores busy", "batches not trained"], rows)
    # Runs before the third way kept one ratio (one_call over per_epoch, one worker each).
    ratios = "; ".join(f"{rep['date']}: " + ", ".join(
        f"{fit_calls_label(way, 1)} {ratio:.2f}x"
        for way, ratio in rep.get("span_ratios_over_per_epoch", {"one_call": rep.get(
            "span_ratio_one_call_over_per_epoch")}).items()) for rep in d["repeats"])
    body += (f"\n\nLater epochs' mean span of each way over the same run's last row (train_ner's way then): "
             f"**{ratios}**.")
    return block(body, _source(rel, d))


def fit_calls_label(way: str, workers: int) -> str:
    """A benchmarks/ner_fit_calls.py way, in words."""
    if way == "one_call":
        return "one fit over every epoch"
    return f"one fit per epoch, {workers} feeding worker{'s' if workers > 1 else ''}"


def ner_step_revisions(root: Path) -> str:
    rel = f"{RESULTS}/ner_step_revisions.json"
    comparisons = load(root, rel)["comparisons"]
    rows = [[c["label"] or "—", f"`{c['reference'][:12]}`", f"`{c['current'][:12]}`",
             " / ".join(f"{t:.1f}" for t in c["ms_per_step"]["reference"]),
             " / ".join(f"{t:.1f}" for t in c["ms_per_step"]["current"]),
             f"{c['median_ms_per_step']['reference']:.1f} → {c['median_ms_per_step']['current']:.1f}",
             f"**{c['speedup_current_over_reference']:.2f}x**",
             f"{c['last_loss']['reference']:.4f} / {c['last_loss']['current']:.4f}"] for c in comparisons]
    body = table(["change", "reference", "current", "ms per step, each round (reference)", "(current)",
                  "median ms per step", "speed-up", "loss at the last step (reference / current)"], rows)
    body += "\n\n" + "; ".join(f"`{c['current'][:12]}`: {c['rounds']} rounds of {c['steps_per_round']} steps each, "
                              f"in turns" for c in comparisons) + "."
    latest = comparisons[-1]
    return block(body, _source(rel, {**latest, "command": "; ".join(c["command"] for c in comparisons)}))


def ner_step_parts(root: Path) -> str:
    rel = f"{RESULTS}/ner_step_parts.json"
    d = load(root, rel)
    m, default = d["median_ms_per_step"], d["median_ms_per_step"]["default"]
    rows = [["the default", " / ".join(f"{t:.1f}" for t in d["ms_per_step"]["default"]), f"{default:.1f}", "", ""]]
    for part, cost in d["part_ms_per_step"].items():
        low, high = d["part_ms_per_step_range"][part]
        rows.append([f"without the {PART_NAMES.get(part, part)}",
                     " / ".join(f"{t:.1f}" for t in d["ms_per_step"][f"no {part}"]), f"{m[f'no {part}']:.1f}",
                     f"**{cost:.1f}** ({low:.1f} to {high:.1f})", f"{cost / default:.0%}"])
    body = table(["model", "ms per step, each round", "median", "the part's ms per step: median of the rounds' "
                  "differences (range)", "of the default's step"], rows)
    body += (f"\n\n{d['rounds']} rounds of {d['steps_per_round']} batches, each batch training every model in turn; "
             f"batch size {d['batch_size']}, gradient clipping {d['clip_norm']}; "
             f"host CPU: {d.get('cpu', 'not recorded')}.")
    return block(body, _source(rel, d))


PART_NAMES = {"crf": "CRF (a softmax instead)", "gcn": "graph convolution", "char_cnn": "character CNN",
              "bilstm": "BiLSTM"}


def projection(root: Path) -> str:
    rel = f"{RESULTS}/graph_speed.json"
    d = load(root, rel)
    rows = [[f"lists of <= {p['max_list_size']} articles" if p["max_list_size"] else "every list",
             f"{p['ordered_pairs']:,}", seconds(p["ours_s"]), seconds(p["reference_s"]), f"{p['speedup']:.1f}x",
             "yes" if p["identical_pairs_and_scores"] else "**no**"] for p in d["projection"]]
    body = table(["Jaccard projection, citeulike-t", "ordered pairs", "ours (sparse products)",
                  "reference (Python sets)", "speed-up", "same pairs and scores"], rows)
    return block(body, _source(rel, d))


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
    return block(body, _source(rel, d))


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
    return block(body, _source(rel, d))


def orchestration(root: Path) -> str:
    rows, sources = [], []
    for flow in ("tags", "pipeline"):
        rel = f"{RESULTS}/orchestration_overhead_{flow}.json"
        d = load(root, rel)
        sources.append(_source(rel, d))
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
    timed = [(label, r) for label, r in runs.items() if r.get("files")]
    if timed:
        body += "\n\n" + suite_files(*timed[-1])
    first = next(iter(runs.values()))
    dates = sorted({r["date"] for r in runs.values()})
    return block(body, Source((rel,), "python benchmarks/test_suite.py --label LABEL [--serial]", first["machine"],
                              dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"))


def ner_probes(root: Path) -> str:
    rel = f"{RESULTS}/ner_probes.json"
    d = load(root, rel)
    classes = sorted({c for r in d["taggers"].values() for c in r["recall_by_class"]})
    rows = [[name, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"**{r['f1']:.3f}**", f"{r['sentences_exact']:.0%}",
             " / ".join(f"{r['recall_by_type'][t]:.2f}" for t in ("PER", "ORG", "LOC")),
             *(f"{r['recall_by_class'][c]['recall']:.2f} ({r['recall_by_class'][c]['slots']})"
               if c in r["recall_by_class"] else "—" for c in classes)]
            for name, r in d["taggers"].items()]
    body = table(["tagger", "entity precision", "recall", "F1", "sentences exactly right", "recall PER / ORG / LOC",
                  *(f"recall: {c} (slots)" for c in classes)], rows)
    body += (f"\n\n{d['sentences']} sentences ({len(d['templates'])} templates x {len(d['fillers']['PER'])} fillings) "
             f"of the model `{d['model']}` (`dvc.lock`), commit `{d['commit']}`.")
    return block(body, _source(rel, d))


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
            + f"\n\nCPU busy, minute by minute: {minutes}.")


TABLES = {"bench-ner-layers": ner_layers, "bench-ner-backends": ner_backends, "bench-ner-stage-epoch": ner_stage_epoch,
          "bench-ner-fit-calls": ner_fit_calls, "ner-probes": ner_probes,
          "bench-ner-step-revisions": ner_step_revisions, "bench-ner-step-parts": ner_step_parts,
          "bench-projection": projection, "bench-minilm": minilm,
          "bench-graphsage": graphsage, "bench-orchestration": orchestration, "bench-mlflow": mlflow_stores,
          "bench-cluster": cluster, "bench-cluster-hosts": cluster_hosts, "bench-test-suite": test_suite}
