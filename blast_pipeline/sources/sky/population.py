"""The simulated universe around one transient: its host, neighbours, field galaxies and stars.

Everything about transient ``i`` is drawn from random streams seeded by ``(seed, i, stream)``:

* **Transient**: at the ``i``-th field centre (``positions``); redshift 0.005-0.3 from
  ``p(z) ~ z^2 exp(-z / 0.04)`` (volume growth times a magnitude-limited fall-off, peaking near
  z = 0.08); a spectroscopic redshift is reported for half of them.
* **Host** (93%): stellar mass log M ~ N(10.1, 0.55) in [8.3, 11.6], or a dwarf U(6.8, 8.3) for
  12% (often fainter than the catalogue limit: in the images, absent from the catalogue);
  properties from ``galaxies``. The transient's offset is ``d ~ Gamma(k=1.5, theta=0.6)`` (< 4)
  directional light radii along a uniform angle from the major axis (mean 0.9, 88% within 2 DLR).
* **Hostless** (7%): no host; every galaxy is kept at >= 6 DLR from the transient.
* **Neighbours**: Poisson(1.3) galaxies 3-45" away (half of them group members at the host
  redshift), plus, for 40% of hosts, a *confuser* at a similar angular separation as the host but
  shrunk so that it lies at least 1.5x the host's DLR distance: close in arcsec, but a worse match.
* **Field galaxies** over the fov (+30" margin): number counts ``N(<r) = 9000 10^(0.4(r-22))``
  per deg^2 down to r = 22.5, redshifts ~ 0.1 * 10^(0.12 (r - 17)) (0.35 dex scatter), masses
  solved from the SED; kept >= 6 DLR and >= 8" from the transient and clear of the host.
* **Stars**: blackbody point sources, density rising towards the Galactic plane, kept clear of
  the transient and host; in the images only.

Each galaxy's fluxes come from ``sed`` (stellar population synthesis of its star-formation
history, ``sfh``; the history is kept on the galaxy as its SED truth) and are dimmed by Milky Way dust
``A = R_band * 0.86 * SFD(l, b)`` at its position (``extinction``, ``dust_map``). The catalogue
view (r-band magnitude with errors, photometric or spectroscopic redshift, measured shape) is
drawn here too, so that it is fixed per galaxy. Host, neighbours, field galaxies and stars are
placed by ``placement``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from blast_pipeline.science.filters import FILTERS, FilterSpec
from blast_pipeline.science.units import ab_mag_to_microjansky, microjansky_to_ab_mag
from blast_pipeline.sources.sky import galaxies as relations
from blast_pipeline.sources.sky.dust_map import sfd_ebv_at
from blast_pipeline.sources.sky.extinction import SFD_RECALIBRATION, ccm89_a_over_ebv
from blast_pipeline.sources.sky.placement import (
    CATALOG_BAND_FILTER,
    Draft,
    draw_field_galaxies,
    draw_host,
    draw_neighbours,
    draw_stars,
)
from blast_pipeline.sources.sky.positions import (
    galactic_from_icrs,
    tangent_offsets_to_sky,
)
from blast_pipeline.sources.sky.sed import galaxy_seds, star_colours_microjansky
from blast_pipeline.sources.sky.sfh import SFR_TIMESCALE_YR, StepHistory

HOSTLESS_FRACTION = 0.07
TRANSIENT_SPEC_Z_FRACTION = 0.5
FIELD_MARGIN_ARCSEC = 30.0
CATALOG_MAG_LIMIT = 22.0
CATALOG_DEPTH_5SIGMA = 23.2

WAVELENGTHS = np.array([spec.wavelength_eff_angstrom for spec in FILTERS])
MW_R_BAND = ccm89_a_over_ebv(WAVELENGTHS)
FILTER_INDEX = {spec.name: i for i, spec in enumerate(FILTERS)}
_STREAM_HOST, _STREAM_NEIGHBOURS, _STREAM_FIELD, _STREAM_STARS, _STREAM_CATALOG = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class SimulatedTransient:
    """A transient of the simulated sky, as the pipeline would ingest it."""

    name: str
    ra_deg: float
    dec_deg: float
    redshift: float | None  # the reported (spectroscopic) redshift, known for a fraction
    host_object_id: str | None  # catalogue object_id of the true host; None when hostless


@dataclass(frozen=True)
class Galaxy:
    """One simulated galaxy: truth, image model and its catalogue entry."""

    object_id: str
    role: str  # "host", "neighbour" or "field"
    ra_deg: float
    dec_deg: float
    redshift: float
    log_stellar_mass: float
    sfr: float
    av_mag: float
    quiescent: bool
    sersic_n: float
    r_e_arcsec: float  # Sérsic scale radius along the major axis
    axis_ratio: float
    pa_deg: float  # major axis, east of north
    half_light_a_arcsec: float  # semi-major half-light radius of the truncated profile
    ebv_sfd: float  # raw SFD E(B-V) at the galaxy
    flux_no_mw_ujy: tuple[float, ...]  # FILTERS order, before Milky Way extinction
    flux_ujy: tuple[float, ...]  # FILTERS order, as seen through Milky Way dust (the images)
    in_catalog: bool
    catalog_mag: float
    catalog_mag_err: float
    catalog_a_arcsec: float
    catalog_b_arcsec: float
    catalog_pa_deg: float
    spec_z: float | None
    photo_z: float
    photo_z_err: float
    sfh: StepHistory | None = None  # its star-formation history, metallicity and A_V

    @property
    def half_light_b_arcsec(self) -> float:
        return self.half_light_a_arcsec * self.axis_ratio

    def flux(self, spec: FilterSpec) -> float:
        """Total flux (AB microjansky) in the images of ``spec``."""
        return self.flux_ujy[FILTER_INDEX[spec.name]]

    @property
    def catalog_band_mag(self) -> float:
        """True apparent AB magnitude in the catalogue band (with Milky Way extinction)."""
        return float(microjansky_to_ab_mag(self.flux_ujy[FILTER_INDEX[CATALOG_BAND_FILTER]]))


@dataclass(frozen=True)
class Star:
    """A foreground star (point source); in the images, not in the galaxy catalogue."""

    object_id: str
    ra_deg: float
    dec_deg: float
    flux_ujy: tuple[float, ...]

    def flux(self, spec: FilterSpec) -> float:
        return self.flux_ujy[FILTER_INDEX[spec.name]]


@dataclass(frozen=True)
class Field:
    """Everything simulated around one transient."""

    index: int
    transient: SimulatedTransient
    true_redshift: float
    host: Galaxy | None
    offset_dlr: float | None
    galaxies: tuple[Galaxy, ...]  # host first, then neighbours, then field galaxies
    stars: tuple[Star, ...]
    half_width_arcsec: float  # galaxies and stars lie within this square around the transient

    @property
    def hostless(self) -> bool:
        return self.host is None


def transient_name(seed: int, index: int) -> str:
    """The Blast-valid name of transient ``index`` of ``seed``."""
    return f"sim{seed}x{index:05d}"


def _rng(key: tuple[int, ...], stream: int) -> np.random.Generator:
    """The random stream of a field: ``key`` is ``(seed, index)`` for the sky's own transients,
    ``position_key`` for a position the sky was asked about."""
    return np.random.default_rng(np.random.SeedSequence([*key, stream]))


def _draw_transient_redshift(rng: np.random.Generator) -> float:
    while True:
        z = rng.gamma(3.0, 0.04)
        if 0.005 <= z <= 0.3:
            return float(z)


def _draw_transient_basics(rng: np.random.Generator) -> tuple[bool, float, float | None]:
    """Hostless flag, true redshift and reported redshift: the first draws of the host stream."""
    hostless = rng.random() < HOSTLESS_FRACTION
    z_true = _draw_transient_redshift(rng)
    spec_z_known = rng.random() < TRANSIENT_SPEC_Z_FRACTION
    reported_z = round(max(z_true + 0.001 * rng.standard_normal(), 0.001), 5)
    return bool(hostless), z_true, (reported_z if spec_z_known else None)


def host_object_id(seed: int, index: int) -> str:
    """Object id of transient ``index``'s host (galaxy 0 of its field)."""
    return f"{transient_name(seed, index)}g{0:04d}"


def build_transient(seed: int, index: int, ra_deg: float, dec_deg: float) -> SimulatedTransient:
    """The transient alone, without simulating its field (same values as ``build_field``)."""
    hostless, _, reported_z = _draw_transient_basics(_rng((seed, index), _STREAM_HOST))
    return SimulatedTransient(
        name=transient_name(seed, index),
        ra_deg=float(ra_deg),
        dec_deg=float(dec_deg),
        redshift=reported_z,
        host_object_id=None if hostless else host_object_id(seed, index),
    )


def build_field(seed: int, index: int, ra_deg: float, dec_deg: float, fov_arcsec: float) -> Field:
    """Simulate the transient ``index`` of ``seed`` at its field centre (deterministic)."""
    return _build_field(
        (seed, index), index, transient_name(seed, index), ra_deg, dec_deg, fov_arcsec
    )


#: Marks the random streams of position-seeded fields (distinct from any (seed, index) key).
_POSITION_STREAM_KEY = 9_000_001
#: Positions are quantised to this many micro-degrees (3.6 mas) before seeding.
_POSITION_QUANTUM = 1e-6


def position_key(seed: int, ra_deg: float, dec_deg: float) -> tuple[int, ...]:
    """The random-stream key of the field at a position: a function of the seed and the position
    (quantised to 1e-6 deg) only."""
    return (
        int(seed),
        _POSITION_STREAM_KEY,
        int(round((float(ra_deg) % 360.0) / _POSITION_QUANTUM)),
        int(round((float(dec_deg) + 90.0) / _POSITION_QUANTUM)),
    )


def position_name(ra_deg: float, dec_deg: float) -> str:
    """``J`` + RA hhmmss.ss + Dec +ddmmss.s: the label of a position-seeded field."""
    ra_s = round((float(ra_deg) % 360.0) / 15.0 * 3600.0, 2) % 86400.0
    dec_s = round(abs(float(dec_deg)) * 3600.0, 1)
    h, rem = divmod(ra_s, 3600.0)
    m, sec = divmod(rem, 60.0)
    d, drem = divmod(dec_s, 3600.0)
    dm, ds = divmod(drem, 60.0)
    sign = "-" if dec_deg < 0 else "+"
    return f"J{int(h):02d}{int(m):02d}{sec:05.2f}{sign}{int(d):02d}{int(dm):02d}{ds:04.1f}"


def build_field_at(seed: int, ra_deg: float, dec_deg: float, fov_arcsec: float) -> Field:
    """A field of its own around a transient at any position (host with the usual
    probabilities, neighbours, field galaxies, stars), deterministic in the seed and the
    position. Its index is derived from the position key (above the sky's own indices)."""
    key = position_key(seed, ra_deg, dec_deg)
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
    index = POSITION_INDEX_BASE + int(digest, 16)
    return _build_field(key, index, position_name(ra_deg, dec_deg), ra_deg, dec_deg, fov_arcsec)


#: Indices of position-seeded fields start here (the sky's own are 0, 1, 2, ...).
POSITION_INDEX_BASE = 2**50


def _build_field(
    key: tuple[int, ...], index: int, name: str, ra_deg: float, dec_deg: float, fov_arcsec: float
) -> Field:
    host_rng = _rng(key, _STREAM_HOST)
    hostless, z_true, reported_z = _draw_transient_basics(host_rng)
    host, host_dlr = (None, None) if hostless else draw_host(host_rng, z_true)
    neighbours = draw_neighbours(_rng(key, _STREAM_NEIGHBOURS), z_true, host, host_dlr)
    half_width = fov_arcsec / 2 + FIELD_MARGIN_ARCSEC
    field = draw_field_galaxies(_rng(key, _STREAM_FIELD), half_width, host)
    drafts = ([host] if host is not None else []) + neighbours + field
    galaxies = _finalise_galaxies(key, name, ra_deg, dec_deg, drafts)
    abs_b = abs(float(galactic_from_icrs(ra_deg, dec_deg)[1]))
    star_list = draw_stars(_rng(key, _STREAM_STARS), half_width, abs_b, host)
    stars = _finalise_stars(name, ra_deg, dec_deg, star_list)
    host_galaxy = galaxies[0] if host is not None else None
    transient = SimulatedTransient(
        name=name,
        ra_deg=float(ra_deg),
        dec_deg=float(dec_deg),
        redshift=reported_z,
        host_object_id=None if host_galaxy is None else host_galaxy.object_id,
    )
    return Field(
        index=index,
        transient=transient,
        true_redshift=z_true,
        host=host_galaxy,
        offset_dlr=host_dlr,
        galaxies=tuple(galaxies),
        stars=tuple(stars),
        half_width_arcsec=half_width,
    )


def _finalise_galaxies(
    key: tuple[int, ...], name: str, ra0: float, dec0: float, drafts: list[Draft]
) -> list[Galaxy]:
    if not drafts:
        return []
    east = np.array([d.east for d in drafts])
    north = np.array([d.north for d in drafts])
    ra, dec = tangent_offsets_to_sky(ra0, dec0, east, north)
    merged = relations.GalaxyProperties(
        **{
            key: np.array([np.asarray(getattr(d.props, key))[d.k] for d in drafts])
            for key in relations.GalaxyProperties.__dataclass_fields__
        }
    )
    flux_no_mw, histories = galaxy_seds(merged)
    ebv = sfd_ebv_at(ra, dec)
    flux = flux_no_mw * 10 ** (-0.4 * MW_R_BAND[None, :] * SFD_RECALIBRATION * ebv[:, None])
    r_mag = microjansky_to_ab_mag(flux[:, FILTER_INDEX[CATALOG_BAND_FILTER]])
    count = len(drafts)
    rng = _rng(key, _STREAM_CATALOG)
    noise = rng.standard_normal((6, count))
    uniform = rng.random((3, count))
    snr = 5.0 * 10 ** (-0.4 * (r_mag - CATALOG_DEPTH_5SIGMA))
    mag_err = np.sqrt(0.02**2 + (1.0857 / snr) ** 2)
    p_spec = np.select([r_mag < 17.77, r_mag < 19.5, r_mag < 21.0], [0.9, 0.3, 0.05], 0.0)
    p_spec = p_spec + np.array([0.25 if d.role == "host" else 0.0 for d in drafts])
    has_spec = uniform[0] < p_spec
    z = merged.redshift
    sigma = 0.02 + 0.03 * np.clip((r_mag - 16.0) / 6.0, 0.0, 1.0)
    outlier = uniform[1] < 0.04
    photo_z = np.where(outlier, 0.01 + 0.99 * uniform[2], z + sigma * (1 + z) * noise[2])
    photo_z = np.clip(photo_z, 0.001, None)
    half_light = np.array([d.half_light_a for d in drafts])
    axis_ratio = merged.axis_ratio
    cat_a = np.clip(half_light * np.exp(0.05 * noise[3]), 0.1, None)
    cat_q = np.clip(axis_ratio + 0.03 * noise[4], 0.05, 1.0)
    galaxies = []
    for k, draft in enumerate(drafts):
        galaxies.append(
            Galaxy(
                object_id=f"{name}g{k:04d}",  # the host, when there is one, is g0000
                role=draft.role,
                ra_deg=float(ra[k]),
                dec_deg=float(dec[k]),
                redshift=float(z[k]),
                log_stellar_mass=float(merged.log_stellar_mass[k]),
                sfr=histories[k].mass_formed(0.0, SFR_TIMESCALE_YR) / SFR_TIMESCALE_YR,
                av_mag=float(merged.av_mag[k]),
                quiescent=bool(merged.quiescent[k]),
                sersic_n=float(merged.sersic_n[k]),
                r_e_arcsec=float(draft.r_e_arcsec),
                axis_ratio=float(axis_ratio[k]),
                pa_deg=float(merged.pa_deg[k]),
                half_light_a_arcsec=float(half_light[k]),
                ebv_sfd=float(ebv[k]),
                flux_no_mw_ujy=tuple(float(f) for f in flux_no_mw[k]),
                flux_ujy=tuple(float(f) for f in flux[k]),
                in_catalog=bool(r_mag[k] < CATALOG_MAG_LIMIT),
                catalog_mag=float(r_mag[k] + mag_err[k] * noise[0, k]),
                catalog_mag_err=float(mag_err[k]),
                catalog_a_arcsec=float(cat_a[k]),
                catalog_b_arcsec=float(cat_a[k] * cat_q[k]),
                catalog_pa_deg=float((merged.pa_deg[k] + 3.0 * noise[5, k]) % 180.0),
                spec_z=float(round(z[k] + 5e-5 * noise[1, k], 6)) if has_spec[k] else None,
                photo_z=float(photo_z[k]),
                photo_z_err=float(sigma[k] * (1 + photo_z[k])),
                sfh=histories[k],
            )
        )
    return galaxies


def _finalise_stars(
    name: str, ra0: float, dec0: float, stars: list[tuple[float, float, float, float]]
) -> list[Star]:
    if not stars:
        return []
    east, north, r_mag, temperature = (np.array(column) for column in zip(*stars, strict=True))
    ra, dec = tangent_offsets_to_sky(ra0, dec0, east, north)
    r_wavelength = WAVELENGTHS[FILTER_INDEX[CATALOG_BAND_FILTER]]
    flux = star_colours_microjansky(r_mag, temperature, WAVELENGTHS, r_wavelength)
    return [
        Star(f"{name}s{k:04d}", float(ra[k]), float(dec[k]), tuple(float(f) for f in flux[k]))
        for k in range(len(stars))
    ]


def catalog_limit_flux_ujy() -> float:
    """Flux of a galaxy at the catalogue limit, in the catalogue band."""
    return float(ab_mag_to_microjansky(CATALOG_MAG_LIMIT))
