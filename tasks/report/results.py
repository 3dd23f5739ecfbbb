"""README's front-page results table, and every model results table (NER:
tasks/report/ner_tables.py; tags: tasks/report/tag_tables.py).
"""
from __future__ import annotations

from pathlib import Path

from tasks.report import ner_tables, tag_tables
from tasks.report.markdown import Source, block, load, pct, seed_stat, table
from tasks.report.ner_tables import NER_ABLATION, NER_METRICS, NER_SEEDS, ner_run_files, seed_count
from tasks.report.tag_tables import TAGS_METRICS, TAGS_SAGE, best_learned, tag_cell, tag_label

ORIGINAL_NER_F1 = 82.69  # the original system's claimed test F1 (shared/REFERENCE.md)


def summary(root: Path) -> str:
    """README's front-page table: the headline figure of each half."""
    seeds, ner, tag = load(root, NER_SEEDS), load(root, NER_METRICS), load(root, TAGS_METRICS)
    best = seeds["default"]
    runs = {str(r["seed"]): r for r in ner_run_files(root, best)}
    no_graph = {str(r["seed"]): r for r in ner_run_files(root, NER_ABLATION.get(best, ""))}
    learned = best_learned(tag)
    preset = load(root, TAGS_SAGE)["preset"]

    def cell(name: str, key: str) -> str:
        return f"{tag_label(name, preset)} {tag_cell(tag, name, key)}"

    rows = [
        ["NER, CoNLL-2003 test span F1", f"original claim {ORIGINAL_NER_F1}",
         f"**{seed_stat(runs, 'test_f1')}** ({seed_count(runs)}); committed run {pct(ner['test']['f1'])}",
         f"without the GCN {seed_stat(no_graph, 'test_f1')} ({seed_count(no_graph)})" if no_graph
         else "without the GCN: not run yet"],
        ["Tags, citeulike-t test macro F1 (thresholded)", cell("text", "macro_f1_thresholded"),
         f"**{cell(learned, 'macro_f1_thresholded')}**", cell("label_propagation", "macro_f1_thresholded")],
        ["Tags, citeulike-t test LRAP", cell("text", "lrap"), f"**{cell(learned, 'lrap')}**",
         cell("label_propagation", "lrap")],
    ]
    body = table(["result", "baseline", "ours (mean ± sample std over seeds)", "ablation / graph baseline"], rows)
    return block(body, Source((NER_SEEDS, NER_METRICS, TAGS_METRICS, TAGS_SAGE)))


TABLES = {"summary": summary, **ner_tables.TABLES, **tag_tables.TABLES}
