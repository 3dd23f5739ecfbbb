"""Label-aware methods over the Jaccard graph.

Co-reading graphs are homophilous in tags, so the strongest simple methods spread the
*training labels* over the graph (Zhou et al. 2004; Huang et al. 2020):

  label propagation   F ← (1−α)·Y₀ + α·ÂF          Y₀: train rows' tags, every other row 0
  Correct & Smooth    Z: any method's tag scores on every article
     correct          E ← (1−α₁)·E₀ + α₁·ÂE        E₀ = Y − Z on train rows, 0 elsewhere
                      Z' = Z + σ·E/‖E‖₁ per row    σ: the mean train-row error ‖E₀‖₁ (autoscale)
     smooth           G ← (1−α₂)·G₀ + α₂·ÂG        G₀ = Z' with train rows set to their tags

Â = D⁻¹A, the row-normalised similarity graph; a fixed number of steps (a truncated
series, what the C&S reference code does). Only train rows' tags enter Y₀, E₀ and G₀:
validation chooses α, test is scored once. A new article is scored from its neighbours
by one more step of the same recurrence (:func:`spread_to_new`). Every method here gives
per-tag scores; tasks/tags/scoring.py turns them into tag sets and scores them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tasks.tags.propagation import neighbour_mean

ALPHAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8)  # searched on validation; 0 = no spreading
STEPS = 30


def spread(A: sp.csr_matrix, start: np.ndarray, alpha: float, steps: int = STEPS) -> np.ndarray:
    """``steps`` iterations of F ← (1−α)·start + α·A F from F = start."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    start = np.asarray(start, np.float32)
    if alpha == 0.0:
        return start
    A = A.astype(np.float32, copy=False)
    F = start
    for _ in range(steps):
        F = (1.0 - alpha) * start + alpha * (A @ F)
    return F


def spread_many(A: sp.csr_matrix, start: np.ndarray, alphas, steps: int = STEPS) -> dict[float, np.ndarray]:
    """:func:`spread` for every α of ``alphas`` from one series of ``steps`` products.
    Unrolled, ``steps`` iterations from F = start give
    F = (1−α)·Σ_{k<steps} α^k·A^k·start + α^steps·A^steps·start,
    so the products A^k·start are shared by every α (a validation search over 7 values
    costs 30 sparse products instead of 180). Equal to :func:`spread` up to float32
    rounding (the sum runs in another order)."""
    for alpha in alphas:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    start = np.asarray(start, np.float32)
    A = A.astype(np.float32, copy=False)
    spreading = [a for a in dict.fromkeys(alphas) if a != 0.0 and steps > 0]
    out = {a: np.float32(1.0 - a) * start for a in spreading}
    power = start
    for k in range(1, steps + 1):
        power = A @ power
        for a in spreading:
            weight = a ** k if k == steps else (1.0 - a) * a ** k
            out[a] += np.float32(weight) * power
    return {a: out.get(a, start) for a in alphas}


def label_matrix(n: int, train_rows: np.ndarray, Y_train: np.ndarray) -> np.ndarray:
    """(n, tags): the train articles' tags on their rows, zero on every other row."""
    Y0 = np.zeros((n, Y_train.shape[1]), np.float32)
    Y0[train_rows] = Y_train
    return Y0


def residuals(Z: np.ndarray, train_rows: np.ndarray, Y_train: np.ndarray) -> tuple[np.ndarray, float]:
    """(E₀, σ): the train rows' errors Y − Z (zero elsewhere), and their mean L1 norm."""
    E0 = np.zeros_like(Z, dtype=np.float32)
    E0[train_rows] = Y_train - Z[train_rows]
    sigma = float(np.abs(E0[train_rows]).sum(axis=1).mean()) if len(train_rows) else 0.0
    return E0, sigma


def correction(A: sp.csr_matrix, Z: np.ndarray, train_rows: np.ndarray, Y_train: np.ndarray,
               alpha: float) -> tuple[np.ndarray, float]:
    """(E, σ): the train residuals spread over the graph, and the mean train-row error."""
    E0, sigma = residuals(Z, train_rows, Y_train)
    return spread(A, E0, alpha), sigma


def corrected(Z: np.ndarray, E: np.ndarray, sigma: float) -> np.ndarray:
    """Z + σ·E/‖E‖₁ row by row (a row with no spread error stays as it is)."""
    norm = np.abs(E).sum(axis=-1, keepdims=True)
    return Z + sigma * np.divide(E, norm, out=np.zeros_like(E), where=norm > 0)


def correct(A: sp.csr_matrix, Z: np.ndarray, train_rows: np.ndarray, Y_train: np.ndarray,
            alpha: float) -> np.ndarray:
    """The correct half: train residuals spread over the graph, rescaled to the train error."""
    return corrected(Z, *correction(A, Z, train_rows, Y_train, alpha))


def with_train_tags(Z: np.ndarray, train_rows: np.ndarray, Y_train: np.ndarray) -> np.ndarray:
    """G₀: the scores with the train rows set to their tags."""
    G0 = np.array(Z, np.float32)
    G0[train_rows] = Y_train
    return G0


def smooth(A: sp.csr_matrix, Z: np.ndarray, train_rows: np.ndarray, Y_train: np.ndarray,
           alpha: float) -> np.ndarray:
    """The smooth half: scores with train rows set to their tags, spread over the graph."""
    return spread(A, with_train_tags(Z, train_rows, Y_train), alpha)


def reused_labels(A: sp.csr_matrix, train_rows: np.ndarray, Y_train: np.ndarray) -> np.ndarray:
    """Label reuse (the "label trick" of Wang et al. 2021, without its random split): the
    train tags spread one and two hops as input features, [ÂY₀, Â²Y₀], with every
    article's own tags taken out of its own row,

        hop k = Â^k Y₀ − diag(Â^k) ∘ Y₀         diag(Â²)ᵢ = Σⱼ Âᵢⱼ Âⱼᵢ

    so a train article never sees its own tags among its features (a classifier fitted on
    train rows would otherwise learn to copy them, and find nothing to copy on test rows).
    Only train rows' tags enter Y₀; validation and test rows see their neighbours' train
    tags as train rows do. (n, 2 · tags), float32."""
    A = sp.csr_matrix(A, dtype=np.float64)
    Y0 = label_matrix(A.shape[0], train_rows, Y_train).astype(np.float64)
    one = A @ Y0
    two = A @ one
    self_one = A.diagonal()[:, None]
    self_two = np.asarray(A.multiply(A.T).sum(axis=1))
    return np.hstack([one - self_one * Y0, two - self_two * Y0]).astype(np.float32)


@dataclass(frozen=True)
class Chosen:
    scores: np.ndarray          # (n, tags) for every article
    alphas: dict[str, float]    # what validation chose
    errors: np.ndarray | None = None  # C&S: the spread train residuals E (a new article's correction)
    sigma: float = 0.0                # C&S: the autoscale σ


def label_propagation(A: sp.csr_matrix, train_rows: np.ndarray, Y_train: np.ndarray, validation_score,
                      alphas=ALPHAS) -> Chosen:
    runs = spread_many(A, label_matrix(A.shape[0], train_rows, Y_train), alphas)
    alpha = max(alphas, key=lambda a: validation_score(runs[a]))
    return Chosen(runs[alpha], {"alpha": alpha})


def correct_and_smooth(A: sp.csr_matrix, Z: np.ndarray, train_rows: np.ndarray, Y_train: np.ndarray,
                       validation_score, alphas=ALPHAS) -> Chosen:
    """C&S on base scores Z; α₁ chosen on validation first, then α₂ given α₁ (a line
    search each, not the full grid; each search is one series of products: spread_many).
    The same as :func:`correct` then :func:`smooth` with the chosen α's."""
    E0, sigma = residuals(Z, train_rows, Y_train)
    errors = spread_many(A, E0, alphas)
    a1 = max(alphas, key=lambda a: validation_score(corrected(Z, errors[a], sigma)))
    smoothed = spread_many(A, with_train_tags(corrected(Z, errors[a1], sigma), train_rows, Y_train), alphas)
    a2 = max(alphas, key=lambda a: validation_score(smoothed[a]))
    return Chosen(smoothed[a2], {"correct_alpha": a1, "smooth_alpha": a2}, errors[a1], sigma)


def correct_and_smooth_new(z: np.ndarray, chosen: Chosen, neighbours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """C&S scores of a new article (no tags of its own) from its base scores ``z`` and its
    neighbours: one more step of each recurrence, existing articles unchanged."""
    a1, a2 = chosen.alphas["correct_alpha"], chosen.alphas["smooth_alpha"]
    error = spread_to_new(chosen.errors, np.zeros_like(chosen.errors[0]), neighbours, weights, a1)
    return spread_to_new(chosen.scores, corrected(np.asarray(z, np.float32), error, chosen.sigma), neighbours,
                         weights, a2)


def spread_to_new(scores: np.ndarray, start: np.ndarray, neighbours: np.ndarray, weights: np.ndarray,
                  alpha: float) -> np.ndarray:
    """A new article's scores: (1−α)·its own start row + α·the weighted mean of its
    neighbours' final scores (one step of the recurrence; existing articles unchanged)."""
    own = np.asarray(start, np.float32)
    return ((1.0 - alpha) * own + alpha * neighbour_mean(scores, neighbours, weights)).astype(np.float32)
