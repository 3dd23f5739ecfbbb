"""The tag library: readers, article tables, graph algorithms and graph I/O, text
encoders, GraphSAGE training, classification and inference. Imports tasks.common and
models only."""
