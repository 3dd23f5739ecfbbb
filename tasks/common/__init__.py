"""Shared by every stage: the params schema, paths, file helpers, tracking, the stage
runner, figures, seeding and word vectors. Imports nothing else from the project."""
