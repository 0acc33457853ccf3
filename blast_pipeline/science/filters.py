"""Blast's 24 photometric filters and 6 surveys (reference section 5.3, migration 0024)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilterSpec:
    """One survey band as Blast describes it in its ``Filter`` table."""

    name: str
    survey: str
    pixel_size_arcsec: float
    image_fwhm_arcsec: float
    magnitude_zero_point: float | None
    magnitude_zero_point_keyword: str | None
    ab_offset: float
    image_pixel_units: str
    wavelength_eff_angstrom: float
    sedpy_id: str
    hips_id: str

    @property
    def band(self) -> str:
        """The band letter(s) after the survey prefix, e.g. ``"W1"`` for ``WISE_W1``."""
        return self.name.split("_", 1)[1]


def _f(name, px, fwhm, zp, zp_kw, ab, units, lam, sedpy, hips) -> FilterSpec:
    survey = name.split("_", 1)[0]
    return FilterSpec(name, survey, px, fwhm, zp, zp_kw, ab, units, lam, sedpy, hips)


FILTERS: tuple[FilterSpec, ...] = (
    _f("2MASS_H", 1.0, 2.8, None, "MAGZP", 1.3676, "counts", 16620.0, "twomass_H", "CDS/P/2MASS/H"),
    _f("2MASS_J", 1.0, 2.9, None, "MAGZP", 0.8949, "counts", 12350.0, "twomass_J", "CDS/P/2MASS/J"),
    _f(
        "2MASS_K", 1.0, 2.9, None, "MAGZP", 1.8378, "counts", 21590.0, "twomass_Ks", "CDS/P/2MASS/K"
    ),
    _f(
        "WISE_W1",
        1.375,
        5.84,
        20.5,
        None,
        2.699,
        "counts/sec",
        33526.0,
        "wise_w1",
        "CDS/P/allWISE/W1",
    ),
    _f(
        "WISE_W2",
        1.375,
        6.48,
        19.5,
        None,
        3.339,
        "counts/sec",
        46028.0,
        "wise_w2",
        "CDS/P/allWISE/W2",
    ),
    _f(
        "WISE_W3",
        1.375,
        6.72,
        18.0,
        None,
        5.174,
        "counts/sec",
        115608.0,
        "wise_w3",
        "CDS/P/allWISE/W3",
    ),
    _f(
        "WISE_W4",
        1.375,
        11.82,
        13.0,
        None,
        6.62,
        "counts/sec",
        220883.0,
        "wise_w4",
        "CDS/P/allWISE/W4",
    ),
    _f(
        "GALEX_NUV",
        1.5,
        5.3,
        20.08,
        None,
        0.0,
        "counts/sec",
        2304.74,
        "galex_NUV",
        "CDS/P/GALEXGR6/AIS/NUV",
    ),
    _f(
        "GALEX_FUV",
        1.5,
        4.2,
        18.82,
        None,
        0.0,
        "counts/sec",
        1549.02,
        "galex_FUV",
        "CDS/P/GALEXGR6/AIS/FUV",
    ),
    _f(
        "PanSTARRS_g",
        0.25,
        1.31,
        25.0,
        None,
        0.0,
        "counts",
        4810.88,
        "panstarrs_g",
        "CDS/P/PanSTARRS/DR1/g",
    ),
    _f(
        "PanSTARRS_r",
        0.25,
        1.19,
        25.0,
        None,
        0.0,
        "counts",
        6156.36,
        "panstarrs_r",
        "CDS/P/PanSTARRS/DR1/r",
    ),
    _f(
        "PanSTARRS_i",
        0.25,
        1.11,
        25.0,
        None,
        0.0,
        "counts",
        7503.68,
        "panstarrs_i",
        "CDS/P/PanSTARRS/DR1/i",
    ),
    _f(
        "PanSTARRS_z",
        0.25,
        1.07,
        25.0,
        None,
        0.0,
        "counts",
        8668.56,
        "panstarrs_z",
        "CDS/P/PanSTARRS/DR1/z",
    ),
    _f(
        "PanSTARRS_y",
        0.25,
        1.02,
        25.0,
        None,
        0.0,
        "counts",
        9613.45,
        "panstarrs_y",
        "CDS/P/PanSTARRS/DR1/y",
    ),
    _f("SDSS_u", 0.4, 1.53, 22.5, None, 0.0, "counts/sec", 3608.04, "sdss_u0", "CDS/P/SDSS9/u"),
    _f("SDSS_g", 0.4, 1.44, 22.5, None, 0.0, "counts/sec", 4671.78, "sdss_g0", "CDS/P/SDSS9/g"),
    _f("SDSS_r", 0.4, 1.32, 22.5, None, 0.0, "counts/sec", 6141.12, "sdss_r0", "CDS/P/SDSS9/r"),
    _f("SDSS_i", 0.4, 1.26, 22.5, None, 0.0, "counts/sec", 7470.6, "sdss_i0", "CDS/P/SDSS9/i"),
    _f("SDSS_z", 0.4, 1.29, 22.5, None, 0.0, "counts/sec", 8922.78, "sdss_z0", "CDS/P/SDSS9/z"),
    _f("DES_g", 0.2637, 1.16, 22.5, None, 0.0, "counts/sec", 4770.83, "decam_g", "CDS/P/DES-DR1/g"),
    _f("DES_r", 0.2637, 1.07, 22.5, None, 0.0, "counts/sec", 6371.33, "decam_r", "CDS/P/DES-DR1/r"),
    _f("DES_i", 0.2637, 0.97, 22.5, None, 0.0, "counts/sec", 7774.19, "decam_i", "CDS/P/DES-DR1/i"),
    _f("DES_z", 0.2637, 0.93, 22.5, None, 0.0, "counts/sec", 9157.9, "decam_z", "CDS/P/DES-DR1/z"),
    _f("DES_Y", 0.2637, 0.91, 22.5, None, 0.0, "counts/sec", 9886.35, "decam_Y", "CDS/P/DES-DR1/Y"),
)

SURVEYS: tuple[str, ...] = ("2MASS", "WISE", "GALEX", "PanSTARRS", "SDSS", "DES")

FILTERS_BY_NAME: dict[str, FilterSpec] = {f.name: f for f in FILTERS}

#: Priority order for choosing the cutout that defines the global aperture and the thumbnail.
APERTURE_FILTER_PRIORITY: tuple[str, ...] = (
    "PanSTARRS_g",
    "PanSTARRS_r",
    "PanSTARRS_i",
    "SDSS_r",
    "SDSS_i",
    "SDSS_g",
    "DES_r",
    "DES_i",
    "DES_g",
    "2MASS_H",
)

#: Blast's cutout field of view: 0.1 deg on a side.
CUTOUT_FOV_ARCSEC: float = 360.0


def get_filter(name: str) -> FilterSpec:
    """Look a filter up by its Blast name, with a clear error for unknown names."""
    try:
        return FILTERS_BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"unknown filter {name!r}; known filters: {', '.join(FILTERS_BY_NAME)}"
        ) from None


def cutout_size_pixels(spec: FilterSpec, fov_arcsec: float = CUTOUT_FOV_ARCSEC) -> int:
    """Pixels per side of a cutout of ``fov_arcsec`` in this filter (PanSTARRS 1440 for 0.1 deg)."""
    return int(fov_arcsec / spec.pixel_size_arcsec)
