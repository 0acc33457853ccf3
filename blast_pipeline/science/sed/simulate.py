"""The training set: seeded bagpipes simulations, in parallel over processes, stored as .npz.

Parameters and redshifts are drawn in the parent from ``numpy.random.default_rng(seed)`` and
handed out in fixed chunks, so the file is the same for any number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np

from blast_pipeline.atomic import replace_atomically
from blast_pipeline.science.sed.forward import FILTER_NAMES, get_sed_model
from blast_pipeline.science.sed.parameters import THETA_NAMES, sample_prior, sample_redshifts

_CHUNK = 500


@dataclass(frozen=True)
class TrainingSet:
    """Simulated noiseless photometry: ``flux[i]`` [µJy] of ``theta[i]`` at ``redshift[i]``."""

    theta: np.ndarray  # (n, 6)
    redshift: np.ndarray  # (n,)
    flux: np.ndarray  # (n, 24) in FILTER_NAMES order
    seed: int

    def __len__(self) -> int:
        return len(self.redshift)

    def save(self, path: str | os.PathLike) -> None:
        arrays = {
            "theta": self.theta,
            "redshift": self.redshift,
            "flux": self.flux,
            "seed": self.seed,
            "theta_names": np.array(THETA_NAMES),
            "filters": np.array(FILTER_NAMES),
            "bagpipes_version": np.array(version("bagpipes")),
        }
        replace_atomically(path, lambda temporary: np.savez(temporary, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainingSet:
        with np.load(path) as data:
            for key, expected in (("theta_names", THETA_NAMES), ("filters", FILTER_NAMES)):
                if tuple(data[key]) != expected:
                    raise ValueError(f"{path}: {key} {tuple(data[key])} != {expected}")
            return cls(data["theta"], data["redshift"], data["flux"], int(data["seed"]))


def _simulate_chunk(args: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    theta, redshift = args
    model = get_sed_model()
    return np.array([model.photometry(t, z) for t, z in zip(theta, redshift, strict=True)])


def simulate_training_set(n: int, seed: int, n_workers: int | None = None) -> TrainingSet:
    """``n`` simulations from the prior with ``seed``, over ``n_workers`` processes (all cores)."""
    if n < 1:
        raise ValueError(f"n_simulations must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    theta = sample_prior(n, rng)
    redshift = sample_redshifts(n, rng)
    chunks = [(theta[i : i + _CHUNK], redshift[i : i + _CHUNK]) for i in range(0, n, _CHUNK)]
    n_workers = min(n_workers or os.cpu_count() or 1, len(chunks))
    if n_workers == 1:
        parts = [_simulate_chunk(chunk) for chunk in chunks]
    else:
        # spawn: a fresh interpreter per worker (forking a threaded Dagster process is unsafe)
        with multiprocessing.get_context("spawn").Pool(n_workers) as pool:
            parts = pool.map(_simulate_chunk, chunks, chunksize=1)
            # close + join before the context's terminate: workers exit normally and remove
            # their temporary filter folders (on an error the context still terminates them)
            pool.close()
            pool.join()
    return TrainingSet(theta, redshift, np.concatenate(parts), seed)
