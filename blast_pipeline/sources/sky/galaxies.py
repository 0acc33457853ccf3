"""Scaling relations that give a simulated galaxy its physical properties.

* Quiescent fraction rising with stellar mass: ``f_q = 1 / (1 + exp(-(log M - 10.55) / 0.25))``.
* Star-formation main sequence (Speagle et al. 2014-like slope and evolution):
  ``log SFR = 0.8 (log M - 10) + 2.8 log10(1 + z) - 0.05``, scatter 0.3 dex; quiescent galaxies
  sit 1.6 dex below it.
* Internal dust: star-forming A_V ~ 0.3 + 0.4 (log M - 9.5) (+-0.2), quiescent A_V ~ 0.15.
* Mass-size relation (van der Wel et al. 2014): late types
  ``log r_e/kpc = 0.86 + 0.22 (log M - 10.7)`` (0.16 dex scatter), early types
  ``0.60 + 0.75 (log M - 10.7)`` (0.10 dex), r_e >= 0.3 kpc.
* Metallicity from a mass-metallicity relation and the shape of the non-parametric
  star-formation history (``sfh``), drawn from a generator seeded by ``rng``'s state, so they
  do not shift any other draw.
* Sérsic index ~1.1 (discs) or ~3.8 (spheroids); axis ratio U(0.25, 1) for discs and
  U(0.55, 1) for spheroids; position angle uniform.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from blast_pipeline.sources.sky import sfh
from blast_pipeline.sources.sky.cosmology import kpc_to_arcsec
from blast_pipeline.sources.sky.sersic import truncated_half_light_radius


@dataclass(frozen=True)
class GalaxyProperties:
    """Physical and structural properties of a batch of galaxies (arrays of equal length)."""

    log_stellar_mass: np.ndarray
    redshift: np.ndarray
    quiescent: np.ndarray
    sfr: np.ndarray
    av_mag: np.ndarray
    sersic_n: np.ndarray
    r_e_kpc: np.ndarray
    axis_ratio: np.ndarray
    pa_deg: np.ndarray
    log_z: np.ndarray  # log10 stellar metallicity, Z / Z_sun
    sfh_draws: np.ndarray  # (galaxies, sfh.N_SHAPE_DRAWS): the history's shape

    @property
    def r_e_arcsec(self) -> np.ndarray:
        """Sérsic scale radius (semi-major) in arcsec."""
        return kpc_to_arcsec(self.r_e_kpc, self.redshift)

    @property
    def half_light_a_arcsec(self) -> np.ndarray:
        """Semi-major half-light radius of the truncated profile, arcsec."""
        return truncated_half_light_radius(self.sersic_n, self.r_e_arcsec)


def quiescent_fraction(log_stellar_mass: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(log_stellar_mass) - 10.55) / 0.25))


def main_sequence_log_sfr(log_stellar_mass: np.ndarray, redshift: np.ndarray) -> np.ndarray:
    return 0.8 * (np.asarray(log_stellar_mass) - 10.0) + 2.8 * np.log10(1.0 + redshift) - 0.05


def _sed_generator(rng: np.random.Generator) -> np.random.Generator:
    """A generator seeded by ``rng``'s current state, which it leaves untouched."""
    digest = hashlib.sha256(repr(rng.bit_generator.state).encode()).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint32))


def draw_properties(
    rng: np.random.Generator,
    log_stellar_mass: np.ndarray,
    redshift: np.ndarray,
    quiescent: np.ndarray | None = None,
) -> GalaxyProperties:
    """Draw SFR, dust and structure for galaxies of given masses and redshifts.

    Every call draws the same number of random values per galaxy, in the same order.
    """
    log_mass = np.asarray(log_stellar_mass, dtype=float)
    z = np.asarray(redshift, dtype=float)
    count = log_mass.size
    sfh_draws = sfh.draw_shape(_sed_generator(rng), count)
    u_quiescent = rng.random(count)
    if quiescent is None:
        quiescent = u_quiescent < quiescent_fraction(log_mass)
    quiescent = np.asarray(quiescent, dtype=bool)
    normal = rng.standard_normal((5, count))
    uniform = rng.random((2, count))
    log_sfr = main_sequence_log_sfr(log_mass, z) + 0.3 * normal[0] - np.where(quiescent, 1.6, 0.0)
    av = np.where(
        quiescent,
        np.clip(0.15 + 0.08 * normal[1], 0.0, 0.5),
        np.clip(0.3 + 0.4 * (log_mass - 9.5) + 0.2 * normal[1], 0.0, 2.5),
    )
    sersic_n = np.where(
        quiescent,
        np.clip(3.8 + 0.5 * normal[2], 2.5, 5.0),
        np.clip(1.1 + 0.3 * normal[2], 0.5, 2.0),
    )
    log_re = np.where(
        quiescent,
        0.60 + 0.75 * (log_mass - 10.7) + 0.10 * normal[3],
        0.86 + 0.22 * (log_mass - 10.7) + 0.16 * normal[3],
    )
    axis_ratio = np.where(quiescent, 0.55 + 0.45 * uniform[0], 0.25 + 0.75 * uniform[0])
    return GalaxyProperties(
        log_stellar_mass=log_mass,
        redshift=z,
        quiescent=quiescent,
        sfr=10**log_sfr,
        av_mag=av,
        sersic_n=sersic_n,
        r_e_kpc=np.clip(10**log_re, 0.3, None),
        axis_ratio=axis_ratio,
        pa_deg=180.0 * uniform[1],
        log_z=sfh.metallicity_log_z(log_mass, sfh_draws),
        sfh_draws=sfh_draws,
    )


def dlr_offset(
    east_arcsec: np.ndarray,
    north_arcsec: np.ndarray,
    a_arcsec: np.ndarray,
    axis_ratio: np.ndarray,
    pa_deg: np.ndarray,
) -> np.ndarray:
    """Separation in units of the directional light radius (Gupta et al. 2016).

    ``east``/``north``: offset of the transient from the galaxy centre; ``a``: semi-major axis of
    the half-light ellipse. The DLR is that ellipse's radius towards the transient, so the result
    is the elliptical radius ``sqrt((x'/a)^2 + (y'/b)^2)``.
    """
    pa = np.radians(pa_deg)
    major = np.asarray(east_arcsec) * np.sin(pa) + np.asarray(north_arcsec) * np.cos(pa)
    minor = np.asarray(east_arcsec) * np.cos(pa) - np.asarray(north_arcsec) * np.sin(pa)
    a = np.asarray(a_arcsec)
    return np.sqrt((major / a) ** 2 + (minor / (a * np.asarray(axis_ratio))) ** 2)


def ellipse_point(
    d_dlr: float, angle_rad: float, a_arcsec: float, axis_ratio: float, pa_deg: float
) -> tuple[float, float]:
    """East/north offset (arcsec) of the point at ``d_dlr`` DLR along ``angle`` from the major axis."""
    major = d_dlr * a_arcsec * np.cos(angle_rad)
    minor = d_dlr * a_arcsec * axis_ratio * np.sin(angle_rad)
    pa = np.radians(pa_deg)
    return (
        float(major * np.sin(pa) + minor * np.cos(pa)),
        float(major * np.cos(pa) - minor * np.sin(pa)),
    )
