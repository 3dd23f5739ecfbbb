"""Parameter-free graph features: the text vectors propagated over the Jaccard graph.

    features = [X, ÂX, Â²X, ..., Â^h X]      Â = D⁻¹ A, the row-normalised similarity graph

No weights are learned (the SGC / SIGN family, Wu et al. 2019, Frasca et al. 2020): each
hop is a similarity-weighted mean of the neighbours' previous hop. It is the baseline a
learned GNN has to beat to earn its training. An article without neighbours has a zero
row in Â, so its propagated hops are zero.

It is inductive: a new article's hops come from its own Jaccard neighbours (its row of Â)
and the existing articles' hops, as :func:`propagate_new` does.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def row_normalised(adj: sp.spmatrix) -> sp.csr_matrix:
    """D⁻¹ A: each row sums to 1 (an empty row stays empty)."""
    adj = sp.csr_matrix(adj, dtype=np.float64)
    sums = np.asarray(adj.sum(axis=1)).ravel()
    return (sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ adj).tocsr()


def propagation_hops(adj: sp.spmatrix, X: np.ndarray, hops: int) -> list[np.ndarray]:
    """[X, ÂX, ..., Â^hops X] as float32 arrays."""
    if hops < 0:
        raise ValueError(f"hops must be >= 0, got {hops}")
    A = row_normalised(adj)
    out = [np.asarray(X, np.float64)]
    for _ in range(hops):
        out.append(A @ out[-1])
    return [h.astype(np.float32) for h in out]


def propagate(adj: sp.spmatrix, X: np.ndarray, hops: int) -> np.ndarray:
    """The propagation feature set: the hops side by side, (n, (hops + 1) * d)."""
    return np.hstack(propagation_hops(adj, X, hops))


def neighbour_mean(rows: np.ndarray, neighbours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A new article's row of ÂX: the ``weights``-weighted mean of its neighbours' rows of
    ``rows`` (X), as float32; zeros for an article without neighbours (an empty row of Â)."""
    w = np.asarray(weights, np.float64)
    if len(neighbours) == 0 or w.sum() <= 0:
        return np.zeros(rows.shape[1], np.float32)
    return (w @ rows[neighbours] / w.sum()).astype(np.float32)


def propagate_new(hop_features: list[np.ndarray], x_new: np.ndarray, neighbours: np.ndarray,
                  weights: np.ndarray) -> np.ndarray:
    """The propagation features of one new article: its text vector ``x_new`` (d,), and
    each hop k the weighted mean of its neighbours' hop k-1 (``hop_features`` from
    :func:`propagation_hops` on the existing graph). Existing articles are not changed."""
    parts = [np.asarray(x_new, np.float32).ravel()]
    parts += [neighbour_mean(previous, neighbours, weights) for previous in hop_features[:-1]]
    return np.concatenate(parts)
