"""The JSON-serialisable truth of one simulated transient, for scoring the pipeline.

Fluxes are total fluxes in AB microjansky per Blast filter: ``flux_microjansky`` is what the
images contain (through Milky Way dust), ``flux_microjansky_no_mw`` is before Milky Way
extinction (what a correct dereddening should recover); ``mag_ab`` is the AB magnitude of the
former (None for zero flux). E(B-V): ``ebv_sfd_*`` is the raw analytic SFD value,
``ebv_expected_*`` = 0.86 x SFD is what Blast's MW E(B-V) tasks should report.
"""

from __future__ import annotations

import math

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


def _mag(flux: float) -> float | None:
    return 23.9 - 2.5 * math.log10(flux) if flux > 0 else None


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
        "host": None if host is None else galaxy_truth(host),
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
