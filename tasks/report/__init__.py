"""Results tables of README.md and docs/, rendered from the files that hold the figures
(metrics/*.json, benchmarks/results/*.json, the settings class): ``make report``."""
