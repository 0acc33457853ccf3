"""The amortised SED posterior: an sbi neural spline flow over theta, conditioned on photometry.

The flow models ``u = (logit((theta - low)/(high - low)) - u_mean)/u_std``, so every sample lies
inside the prior box without rejection.  The network's input is ``observation.raw_features``
standardised with the training set's statistics (saved with the network), so any subset of the
24 bands with per-band errors is accepted.  One file holds the network, its hyper-parameters,
the preprocessing, the prior box, bagpipes' live-fraction table, the calibration report and a
version string.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch

from blast_pipeline.atomic import replace_atomically
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.sed.derived import LiveFractionTable, derived_quantities
from blast_pipeline.science.sed.forward import FILTER_NAMES
from blast_pipeline.science.sed.observation import MIN_SNR, N_FEATURES, raw_features, standardise
from blast_pipeline.science.sed.parameters import (
    REDSHIFT_RANGE,
    SED_QUANTITIES,
    THETA_HIGH,
    THETA_LOW,
    THETA_NAMES,
    check_redshift,
    sfh_bin_edges_gyr,
)

#: The forward model + network family; a posterior file's version starts with it.
MODEL_VERSION = "bagpipes1.3.6-delayed-calzetti-nebular-dl07/nsf-v1"
DEFAULT_POSTERIOR_PATH = Path(
    str(files("blast_pipeline.science.sed") / "data" / "sed_posterior.pt")
)
APERTURES = ("global", "local")


@dataclass(frozen=True)
class SEDPhotometry:
    """What a task hands the posterior: any subset of Blast's 24 filters."""

    filters: tuple[str, ...]  # Blast names, e.g. "PanSTARRS_g"
    flux_ujy: np.ndarray  # MW-extinction corrected [µJy]
    flux_err_ujy: np.ndarray  # [µJy] (1 % floor and S/N >= 3 cut applied by the task)
    redshift: float  # known redshift: the posterior is conditioned on it
    aperture: str  # "global" or "local"

    def band_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(flux, err, present) over all 24 bands; bands with S/N < 3 count as missing."""
        flux_in = np.asarray(self.flux_ujy, dtype=float).ravel()
        err_in = np.asarray(self.flux_err_ujy, dtype=float).ravel()
        if not len(self.filters) == flux_in.size == err_in.size:
            raise ValueError(
                f"SEDPhotometry: {len(self.filters)} filters, {flux_in.size} fluxes and "
                f"{err_in.size} errors"
            )
        if self.aperture not in APERTURES:
            raise ValueError(
                f"SEDPhotometry.aperture {self.aperture!r}: expected one of {APERTURES}"
            )
        flux, err = np.zeros(len(FILTER_NAMES)), np.ones(len(FILTER_NAMES))
        present = np.zeros(len(FILTER_NAMES), dtype=bool)
        for name, f, e in zip(self.filters, flux_in, err_in, strict=True):
            i = FILTER_NAMES.index(get_filter(name).name)
            if present[i]:
                raise ValueError(f"SEDPhotometry: filter {name!r} given twice")
            if np.isfinite(f) and np.isfinite(e) and e > 0 and f >= MIN_SNR * e:
                flux[i], err[i], present[i] = f, e, True
        if not present.any():
            raise ValueError(f"SEDPhotometry: no band with finite flux and S/N >= {MIN_SNR:g}")
        return flux, err, present


@dataclass
class SEDSamples:
    """Posterior samples of one aperture."""

    quantities: dict[str, np.ndarray]  # each SED_QUANTITIES name -> (n_samples,)
    sfh: np.ndarray  # (n_samples, 7) [M_sun/yr]
    sfh_bin_edges_gyr: np.ndarray  # (8,) lookback [Gyr]
    theta: np.ndarray  # (n_samples, 6) raw model parameters
    theta_names: tuple[str, ...] = field(default=THETA_NAMES)

    def percentiles(self, q: Sequence[float] = (16, 50, 84)) -> dict[str, tuple[float, ...]]:
        """Percentiles of every quantity and raw parameter, e.g. ``{"log_mass": (p16, p50, p84)}``."""
        out = {k: tuple(float(v) for v in np.percentile(s, q)) for k, s in self.quantities.items()}
        for i, name in enumerate(self.theta_names):
            out.setdefault(name, tuple(float(v) for v in np.percentile(self.theta[:, i], q)))
        return out


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads, then restore the process's setting.

    Sampling a few thousand points gains nothing from a second thread, and on a loaded 2-core
    machine torch's default (one thread per core) made 1,000 samples ~10x slower.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_network(hyper: dict) -> torch.nn.Module:
    """The sbi neural spline flow with an MLP embedding of the 74 features."""
    from sbi.neural_nets import posterior_nn

    width, depth, context = hyper["embedding_width"], hyper["embedding_layers"], hyper["context"]
    layers: list[torch.nn.Module] = []
    n_in = N_FEATURES
    for _ in range(depth):
        layers += [torch.nn.Linear(n_in, width), torch.nn.SiLU()]
        n_in = width
    layers.append(torch.nn.Linear(n_in, context))
    builder = posterior_nn(
        model="nsf",
        z_score_theta="none",
        z_score_x="none",
        hidden_features=hyper["hidden_features"],
        num_transforms=hyper["num_transforms"],
        num_bins=hyper["num_bins"],
        embedding_net=torch.nn.Sequential(*layers),
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = builder(torch.randn(8, len(THETA_NAMES)), torch.randn(8, N_FEATURES))
    return net


class SEDPosterior:
    """A trained network with its preprocessing; sample it with :meth:`sample`."""

    def __init__(
        self,
        network: torch.nn.Module,
        hyper: dict,
        feature_mean: np.ndarray,
        feature_std: np.ndarray,
        u_mean: np.ndarray,
        u_std: np.ndarray,
        live_fraction: LiveFractionTable,
        version: str,
        report: dict | None = None,
    ) -> None:
        self.network = network.eval()
        self.hyper = dict(hyper)
        self.feature_mean = np.asarray(feature_mean, dtype=float)
        self.feature_std = np.asarray(feature_std, dtype=float)
        self.u_mean = np.asarray(u_mean, dtype=float)
        self.u_std = np.asarray(u_std, dtype=float)
        self.live_fraction = live_fraction
        self.version = version
        self.report = dict(report or {})
        self.redshift_range: tuple[float, float] = REDSHIFT_RANGE
        self.filters: tuple[str, ...] = FILTER_NAMES

    # -- theta <-> the flow's coordinates -------------------------------------------------------
    def theta_to_u(self, theta: np.ndarray) -> np.ndarray:
        p = np.clip((np.asarray(theta) - THETA_LOW) / (THETA_HIGH - THETA_LOW), 1e-6, 1 - 1e-6)
        return ((np.log(p / (1 - p)) - self.u_mean) / self.u_std).astype(np.float32)

    def u_to_theta(self, u: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(np.asarray(u, dtype=float) * self.u_std + self.u_mean)))
        return THETA_LOW + p * (THETA_HIGH - THETA_LOW)

    def features(self, flux, err, present, redshift) -> np.ndarray:
        """Standardised network input (n, 74) for band arrays over FILTER_NAMES."""
        return self.features_from_raw(raw_features(flux, err, present, redshift))

    def features_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Standardised network input from ``observation.raw_features``."""
        return standardise(raw, self.feature_mean, self.feature_std)

    def sample_theta(self, features: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
        """Raw theta samples (n_samples, n_objects, 6) for standardised features (n_objects, 74)."""
        with torch_threads(1), torch.random.fork_rng(), torch.no_grad(), warnings.catch_warnings():
            # nflows' LU transform calls torch.triangular_solve: a deprecation notice, not ours
            warnings.filterwarnings("ignore", "torch.triangular_solve is deprecated", UserWarning)
            torch.manual_seed(seed)
            u = self.network.sample((n_samples,), condition=torch.from_numpy(features))
        return self.u_to_theta(u.numpy().astype(float))

    def sample(self, photometry: SEDPhotometry, n_samples: int = 1000, seed: int = 0) -> SEDSamples:
        """Posterior samples for one aperture's photometry (deterministic for a given seed)."""
        z = check_redshift(photometry.redshift)
        flux, err, present = photometry.band_arrays()
        theta = self.sample_theta(self.features(flux, err, present, z), n_samples, seed)[:, 0]
        quantities, sfh = derived_quantities(theta, z, self.live_fraction)
        return SEDSamples(quantities, sfh, sfh_bin_edges_gyr(z), theta)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the posterior to one torch file (atomically)."""
        state = {
            "version": self.version,
            "hyper": self.hyper,
            "network": self.network.state_dict(),
            "feature_mean": torch.from_numpy(self.feature_mean),
            "feature_std": torch.from_numpy(self.feature_std),
            "u_mean": torch.from_numpy(self.u_mean),
            "u_std": torch.from_numpy(self.u_std),
            "theta_names": list(THETA_NAMES),
            "theta_low": THETA_LOW.tolist(),
            "theta_high": THETA_HIGH.tolist(),
            "filters": list(FILTER_NAMES),
            "quantities": list(SED_QUANTITIES),
            "report": self.report,
            **{k: torch.from_numpy(v) for k, v in self.live_fraction.as_arrays().items()},
        }
        replace_atomically(path, lambda temporary: torch.save(state, temporary))

    @classmethod
    def load(cls, path: str | os.PathLike) -> SEDPosterior:
        """Read a file written by :meth:`save`; ValueError if it does not fit this model."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not str(state.get("version", "")).startswith(MODEL_VERSION):
            raise ValueError(
                f"{path}: posterior version {state.get('version')!r} is not {MODEL_VERSION}"
            )
        for key, expected in (
            ("theta_names", list(THETA_NAMES)),
            ("filters", list(FILTER_NAMES)),
            ("theta_low", THETA_LOW.tolist()),
            ("theta_high", THETA_HIGH.tolist()),
        ):
            if state[key] != expected:
                raise ValueError(
                    f"{path}: {key} {state[key]} does not match this model ({expected})"
                )
        network = build_network(state["hyper"])
        network.load_state_dict(state["network"])
        arrays = {k: state[k].numpy() for k in LiveFractionTable.ARRAY_KEYS}
        return cls(
            network,
            state["hyper"],
            state["feature_mean"].numpy(),
            state["feature_std"].numpy(),
            state["u_mean"].numpy(),
            state["u_std"].numpy(),
            LiveFractionTable.from_arrays(arrays),
            state["version"],
            state["report"],
        )


@cache
def load_default_posterior() -> SEDPosterior:
    """The posterior shipped in ``blast_pipeline/science/sed/data/`` (loaded once per process)."""
    return SEDPosterior.load(DEFAULT_POSTERIOR_PATH)
