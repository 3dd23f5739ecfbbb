"""The PNGs logged to MLflow come from the same dvc.yaml plot definitions DVC renders."""
from pathlib import Path

from tasks.common.figures import dvc_plots

DVC_YAML = """
stages:
  train:
    cmd: "true"
    plots:
      - plots/history.csv:
          x: epoch
          y: dev_f1
          title: dev F1 per epoch
      - plots/per_type.csv:
          template: bar_horizontal
          x: f1
          y: type
      - plots/missing.csv:
          x: a
          y: b
  other:
    cmd: "true"
    plots:
      - plots/other.csv:
          x: a
          y: b
"""


def test_dvc_plots_draws_each_declared_plot_of_the_stages(tmp_path: Path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "history.csv").write_text("epoch,dev_f1\n1,0.5\n2,0.7\n")
    (tmp_path / "plots" / "per_type.csv").write_text("type,f1\nPER,0.9\nLOC,0.8\n")
    (tmp_path / "plots" / "other.csv").write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    out.mkdir()
    written = dvc_plots(tmp_path / "dvc.yaml", ["train"], out)
    assert [p.name for p in written] == ["history.png", "per_type.png"]  # missing CSV skipped, other stage not asked
    for png in written:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
