"""A Jolly-Seber population with known parameters, for the simulation tests."""

import numpy as np

from crowdcensus.capture.histories import CaptureHistories


def simulate_js(n_first, arrivals, survival, capture, seed):
    """Histories of ``len(capture)`` periods.

    ``n_first`` present at period 1; ``arrivals[i]`` join between periods i+1
    and i+2 (present from period i+2); each present person survives to the next
    period with probability ``survival[i]``; capture probability ``capture[j]``.
    Returns the histories and the true abundance of every period.
    """
    rng = np.random.default_rng(seed)
    t = len(capture)
    entry = np.concatenate([np.zeros(n_first, int)]
                           + [np.full(b, i + 1, int) for i, b in enumerate(arrivals)])
    n = entry.size
    alive = np.zeros((n, t), bool)
    for j in range(t):
        if j == 0:
            alive[:, 0] = entry == 0
        else:
            stays = alive[:, j - 1] & (rng.random(n) < survival[j - 1])
            alive[:, j] = stays | (entry == j)
    caught = alive & (rng.random((n, t)) < np.asarray(capture))
    h = CaptureHistories.from_matrix(caught.astype(np.uint8),
                                     occasions=[f"w{j + 1}" for j in range(t)])
    return h, alive.sum(axis=0)
