"""Pipeline stages: one thin module per DVC stage (its main() hands the work to the
library packages through tasks.common.stage.run_stage), plus the predict CLI."""
