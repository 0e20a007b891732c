"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), closed form.

``P = (XᵀX + reg·I)⁻¹``, ``B = I - P · diag(1 / diag(P))``, then ``diag(B) = 0``: a dense
``(n_items, n_items)`` item-item weight matrix; a history ``h`` scores items by ``h · B``.
The dense matrix grows with the square of the catalogue, so above ``max_items`` the model refuses
to fit (:class:`~shopsage.errors.CapacityError`) instead of exhausting memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.errors import CapacityError, ModelError
from shopsage.recommend._item_item import ItemItemRecommender
from shopsage.recommend.base import ModelConfig, TrainData

__all__ = ["EASEConfig", "EASE"]


class EASEConfig(ModelConfig):
    reg: float = Field(250.0, gt=0.0)
    """L2 regularisation λ added to the diagonal of the Gram matrix (Steck: 100 to 1000)."""
    max_items: int = Field(20_000, ge=1)
    """Largest catalogue EASE accepts: the model is a dense float32 matrix of max_items² entries."""


def _gib(n_items: int, bytes_per: int) -> float:
    return n_items * n_items * bytes_per / 2**30


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix by Cholesky (LAPACK potrf + potri), in place."""
    from scipy.linalg import lapack

    c, info = lapack.spotrf(a, lower=False, overwrite_a=True)
    if info != 0:
        raise ModelError(f"EASE's Gram matrix is not positive definite (LAPACK info {info}): raise reg")
    p, info = lapack.spotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise ModelError(f"EASE's Gram matrix could not be inverted (LAPACK info {info}): raise reg")
    for r0 in range(0, len(p), 2048):  # potri fills the upper triangle: mirror it, block by block
        r1 = min(r0 + 2048, len(p))
        p[r0:r1, :r0] = p[:r0, r0:r1].T
        blk = p[r0:r1, r0:r1]
        blk[:] = np.triu(blk) + np.triu(blk, 1).T
    return p


class EASE(ItemItemRecommender):
    """Closed-form linear item-item model (``ease``)."""

    name = "ease"
    Config = EASEConfig
    config: EASEConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"reg": trial.suggest_float("reg", 10.0, 5000.0, log=True)}

    def _fit(self, data: TrainData) -> None:
        n = self.n_items
        if n > self.config.max_items:
            raise CapacityError(
                f"EASE needs a dense {n:,} x {n:,} item-item matrix ({_gib(n, 4):.1f} GiB in float32, about "
                f"{2 * _gib(n, 4):.1f} GiB peak while fitting); this catalogue has {n:,} items, above "
                f"max_items={self.config.max_items:,}. Use itemknn or als (sparse, scale to large catalogues), "
                f"or raise max_items if the machine has that much memory.")
        x = data.user_item(binary=True)
        gram = (x.T @ x).toarray().astype(np.float32)  # (I, I)
        gram[np.diag_indices(n)] += self.config.reg
        p = _spd_inverse(gram)  # (I, I), float32: same top-n as float64 on real data, half the memory
        p /= -np.diag(p)[None, :]  # B_ij = -P_ij / P_jj
        p[np.diag_indices(n)] = 0.0
        # C order: scoring reads rows (history @ weights); a Fortran-ordered result of the solver made
        # scipy copy the whole matrix on every request (230 ms a request on Amazon Scientific).
        self.weights = np.ascontiguousarray(p)

    def _save(self, directory: Path) -> None:
        save_arrays(directory, weights=self.weights)

    def _load(self, directory: Path) -> None:
        self.weights = np.ascontiguousarray(load_arrays(directory, "weights")["weights"])  # files of older saves
