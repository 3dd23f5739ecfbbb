"""The MLflow model registry: models-from-code wrappers around tasks.ner.inference and
tasks.tags.inference."""
