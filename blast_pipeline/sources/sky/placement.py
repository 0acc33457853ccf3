"""Drawing a field's galaxies and stars around its transient (the rules: ``population``).

Each galaxy starts as a ``Draft`` (its properties batch, an index into it, its offset from the
transient and its shape) so that placement rules can move and shrink it before the whole field's
fluxes and catalogue entries are computed in one batch (``population._finalise_galaxies``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from blast_pipeline.science.filters import FILTERS
from blast_pipeline.science.units import microjansky_to_ab_mag
from blast_pipeline.sources.sky import galaxies as relations
from blast_pipeline.sources.sky.positions import MIN_ABS_GALACTIC_LATITUDE
from blast_pipeline.sources.sky.sed import galaxy_band_flux
from blast_pipeline.sources.sky.sersic import truncated_half_light_radius

OFFSET_GAMMA_SHAPE = 1.5
OFFSET_GAMMA_SCALE = 0.6
MAX_HOST_OFFSET_DLR = 4.0
DWARF_HOST_FRACTION = 0.12
CONFUSER_FRACTION = 0.4
FIELD_COUNT_AT_R22_PER_DEG2 = 9000.0
FIELD_MAG_LIMIT = 22.5
FIELD_BRIGHT_LIMIT = 14.0
HOSTLESS_MIN_DLR = 6.0
FIELD_MIN_DLR = 6.0
FIELD_MIN_SEPARATION_ARCSEC = 8.0
CATALOG_BAND_FILTER = "PanSTARRS_r"
_CATALOG_BAND_INDEX = [spec.name for spec in FILTERS].index(CATALOG_BAND_FILTER)


def field_redshift(rng: np.random.Generator, count: int, median: np.ndarray | float) -> np.ndarray:
    z = np.asarray(median) * np.exp(np.log(10) * 0.35 * rng.standard_normal(count))
    return np.clip(z, 0.01, 1.5)


@dataclass
class Draft:
    """A galaxy before its catalogue entry is drawn (offsets are from the transient)."""

    role: str
    props: relations.GalaxyProperties  # the batch it was drawn in
    k: int  # its index in the batch
    east: float
    north: float
    r_e_arcsec: float
    half_light_ratio: float  # truncated half-light radius / r_e (depends on n only)
    axis_ratio: float
    pa_deg: float

    @property
    def half_light_a(self) -> float:
        return self.r_e_arcsec * self.half_light_ratio

    def dlr_of_transient(self) -> float:
        """The transient's distance from this galaxy in DLR (see ``galaxies.dlr_offset``)."""
        pa = math.radians(self.pa_deg)
        major = -self.east * math.sin(pa) - self.north * math.cos(pa)
        minor = -self.east * math.cos(pa) + self.north * math.sin(pa)
        a = self.half_light_a
        return math.hypot(major / a, minor / (a * self.axis_ratio))


def _drafts(role: str, props: relations.GalaxyProperties) -> list[Draft]:
    r_e = np.atleast_1d(props.r_e_arcsec)
    ratio = np.atleast_1d(truncated_half_light_radius(props.sersic_n, 1.0))
    return [
        Draft(
            role,
            props,
            k,
            0.0,
            0.0,
            float(r_e[k]),
            float(ratio[k]),
            float(props.axis_ratio[k]),
            float(props.pa_deg[k]),
        )
        for k in range(r_e.size)
    ]


def draw_host(rng: np.random.Generator, z: float) -> tuple[Draft, float]:
    dwarf = rng.random() < DWARF_HOST_FRACTION
    log_mass = rng.uniform(6.8, 8.3) if dwarf else float(np.clip(rng.normal(10.1, 0.55), 8.3, 11.6))
    props = relations.draw_properties(rng, np.array([log_mass]), np.array([z]))
    draft = _drafts("host", props)[0]
    while True:
        d_dlr = rng.gamma(OFFSET_GAMMA_SHAPE, OFFSET_GAMMA_SCALE)
        if d_dlr < MAX_HOST_OFFSET_DLR:
            break
    angle = rng.uniform(0.0, 2 * np.pi)
    east, north = relations.ellipse_point(
        d_dlr, angle, draft.half_light_a, draft.axis_ratio, draft.pa_deg
    )
    # (east, north) is the transient's offset from the host; the host sits opposite.
    draft.east, draft.north = -east, -north
    return draft, float(d_dlr)


def _clear_of(draft: Draft, other: Draft | None, extra_arcsec: float) -> bool:
    if other is None:
        return True
    distance = np.hypot(draft.east - other.east, draft.north - other.north)
    return bool(distance >= 1.5 * (draft.half_light_a + other.half_light_a) + extra_arcsec)


def draw_neighbours(
    rng: np.random.Generator, z: float, host: Draft | None, host_dlr: float | None
) -> list[Draft]:
    count = int(min(rng.poisson(2.0 if host is None else 1.3), 8))
    with_confuser = host is not None and rng.random() < CONFUSER_FRACTION
    total = count + int(with_confuser)
    group = rng.random(total) < 0.5
    log_mass = np.clip(rng.normal(9.7, 0.7, total), 7.8, 11.3)
    redshift = np.where(
        group,
        np.clip(z + 0.0015 * rng.standard_normal(total), 0.002, None),
        field_redshift(rng, total, 0.15),
    )
    props = relations.draw_properties(rng, log_mass, redshift)
    host_sep = 0.0 if host is None else float(np.hypot(host.east, host.north))
    drafts: list[Draft] = []
    for k, draft in enumerate(_drafts("neighbour", props)):
        confuser = with_confuser and k == total - 1
        natural_r_e = draft.r_e_arcsec
        min_dlr = HOSTLESS_MIN_DLR if host is None else max(1.5 * host_dlr, host_dlr + 0.75, 1.0)
        placed = False
        for _ in range(30):
            angle = rng.uniform(0.0, 2 * np.pi)
            if confuser:
                separation = max(host_sep, 1.0) * rng.uniform(0.75, 1.35)
            else:
                nearest = max(3.0, 2.0 * host_sep)
                separation = rng.uniform(nearest, max(45.0, nearest + 20.0))
            draft.east, draft.north = separation * np.sin(angle), separation * np.cos(angle)
            draft.r_e_arcsec = natural_r_e
            d_dlr = draft.dlr_of_transient()
            if d_dlr < min_dlr:
                shrink = d_dlr / min_dlr
                if confuser and draft.r_e_arcsec * shrink >= 0.2:
                    draft.r_e_arcsec *= shrink  # same separation, smaller galaxy
                else:
                    draft.east, draft.north = draft.east / shrink, draft.north / shrink
            if _clear_of(draft, host, 1.0):
                placed = True
                break
        if placed:
            drafts.append(draft)
    return drafts


def draw_field_galaxies(
    rng: np.random.Generator, half_width: float, host: Draft | None
) -> list[Draft]:
    area_deg2 = (2 * half_width / 3600.0) ** 2
    expected = FIELD_COUNT_AT_R22_PER_DEG2 * 10 ** (0.4 * (FIELD_MAG_LIMIT - 22.0)) * area_deg2
    count = int(rng.poisson(expected))
    floor = 10 ** (-0.4 * (FIELD_MAG_LIMIT - FIELD_BRIGHT_LIMIT))
    r_target = FIELD_MAG_LIMIT + 2.5 * np.log10(rng.uniform(floor, 1.0, count))
    redshift = field_redshift(
        rng, count, np.clip(0.1 * 10 ** (0.12 * (r_target - 17.0)), 0.02, None)
    )
    quiescent = rng.random(count) < 0.3
    state = rng.bit_generator.state
    log_mass = np.full(count, 10.0)
    for _ in range(2):  # solve log M so that the SED gives r_target (flux ~ mass)
        rng.bit_generator.state = state  # the same scatter for every iteration
        props = relations.draw_properties(rng, log_mass, redshift, quiescent)
        r_model = microjansky_to_ab_mag(galaxy_band_flux(props, _CATALOG_BAND_INDEX))
        log_mass = np.clip(log_mass + (r_model - r_target) / 2.5, 6.0, 12.3)
    rng.bit_generator.state = state
    props = relations.draw_properties(rng, log_mass, redshift, quiescent)
    drafts: list[Draft] = []
    for draft in _drafts("field", props):
        for _ in range(20):
            draft.east, draft.north = rng.uniform(-half_width, half_width, 2)
            far = np.hypot(draft.east, draft.north) >= FIELD_MIN_SEPARATION_ARCSEC
            if far and draft.dlr_of_transient() >= FIELD_MIN_DLR and _clear_of(draft, host, 2.0):
                drafts.append(draft)
                break
    return drafts


def draw_stars(
    rng: np.random.Generator, half_width: float, abs_b_deg: float, host: Draft | None
) -> list[tuple[float, float, float, float]]:
    sin_b = max(np.sin(np.radians(abs_b_deg)), np.sin(np.radians(MIN_ABS_GALACTIC_LATITUDE)))
    area_deg2 = (2 * half_width / 3600.0) ** 2
    count = int(rng.poisson(800.0 / sin_b * area_deg2))
    floor = 10 ** (-0.25 * (21.5 - 13.0))
    r_mag = 21.5 + 4.0 * np.log10(rng.uniform(floor, 1.0, count))
    temperature = rng.uniform(3500.0, 8000.0, count)
    stars = []
    for k in range(count):
        for _ in range(20):
            east, north = rng.uniform(-half_width, half_width, 2)
            clear_host = host is None or np.hypot(east - host.east, north - host.north) > (
                3 * host.half_light_a + 5.0
            )
            if np.hypot(east, north) > 10.0 and clear_host:
                stars.append((east, north, float(r_mag[k]), float(temperature[k])))
                break
    return stars
