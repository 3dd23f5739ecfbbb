"""The NER library: CoNLL reader, token features, spaCy parsing, preparation, batches,
training, strict span F1 and inference. Imports tasks.common and models only."""
