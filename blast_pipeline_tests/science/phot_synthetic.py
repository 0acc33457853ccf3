"""Synthetic images for the photometry tests: Sersic galaxies and stars on a TAN WCS.

Each image comes with its noiseless, sky-free model so tests can compare a measurement with the
truth summed in the same aperture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.modeling.models import Gaussian2D, Sersic2D
from astropy.wcs import WCS
from photutils.aperture import aperture_photometry
from scipy.signal import fftconvolve

HOST_RA, HOST_DEC = 121.6004583, 1.0359861
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
EXAMPLE_2010H = SHARED_DATA / "blast-example-2010H"


def tan_wcs(shape: tuple[int, int], pixel_arcsec: float, ra=HOST_RA, dec=HOST_DEC) -> WCS:
    """North-up, east-left TAN WCS with (ra, dec) at the image centre."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def gaussian_psf(fwhm_pix: float) -> np.ndarray:
    sigma = fwhm_pix / 2.3548
    half = int(np.ceil(4 * sigma))
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    psf = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return psf / psf.sum()


@dataclass
class SyntheticImage:
    data: np.ndarray  # model + sky + noise
    model: np.ndarray  # noiseless, sky-free, PSF-convolved
    wcs: WCS
    sky: float
    noise: float

    def truth_in(self, aperture) -> float:
        """The noiseless model summed in a pixel or sky aperture."""
        return float(aperture_photometry(self.model, aperture, wcs=self.wcs)["aperture_sum"][0])

    def hdu(self, **keywords) -> fits.PrimaryHDU:
        header = self.wcs.to_header()
        for key, value in keywords.items():
            header[key] = value
        return fits.PrimaryHDU(self.data.astype(np.float32), header=header)


def sersic_model(
    shape, *, amplitude=20.0, r_eff=12.0, n=1.5, ellip=0.4, theta=0.6, x0=None, y0=None
):
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    x0 = (nx - 1) / 2.0 if x0 is None else x0
    y0 = (ny - 1) / 2.0 if y0 is None else y0
    return Sersic2D(amplitude, r_eff, n, x0, y0, ellip, theta)(x, y)


def star_model(shape, x0, y0, total, fwhm_pix):
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    sigma = fwhm_pix / 2.3548
    return Gaussian2D(total / (2 * np.pi * sigma**2), x0, y0, sigma, sigma)(x, y)


def make_image(
    model: np.ndarray,
    *,
    pixel_arcsec: float = 0.25,
    psf_fwhm_pix: float = 4.0,
    sky: float = 10.0,
    noise: float = 1.0,
    seed: int = 1,
    ra: float = HOST_RA,
    dec: float = HOST_DEC,
) -> SyntheticImage:
    """Convolve ``model`` with a Gaussian PSF, add a flat sky and Gaussian noise."""
    convolved = fftconvolve(model, gaussian_psf(psf_fwhm_pix), mode="same")
    rng = np.random.default_rng(seed)
    data = convolved + sky + rng.normal(0.0, noise, model.shape)
    return SyntheticImage(data, convolved, tan_wcs(model.shape, pixel_arcsec, ra, dec), sky, noise)


def sersic_image(shape=(256, 256), *, amplitude=20.0, seed=1, **kwargs) -> SyntheticImage:
    """The science notes' test galaxy: Sersic n=1.5, r_eff=12 px, ellip 0.4, theta 0.6 rad."""
    return make_image(sersic_model(shape, amplitude=amplitude), seed=seed, **kwargs)
