"""The NER benchmark tables of docs/benchmarks.md (and the probe table of docs/results.md),
from benchmarks/results/ner_*.json."""
from __future__ import annotations

from pathlib import Path

from tasks.report.benchmarks import RESULTS, source
from tasks.report.markdown import block, each_round, load, seconds, table


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
    return block(body, source(rel, d))


def ner_backends(root: Path) -> str:
    rel = f"{RESULTS}/ner_backends.json"
    d = load(root, rel)
    runs = [v for v in d.values() if isinstance(v, dict) and "epoch_s" in v]
    rows = [[r["backend"], r["padding"], r["batch_shapes"], seconds(r["first_epoch_s"]), seconds(r["epoch_s"]),
             f"{r['sentences_per_s']:.0f}"] for r in runs]
    body = table(["backend", "batch lengths", "training batch shapes", "first epoch (with compiling)", "later epoch",
                  "sentences/s"], rows)
    body += f"\n\nJAX over TensorFlow, later epochs: **{d['epoch_ratio_jax_over_tensorflow']:.2f}x**."
    return block(body, source(rel, d))


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
    return block(body, source(rel, d))


def ner_fit_calls(root: Path) -> str:
    rel = f"{RESULTS}/ner_fit_calls.json"
    d = load(root, rel)
    rows = [[rep["date"], fit_calls_label(way, r.get("feeding_workers", 1)),
             each_round((e["span_wall_s"] for e in r["epochs"]), 0),
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
    return block(body, source(rel, d))


def fit_calls_label(way: str, workers: int) -> str:
    """A benchmarks/ner_fit_calls.py way, in words."""
    if way == "one_call":
        return "one fit over every epoch"
    return f"one fit per epoch, {workers} feeding worker{'s' if workers > 1 else ''}"


def ner_step_revisions(root: Path) -> str:
    rel = f"{RESULTS}/ner_step_revisions.json"
    comparisons = load(root, rel)["comparisons"]
    rows = [[c["label"] or "—", f"`{c['reference'][:12]}`", f"`{c['current'][:12]}`",
             each_round(c["ms_per_step"]["reference"]),
             each_round(c["ms_per_step"]["current"]),
             f"{c['median_ms_per_step']['reference']:.1f} → {c['median_ms_per_step']['current']:.1f}",
             f"**{c['speedup_current_over_reference']:.2f}x**",
             f"{c['last_loss']['reference']:.4f} / {c['last_loss']['current']:.4f}"] for c in comparisons]
    body = table(["change", "reference", "current", "ms per step, each round (reference)", "(current)",
                  "median ms per step", "speed-up", "loss at the last step (reference / current)"], rows)
    body += "\n\n" + "; ".join(f"`{c['current'][:12]}`: {c['rounds']} rounds of {c['steps_per_round']} steps each, "
                              f"in turns" for c in comparisons) + "."
    latest = comparisons[-1]
    return block(body, source(rel, {**latest, "command": "; ".join(c["command"] for c in comparisons)}))


def ner_step_parts(root: Path) -> str:
    rel = f"{RESULTS}/ner_step_parts.json"
    d = load(root, rel)
    m, default = d["median_ms_per_step"], d["median_ms_per_step"]["default"]
    rows = [["the default", each_round(d["ms_per_step"]["default"]), f"{default:.1f}", "", ""]]
    for part, cost in d["part_ms_per_step"].items():
        low, high = d["part_ms_per_step_range"][part]
        rows.append([f"without the {PART_NAMES.get(part, part)}",
                     each_round(d["ms_per_step"][f"no {part}"]), f"{m[f'no {part}']:.1f}",
                     f"**{cost:.1f}** ({low:.1f} to {high:.1f})", f"{cost / default:.0%}"])
    body = table(["model", "ms per step, each round", "median", "the part's ms per step: median of the rounds' "
                  "differences (range)", "of the default's step"], rows)
    body += (f"\n\n{d['rounds']} rounds of {d['steps_per_round']} batches, each batch training every model in turn; "
             f"batch size {d['batch_size']}, gradient clipping {d['clip_norm']}; "
             f"host CPU: {d.get('cpu', 'not recorded')}.")
    return block(body, source(rel, d))


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
    return block(body, source(rel, d))


def ner_threads(root: Path) -> str:
    rel = f"{RESULTS}/ner_threads.json"
    d = load(root, rel)
    rows = [[f"`{name}`" + (" (reference)" if name == d["reference"] else ""),
             " / ".join(str(t) if t else "TensorFlow's" for t in s["threads"]),
             each_round(s["ms_per_step"]), f"{s['median_ms_per_step']:.1f}",
             each_round(s["speedup"], 2), f"**{s['median_speedup']:.2f}x**",
             f"{s['rounds_faster']} of {d['rounds']}", f"{s['cores_busy']:.2f}",
             f"{s['median_dev_scoring_s']:.2f} s ({s['median_dev_speedup']:.2f}x)"]
            for name, s in d["settings"].items()]
    body = table(["setting", "intra-op / inter-op threads", "ms per training step, each round", "median",
                  "speed-up over the reference, each round", "median", "rounds faster", "cores busy",
                  "dev scoring pass (speed-up)"], rows)
    body += (f"\n\n{d['rounds']} rounds, each setting in its own process per round (alternating order), "
             f"{d['warmup']} untimed steps then {d['steps_per_round']} timed ones; host CPU: {d['cpu']}.")
    return block(body, source(rel, d))


PART_NAMES = {"crf": "CRF (a softmax instead)", "gcn": "graph convolution", "char_cnn": "character CNN",
              "bilstm": "BiLSTM"}


TABLES = {"bench-ner-layers": ner_layers, "bench-ner-backends": ner_backends, "bench-ner-stage-epoch": ner_stage_epoch,
          "bench-ner-fit-calls": ner_fit_calls, "ner-probes": ner_probes,
          "bench-ner-step-revisions": ner_step_revisions, "bench-ner-step-parts": ner_step_parts,
          "bench-ner-threads": ner_threads}
