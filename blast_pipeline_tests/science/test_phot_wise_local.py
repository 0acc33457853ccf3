"""WISE photometry of a small aperture on a galaxy is not eaten by Blast's annulus background."""

from __future__ import annotations

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from phot_synthetic import HOST_DEC, HOST_RA, make_image, sersic_model
from photutils.aperture import SkyCircularAperture

from blast_pipeline.science.background import ImageAnalysis
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.photometry import measure_aperture_photometry
from blast_pipeline.science.units import image_zero_point, microjansky_per_count


def test_wise_small_local_aperture_on_a_galaxy_keeps_its_flux():
    spec = get_filter("WISE_W1")
    image = make_image(
        sersic_model((128, 128), amplitude=50.0, r_eff=6.0, n=1.0, ellip=0.2),
        pixel_arcsec=spec.pixel_size_arcsec,
        psf_fwhm_pix=spec.image_fwhm_arcsec / spec.pixel_size_arcsec,
        noise=0.5,
    )
    hdu = image.hdu(EXPTIME=7.7, MAGZP=20.5)
    analysis = ImageAnalysis(image.data, wcs=image.wcs, filter_name=spec.name)
    assert analysis.source_masked
    # a 2 kpc-like local aperture: 3" radius, 2 WISE pixels, on the galaxy's bright core
    aperture = SkyCircularAperture(SkyCoord(HOST_RA, HOST_DEC, unit="deg"), r=3.0 * u.arcsec)
    result = measure_aperture_photometry(
        image.data, hdu.header, image.wcs, aperture, spec, analysis
    )
    truth = image.truth_in(aperture) * microjansky_per_count(
        spec, image_zero_point(spec, hdu.header)
    )
    assert result.flux == pytest.approx(truth, rel=0.05)
