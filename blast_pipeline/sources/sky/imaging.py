"""How each simulated survey images the sky: depth, exposure, sky level, gain, header keywords.

Numbers are chosen to resemble the real products Blast downloads (see
``/work/shared/data/blast-example-2010H``): 5-sigma point-source depths in AB (PanSTARRS 3pi
stacks ~23.2 in r, SDSS ~22.2, Legacy Survey DR10 ~23.6, 2MASS ~17.4, AllWISE W1 ~19.9), the
2MASS and WISE sky pedestals in counts/DN, GALEX AIS-like count-rate maps with Poisson noise.
Noise per pixel: Gaussian sky noise giving the stated depth for a Gaussian PSF
(``sigma = F_5sigma / (5 sqrt(4 pi) sigma_psf)``) plus source shot noise through the gain
(electrons per image unit: SDSS's camera gain over NMGY, a WISE coadd's frame gain times its
number of frames, a DECam coadd at the DES wide depth: ``science/gain.py``); GALEX is pure
Poisson in counts over ``EXPTIME``.
Resampled products (WISE and 2MASS Atlas images, SDSS and Legacy Survey mosaics, PanSTARRS
stacks) have correlated pixel noise: the noise field is smoothed with a Gaussian of
``noise_correlation_px`` pixels (sigma) and rescaled to the same per-pixel sigma, so large
apertures' noise variance is ``4 pi sigma**2`` times the independent-pixel one (WISE ~40 as
Blast's WISE tables, 2MASS ~12 as the ``4 * 1.7**2`` of Blast's 2MASS noise model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from blast_pipeline.science.filters import FilterSpec
from blast_pipeline.science.gain import (
    legacy_survey_gain,
    sdss_gain_electrons_per_dn,
    wise_coadd_gain,
)


@dataclass(frozen=True)
class ImagingSetup:
    """Imaging parameters of one filter."""

    depth_ab: float  # 5-sigma point-source depth (AB mag); unused for Poisson (GALEX) images
    exptime_s: float
    pedestal: float  # sky level left in the image, in image units (0 = sky-subtracted)
    electrons_per_unit: float  # gain used for source shot noise
    header_zero_point: float | None = None  # MAGZP written to the header (2MASS, WISE)
    noise_correlation_px: float = 0.0  # Gaussian sigma (pixels) correlating the noise


#: Noise correlation (Gaussian sigma in pixels) of each survey's resampled images.
_NOISE_CORRELATION_PX = {"WISE": 1.8, "2MASS": 0.95, "SDSS": 0.5, "DES": 0.5, "PanSTARRS": 0.5}


#: SDSS frames' NMGY [nanomaggies per count] written to every simulated SDSS header (the real
#: r-band value of the 2010H frame).
SDSS_NMGY = 0.00482507


_SETUPS: dict[str, ImagingSetup] = {
    "2MASS_J": ImagingSetup(17.6, 7.8, 113.54, 10.0, 20.8058),
    "2MASS_H": ImagingSetup(17.4, 7.8, 454.81, 10.0, 20.4185),
    "2MASS_K": ImagingSetup(17.1, 7.8, 662.81, 10.0, 19.9023),
    "WISE_W1": ImagingSetup(19.9, 212.1581, 3.42, wise_coadd_gain("W1", 212.1581), 20.5),
    "WISE_W2": ImagingSetup(19.3, 212.1581, 12.1, wise_coadd_gain("W2", 212.1581), 19.5),
    "WISE_W3": ImagingSetup(16.8, 200.37, 880.0, wise_coadd_gain("W3", 200.37), 18.0),
    "WISE_W4": ImagingSetup(14.6, 180.12, 260.0, wise_coadd_gain("W4", 180.12), 13.0),
    "GALEX_NUV": ImagingSetup(21.0, 181.05, 4.0e-3, 1.0),
    "GALEX_FUV": ImagingSetup(20.5, 181.05, 4.0e-4, 1.0),
    "PanSTARRS_g": ImagingSetup(23.3, 1110.0, 0.0, 1.0),
    "PanSTARRS_r": ImagingSetup(23.2, 900.0, 0.0, 1.0),
    "PanSTARRS_i": ImagingSetup(23.1, 1440.0, 0.0, 1.0),
    "PanSTARRS_z": ImagingSetup(22.3, 960.0, 0.0, 1.0),
    "PanSTARRS_y": ImagingSetup(21.4, 720.0, 0.0, 1.0),
    "SDSS_u": ImagingSetup(22.0, 53.907456, 0.0, sdss_gain_electrons_per_dn("u") / SDSS_NMGY),
    "SDSS_g": ImagingSetup(22.2, 53.907456, 0.0, sdss_gain_electrons_per_dn("g") / SDSS_NMGY),
    "SDSS_r": ImagingSetup(22.2, 53.907456, 0.0, sdss_gain_electrons_per_dn("r") / SDSS_NMGY),
    "SDSS_i": ImagingSetup(21.3, 53.907456, 0.0, sdss_gain_electrons_per_dn("i") / SDSS_NMGY),
    "SDSS_z": ImagingSetup(20.5, 53.907456, 0.0, sdss_gain_electrons_per_dn("z") / SDSS_NMGY),
    "DES_g": ImagingSetup(24.0, 270.0, 0.0, legacy_survey_gain("g")),
    "DES_r": ImagingSetup(23.6, 180.0, 0.0, legacy_survey_gain("r")),
    "DES_i": ImagingSetup(23.2, 160.0, 0.0, legacy_survey_gain("i")),
    "DES_z": ImagingSetup(22.9, 300.0, 0.0, legacy_survey_gain("z")),
    "DES_Y": ImagingSetup(21.5, 90.0, 0.0, legacy_survey_gain("Y")),
}

#: Surveys whose WCS uses a CD matrix (SDSS, Legacy) rather than CDELT (the others).
CD_MATRIX_SURVEYS = frozenset({"SDSS", "DES"})


def imaging_setup(spec: FilterSpec) -> ImagingSetup:
    """The imaging parameters of a Blast filter."""
    try:
        setup = _SETUPS[spec.name]
    except KeyError:
        raise KeyError(f"the simulated sky has no imaging setup for filter {spec.name!r}") from None
    return replace(setup, noise_correlation_px=_NOISE_CORRELATION_PX.get(spec.survey, 0.0))


def survey_header_cards(spec: FilterSpec) -> list[tuple[str, object, str]]:
    """Survey-specific header cards (units and calibration keywords the photometry reads)."""
    setup = imaging_setup(spec)
    survey, band = spec.survey, spec.band
    if survey == "2MASS":
        return [
            ("ORIGIN", "2MASS", "2MASS Survey Camera"),
            ("FILTER", band.lower(), "Band: j, h, k"),
            ("BUNIT", "DN", "counts"),
            ("MAGZP", setup.header_zero_point, "Calibrated zero point"),
            ("SKYVAL", setup.pedestal, "Sky estimate"),
        ]
    if survey == "WISE":
        return [
            ("ORIGIN", "WISE Science Data Center, IPAC, Caltech", ""),
            ("TELESCOP", "WISE", ""),
            ("BAND", int(band[1]), "WISE band"),
            ("BUNIT", "DN", "counts/sec in Blast's convention"),
            ("MAGZP", setup.header_zero_point, "[mag] relative photometric zero point"),
            ("EXPTIME", setup.exptime_s, "[s] exposure time"),
        ]
    if survey == "GALEX":
        return [
            ("TELESCOP", "GALEX", ""),
            ("BAND", 1 if band == "NUV" else 2, "1 = NUV, 2 = FUV"),
            ("BUNIT", "", "counts/s (intensity map)"),
            ("EXPTIME", setup.exptime_s, "[s] effective exposure time"),
        ]
    if survey == "PanSTARRS":
        return [
            ("TELESCOP", "PS1", ""),
            ("FILTER", f"{band}.00000", ""),
            ("BUNIT", "counts", "stack counts; ZP = 25 + 2.5 log10(EXPTIME)"),
            ("EXPTIME", setup.exptime_s, "[s] stack exposure time"),
        ]
    if survey == "SDSS":
        return [
            ("ORIGIN", "SDSS", ""),
            ("TELESCOP", "2.5m", ""),
            ("FILTER", band, "filter used"),
            ("BUNIT", "nanomaggy", "1 nanomaggy = 3.631e-6 Jy"),
            ("EXPTIME", setup.exptime_s, "[s] exposure time"),
            ("NMGY", SDSS_NMGY, "calibration factor [nMgy per count]"),
        ]
    if survey == "DES":
        return [
            ("TELESCOP", "CTIO 4.0-m telescope", ""),
            ("FILTER", band, ""),
            ("BUNIT", "nanomaggy", "Legacy Survey DR10 image; ZP 22.5"),
            ("EXPTIME", setup.exptime_s, "[s] exposure time from the depth map"),
        ]
    raise ValueError(f"unknown survey {survey!r} for filter {spec.name}")
