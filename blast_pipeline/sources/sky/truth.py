"""The JSON-serialisable truth of one simulated transient, for scoring the pipeline.

Fluxes are total fluxes in AB microjansky per Blast filter: ``flux_microjansky`` is what the
images contain (through Milky Way dust), ``flux_microjansky_no_mw`` is before Milky Way
extinction (what a correct dereddening should recover); ``mag_ab`` is the AB magnitude of the
former (None for zero flux). E(B-V): ``ebv_sfd_*`` is the raw analytic SFD value,
``ebv_expected_*`` = 0.86 x SFD is what Blast's MW E(B-V) tasks should report.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammainc

from blast_pipeline.science.cosmology import local_aperture_radius_arcsec
from blast_pipeline.science.filters import FILTERS
from blast_pipeline.sources.sky.dust_map import sfd_ebv_at
from blast_pipeline.sources.sky.extinction import SFD_RECALIBRATION
from blast_pipeline.sources.sky.footprints import survey_covers
from blast_pipeline.sources.sky.population import (
    CATALOG_BAND_FILTER,
    CATALOG_MAG_LIMIT,
    Field,
    Galaxy,
)
from blast_pipeline.sources.sky.positions import angular_separation_deg, galactic_from_icrs
from blast_pipeline.sources.sky.sersic import TRUNCATION_IN_RE, sersic_b


def _mag(flux: float) -> float | None:
    return 23.9 - 2.5 * math.log10(flux) if flux > 0 else None


def enclosed_light_fraction(galaxy: Galaxy, ra_deg: float, dec_deg: float, radius: float) -> float:
    """Fraction of the (truncated, unconvolved) Sérsic light inside a circle of ``radius``
    arcsec centred at (ra, dec): elliptical annuli (exact light per annulus, from the
    incomplete gamma function) times the fraction of each annulus inside the circle."""
    cos_dec = math.cos(math.radians(galaxy.dec_deg))
    east = ((ra_deg - galaxy.ra_deg + 180.0) % 360.0 - 180.0) * cos_dec * 3600.0
    north = (dec_deg - galaxy.dec_deg) * 3600.0
    pa = math.radians(galaxy.pa_deg)
    major = east * math.sin(pa) + north * math.cos(pa)
    minor = east * math.cos(pa) - north * math.sin(pa)
    n, q, r_e = galaxy.sersic_n, galaxy.axis_ratio, galaxy.r_e_arcsec
    b = float(sersic_b(n))
    rho = r_e * TRUNCATION_IN_RE * np.concatenate(([0.0], np.geomspace(1e-5, 1.0, 400)))
    light = gammainc(2 * n, b * (rho / r_e) ** (1.0 / n))
    phi = (np.arange(720) + 0.5) * (2 * np.pi / 720)
    mid = np.sqrt(rho[1:] * rho[:-1])[:, None]
    x, y = mid * np.cos(phi)[None, :], q * mid * np.sin(phi)[None, :]
    inside = np.mean((x - major) ** 2 + (y - minor) ** 2 <= radius**2, axis=1)
    return float(np.sum(np.diff(light) * inside) / light[-1])


def galaxy_sed_truth(galaxy: Galaxy) -> dict | None:
    """The contract's SED quantities of the whole galaxy (``sfh.StepHistory.truth``)."""
    return None if galaxy.sfh is None else galaxy.sfh.truth(galaxy.log_stellar_mass)


def local_sed_truth(galaxy: Galaxy, ra_deg: float, dec_deg: float, redshift: float) -> dict:
    """SED truth of the part of ``galaxy`` inside the 2 kpc local aperture at (ra, dec).

    A sky galaxy has one SED everywhere, so the intensive quantities are the galaxy's and the
    extensive ones (mass, SFR, SFH) scale with the enclosed fraction of its light.
    """
    radius = local_aperture_radius_arcsec(redshift)
    fraction = enclosed_light_fraction(galaxy, ra_deg, dec_deg, radius)
    truth = (
        galaxy.sfh.scaled(fraction).truth(galaxy.log_stellar_mass + math.log10(fraction))
        if fraction > 0
        else None
    )
    if truth is not None:
        truth["enclosed_light_fraction"] = fraction
    return truth


def galaxy_truth(galaxy: Galaxy) -> dict:
    """Every simulated property of one galaxy."""
    names = [spec.name for spec in FILTERS]
    return {
        "object_id": galaxy.object_id,
        "role": galaxy.role,
        "ra_deg": galaxy.ra_deg,
        "dec_deg": galaxy.dec_deg,
        "redshift": galaxy.redshift,
        "spec_z": galaxy.spec_z,
        "log_stellar_mass": galaxy.log_stellar_mass,
        "sfr_msun_per_yr": galaxy.sfr,
        "log_sfr": math.log10(galaxy.sfr),
        "av_mag": galaxy.av_mag,
        "quiescent": galaxy.quiescent,
        "sersic": {
            "n": galaxy.sersic_n,
            "r_e_arcsec": galaxy.r_e_arcsec,
            "axis_ratio": galaxy.axis_ratio,
            "pa_deg": galaxy.pa_deg,
            "half_light_a_arcsec": galaxy.half_light_a_arcsec,
            "half_light_b_arcsec": galaxy.half_light_b_arcsec,
        },
        "ebv_sfd": galaxy.ebv_sfd,
        "ebv_expected": SFD_RECALIBRATION * galaxy.ebv_sfd,
        "flux_microjansky": dict(zip(names, galaxy.flux_ujy, strict=True)),
        "flux_microjansky_no_mw": dict(zip(names, galaxy.flux_no_mw_ujy, strict=True)),
        "mag_ab": {name: _mag(flux) for name, flux in zip(names, galaxy.flux_ujy, strict=True)},
        "in_catalog": galaxy.in_catalog,
        "catalog_band_mag_true": galaxy.catalog_band_mag,
        "sed": galaxy_sed_truth(galaxy),
    }


def field_truth(field: Field, seed: int) -> dict:
    """The truth record of one transient and its field."""
    transient = field.transient
    l_deg, b_deg = galactic_from_icrs(transient.ra_deg, transient.dec_deg)
    ebv_transient = float(sfd_ebv_at(transient.ra_deg, transient.dec_deg))
    host = field.host
    if host is None:
        offset_arcsec, ebv_host = None, None
    else:
        offset_arcsec = 3600.0 * float(
            angular_separation_deg(transient.ra_deg, transient.dec_deg, host.ra_deg, host.dec_deg)
        )
        ebv_host = host.ebv_sfd
    neighbours = [g for g in field.galaxies if g.role == "neighbour"]
    host_truth = None if host is None else galaxy_truth(host)
    if host_truth is not None:
        host_truth["sed_local"] = local_sed_truth(
            host, transient.ra_deg, transient.dec_deg, field.true_redshift
        )
    return {
        "name": transient.name,
        "index": field.index,
        "seed": seed,
        "ra_deg": transient.ra_deg,
        "dec_deg": transient.dec_deg,
        "galactic_l_deg": float(l_deg),
        "galactic_b_deg": float(b_deg),
        "redshift": field.true_redshift,
        "reported_redshift": transient.redshift,
        "hostless": field.hostless,
        "host_object_id": transient.host_object_id,
        "host_in_catalog": None if host is None else host.in_catalog,
        "host_ra_deg": None if host is None else host.ra_deg,
        "host_dec_deg": None if host is None else host.dec_deg,
        "offset_arcsec": offset_arcsec,
        "offset_dlr": field.offset_dlr,
        "ebv_sfd_transient": ebv_transient,
        "ebv_expected_transient": SFD_RECALIBRATION * ebv_transient,
        "ebv_sfd_host": ebv_host,
        "ebv_expected_host": None if ebv_host is None else SFD_RECALIBRATION * ebv_host,
        "coverage": {
            spec.name: survey_covers(spec, transient.ra_deg, transient.dec_deg) for spec in FILTERS
        },
        "host": host_truth,
        "neighbours": [galaxy_truth(g) for g in neighbours],
        "neighbour_object_ids": [g.object_id for g in neighbours],
        "n_galaxies": len(field.galaxies),
        "n_catalogued_galaxies": sum(g.in_catalog for g in field.galaxies),
        "n_stars": len(field.stars),
        "field_half_width_arcsec": field.half_width_arcsec,
        "catalog": {
            "band": "r",
            "band_filter": CATALOG_BAND_FILTER,
            "mag_limit": CATALOG_MAG_LIMIT,
        },
    }
