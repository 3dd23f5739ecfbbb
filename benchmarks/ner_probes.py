"""How the served NER tagger types names it may never have seen: template sentences
with person, organisation and place names, tagged by this workspace's trained model
(artifacts/ner) as `python -m tasks.predict ner` tags a text, twice: with the training
vocabulary alone (an unseen word is `<unk>`) and as served (an unseen word with a
pretrained vector gets it; tasks/ner/inference.py: add_pretrained_words).

    python benchmarks/ner_probes.py      # after make run (or dvc repro train_ner)

The templates and fillers are fixed here, chosen before any result was seen; every
filling is tagged and each slot's entity is scored exactly (type and words). A slot
counts in one vocabulary class by its words: all in the training data's vocabulary,
one or more outside it but with a pretrained vector, or one or more with neither.
Writes benchmarks/results/ner_probes.json (`make report` renders it in docs/results.md).
"""
from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.common.files import write_json  # noqa: E402
from tasks.report.markdown import short_commit, this_machine  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "ner_probes.json"
FILLERS = {
    "PER": ["Angela Merkel", "Wei Zhang", "Grace Kim", "Carlos Silva", "Maria Lopez", "John Smith", "Priya Sharma",
            "Olusegun Adeyemi", "Kenji Watanabe", "Fatima Haddad", "Lars Eriksson", "Ana Petrova"],
    "ORG": ["Siemens", "Google", "Nokia", "Toyota", "Reuters", "Microsoft", "Unilever", "Greenpeace", "Oxfam",
            "Samsung", "Airbus", "Interpol"],
    "LOC": ["Berlin", "Paris", "Tokyo", "Madrid", "Cairo", "Lima", "Oslo", "Delhi", "Nairobi", "Boston", "Lagos",
            "Helsinki"],
}
TEMPLATES = [
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened a new office in {LOC} last week .",
    "{PER} , a spokesman for {ORG} , said the talks would resume .",
    "Police in {LOC} arrested {PER} on Tuesday .",
    "{PER} met officials of {ORG} in {LOC} on Monday .",
    "Shares in {ORG} rose 3 percent in {LOC} trading .",
]


def fillings() -> list[dict[str, str]]:
    """One filling per filler: the i-th person goes with the (i+1)-th organisation and the
    (i+2)-th place, so every filler appears once in each template."""
    n = len(FILLERS["PER"])
    return [{etype: FILLERS[etype][(i + shift) % n] for shift, etype in enumerate(("PER", "ORG", "LOC"))}
            for i in range(n)]


def probes() -> list[tuple[str, list[tuple[str, str]]]]:
    """(sentence, gold entities in text order) for every template and filling."""
    out = []
    for template, values in itertools.product(TEMPLATES, fillings()):
        slots = sorted((template.index("{" + etype + "}"), etype) for etype in values if "{" + etype + "}" in template)
        out.append((template.format(**values), [(etype, values[etype]) for _, etype in slots]))
    return out


def vocabulary_class(words: str, trained: set[str], served: set[str]) -> str:
    """Where the words of one filler stand: the training data's vocabulary, or the served
    one (which adds every pretrained word), or neither."""
    low = [w.lower() for w in words.split()]
    if all(w in trained for w in low):
        return "in the training vocabulary"
    if all(w in served for w in low):
        return "unseen, with a pretrained vector"
    return "unseen, no pretrained vector"


def score(tagger, cases, classes: dict[str, str]) -> dict:
    """Slot recall by type and by vocabulary class, entity precision and F1 over all
    predicted entities, and the share of sentences tagged exactly right."""
    from tasks.ner.inference import tag_entities

    found = {"type": {}, "class": {}}
    predicted = correct = exact = 0
    for sentence, gold in cases:
        pred = tag_entities(tagger, sentence)
        predicted += len(pred)
        exact += pred == gold
        for entity in gold:
            hit = entity in pred
            correct += hit
            for key, group in (("type", entity[0]), ("class", classes[entity[1]])):
                found[key].setdefault(group, []).append(hit)
    gold_n = sum(len(g) for _, g in cases)
    precision, recall = correct / max(predicted, 1), correct / gold_n
    return {"entities": gold_n, "predicted": predicted, "correct": correct, "precision": precision,
            "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-12),
            "sentences_exact": exact / len(cases),
            "recall_by_type": {k: sum(v) / len(v) for k, v in sorted(found["type"].items())},
            "recall_by_class": {k: {"recall": sum(v) / len(v), "slots": len(v)} for k, v in sorted(found["class"].items())}}


def main() -> None:
    from tasks.common import paths
    from tasks.ner.inference import load_tagger

    artifacts = ROOT / paths.NER_ARTIFACTS
    plain = load_tagger(artifacts, pretrained_words=False)
    served = load_tagger(artifacts)
    trained, known = set(plain.vocab["words"]), set(served.vocab["words"])
    classes = {f: vocabulary_class(f, trained, known) for fs in FILLERS.values() for f in fs}
    cases = probes()
    result = {"command": "python benchmarks/ner_probes.py", "machine": this_machine(), "date": time.strftime("%Y-%m-%d"),
              "commit": short_commit(ROOT), "model": _model_hash(), "sentences": len(cases),
              "templates": TEMPLATES, "fillers": FILLERS, "filler_classes": classes,
              "taggers": {"training vocabulary only": score(plain, cases, classes),
                          "served (pretrained vectors for unseen words)": score(served, cases, classes)}}
    write_json(OUT, result)
    for name, r in result["taggers"].items():
        print(f"{name}: F1 {r['f1']:.3f}  exact sentences {r['sentences_exact']:.2f}  "
              f"by type {r['recall_by_type']}  by class {r['recall_by_class']}")


def _model_hash() -> str | None:
    """The md5 dvc.lock records for artifacts/ner (which trained model was probed)."""
    import yaml

    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    outs = lock["stages"]["train_ner"]["outs"]
    return next((o.get("md5") for o in outs if o["path"] == "artifacts/ner"), None)


if __name__ == "__main__":
    main()
