"""Graph algorithms on CSR arrays (numpy/scipy): Jaccard node-similarity projection,
weakly connected components, random walk with restarts sampling, neighbour sampling.

Semantics follow Neo4j GDS where the project reproduces a GDS workflow; each function
says where it differs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class Graph:
    """An undirected weighted graph as a symmetric CSR matrix over ``n`` nodes."""

    adj: sp.csr_matrix

    @property
    def n(self) -> int:
        return self.adj.shape[0]

    @property
    def degrees(self) -> np.ndarray:
        return np.diff(self.adj.indptr)

    def neighbours(self, v: int) -> np.ndarray:
        return self.adj.indices[self.adj.indptr[v]:self.adj.indptr[v + 1]]


def incidence(articles: np.ndarray, lists: np.ndarray, n_articles: int, n_lists: int) -> sp.csr_matrix:
    """Binary article x list matrix (duplicate memberships count once)."""
    B = sp.csr_matrix((np.ones(len(articles), np.float32), (articles, lists)), shape=(n_articles, n_lists))
    B.sum_duplicates()
    B.data[:] = 1.0
    return B


def _top_k_rows(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep each row's k largest scores (ties: lower column id first)."""
    counts = np.diff(S.indptr)
    if counts.max(initial=0) <= k:
        return S
    keep = np.ones(S.nnz, bool)
    for row in np.flatnonzero(counts > k):
        lo, hi = S.indptr[row], S.indptr[row + 1]
        order = np.lexsort((S.indices[lo:hi], -S.data[lo:hi]))
        keep[lo + order[k:]] = False
    rows = np.repeat(np.arange(S.shape[0]), counts)[keep]
    return sp.csr_matrix((S.data[keep], (rows, S.indices[keep])), shape=S.shape)


def jaccard_projection(B: sp.csr_matrix, similarity_cutoff: float = 1e-42, degree_cutoff: int = 1,
                       top_k: int = 2000, max_list_size: int = 0) -> sp.csr_matrix:
    """GDS Node Similarity (JACCARD) of articles over their lists, as sparse products.

    Returns the *directed* result (row i holds i's top-k neighbours, as GDS writes a
    relationship per source node). Articles with fewer than ``degree_cutoff`` lists are
    not compared; lists with more than ``max_list_size`` articles are ignored (0: none);
    scores below ``similarity_cutoff`` are dropped; a node is never its own neighbour.
    """
    B = B.tocsc(copy=True)
    if max_list_size:
        sizes = np.diff(B.indptr)
        B = B[:, np.flatnonzero(sizes <= max_list_size)]
    B = B.tocsr()
    deg = np.diff(B.indptr).astype(np.float32)
    B = sp.diags((deg >= degree_cutoff).astype(np.float32)) @ B  # uncompared articles lose their lists
    B.eliminate_zeros()
    deg = np.diff(B.indptr).astype(np.float32)
    C = (B @ B.T).tocsr()  # shared lists
    C.setdiag(0)
    C.eliminate_zeros()
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    union = deg[rows] + deg[C.indices] - C.data
    C.data = (C.data / union).astype(np.float32)
    if similarity_cutoff > 0:
        C.data[C.data < similarity_cutoff] = 0
        C.eliminate_zeros()
    return _top_k_rows(C, top_k)


def undirected(S: sp.csr_matrix) -> Graph:
    """Union of both directions (a pair kept by either endpoint's top-k)."""
    return Graph(S.maximum(S.T).tocsr())


def components(g: Graph) -> tuple[int, np.ndarray]:
    from scipy.sparse.csgraph import connected_components

    return connected_components(g.adj, directed=False)


def rwr_sample(g: Graph, ratio: float, restart_probability: float, seed: int,
               start_node: int | None = None, stall_steps: int | None = None) -> tuple[np.ndarray, int]:
    """Random walk with restarts (GDS ``graph.sample.rwr``): returns (visited nodes, number
    of start nodes used).

    The walk starts at ``start_node`` (default: a random node of the largest component),
    moves to a uniform random neighbour, and with ``restart_probability`` jumps back to one
    of its start nodes. When ``stall_steps`` steps pass without a new node (default:
    10 x the target size), a new random unvisited start node is added, as GDS does when
    walks stop finding new nodes.
    """
    rng = np.random.default_rng(seed)
    target = max(1, int(np.ceil(ratio * g.n)))
    if start_node is None:
        _, labels = components(g)
        largest = np.bincount(labels).argmax()
        start_node = int(rng.choice(np.flatnonzero(labels == largest)))
    if not 0 <= start_node < g.n:
        raise ValueError(f"start node {start_node} is not a node of the graph (0..{g.n - 1})")
    stall_steps = stall_steps or 10 * target
    indptr, indices = g.adj.indptr, g.adj.indices
    visited = np.zeros(g.n, bool)
    visited[start_node] = True
    starts, count, current, since_new = [start_node], 1, start_node, 0
    while count < target:
        u = rng.random(2)
        lo, hi = indptr[current], indptr[current + 1]
        if u[0] < restart_probability or hi == lo:
            current = starts[int(u[1] * len(starts))]
        else:
            current = int(indices[lo + int(u[1] * (hi - lo))])
        if not visited[current]:
            visited[current] = True
            count += 1
            since_new = 0
        else:
            since_new += 1
            if since_new >= stall_steps:
                fresh = int(rng.choice(np.flatnonzero(~visited)))
                visited[fresh] = True
                count += 1
                starts.append(fresh)
                current, since_new = fresh, 0
    return np.flatnonzero(visited), len(starts)


def induced_subgraph(g: Graph, nodes: np.ndarray) -> Graph:
    nodes = np.sort(nodes)
    return Graph(g.adj[nodes][:, nodes].tocsr())


def sample_neighbours(g: Graph, nodes: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` uniform neighbours per node, with replacement, vectorised over CSR; a
    node without neighbours samples itself. Shape ``nodes.shape + (size,)``."""
    flat = nodes.reshape(-1)
    lo = g.adj.indptr[flat]
    deg = g.adj.indptr[flat + 1] - lo
    pick = lo[:, None] + (rng.random((len(flat), size)) * deg[:, None]).astype(np.int64)
    out = np.where(deg[:, None] > 0, g.adj.indices[np.minimum(pick, len(g.adj.indices) - 1)], flat[:, None])
    return out.reshape(nodes.shape + (size,))


def random_walk_ends(g: Graph, nodes: np.ndarray, max_length: int, rng: np.random.Generator) -> np.ndarray:
    """End points of uniform random walks of length 1..max_length (positive samples)."""
    lengths = rng.integers(1, max_length + 1, len(nodes))
    current = nodes.copy()
    for step in range(max_length):
        active = lengths > step
        if not active.any():
            break
        current[active] = sample_neighbours(g, current[active], 1, rng)[:, 0]
    return current


def degree_negatives(g: Graph, count: int, rng: np.random.Generator, power: float = 0.75) -> np.ndarray:
    p = g.degrees.astype(np.float64) ** power
    p = p / p.sum() if p.sum() > 0 else np.full(g.n, 1.0 / g.n)
    return rng.choice(g.n, size=count, p=p)


def neighbourhood_tree(g: Graph, nodes: np.ndarray, sample_sizes: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Node ids per level of GraphSAGE's sampled tree: [nodes, (B,S0), (B,S0,S1), ...]."""
    levels = [np.asarray(nodes)]
    for size in sample_sizes:
        levels.append(sample_neighbours(g, levels[-1], size, rng))
    return levels
