"""PanSTARRS cutouts from the PS1 image server (reference 1.4).

``ps1filenames.py`` lists the stack image of the band covering the position (a whitespace table
with a ``filename`` column); ``fitscut.cgi`` then cuts it at the requested size in pixels.
"""

from __future__ import annotations

from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels
from blast_pipeline.sources.http import HttpSettings, ServiceHttp
from blast_pipeline.sources.surveys.fits_cutouts import first_image_hdu, open_fits_bytes

DEFAULT_FILENAMES_URL = "https://ps1images.stsci.edu/cgi-bin/ps1filenames.py"
DEFAULT_FITSCUT_URL = "https://ps1images.stsci.edu/cgi-bin/fitscut.cgi"


def parse_filenames_table(text: str, http: ServiceHttp, url: str) -> list[str]:
    """The ``filename`` column of a ps1filenames.py whitespace table (header line first)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        raise http.error("empty reply from ps1filenames.py (not even a header line)", url)
    header = lines[0]
    if "filename" not in header:
        raise http.error(f"ps1filenames.py reply has no 'filename' column (header {header})", url)
    column = header.index("filename")
    filenames = []
    for row in lines[1:]:
        if len(row) != len(header):
            raise http.error(
                f"ps1filenames.py row has {len(row)} fields, expected {len(header)}", url
            )
        filenames.append(row[column])
    return filenames


class PanstarrsCutouts:
    """``CutoutSource`` for the PanSTARRS_g/r/i/z/y filters."""

    survey = "PanSTARRS"

    def __init__(
        self,
        http: ServiceHttp | None = None,
        *,
        filenames_url: str = DEFAULT_FILENAMES_URL,
        fitscut_url: str = DEFAULT_FITSCUT_URL,
    ) -> None:
        self.http = http or ServiceHttp.for_cutouts(self.survey, HttpSettings())
        self.filenames_url = filenames_url
        self.fitscut_url = fitscut_url

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        size = cutout_size_pixels(spec, fov_arcsec)
        common = {"ra": ra_deg, "dec": dec_deg, "size": size, "format": "fits"}
        listing = self.http.get(self.filenames_url, params={**common, "filters": spec.band})
        filenames = parse_filenames_table(listing.text, self.http, listing.url)
        if not filenames:
            return None
        image = self.http.get(self.fitscut_url, params={**common, "red": filenames[0]})
        hdul = open_fits_bytes(image.content, service=self.survey, url=image.url)
        hdu = first_image_hdu(hdul)
        if hdu is None:
            raise self.http.error("fitscut.cgi returned a FITS file without an image", image.url)
        if hdu is not hdul[0]:
            hdul = fits.HDUList([fits.PrimaryHDU(data=hdu.data, header=hdu.header)])
        return hdul
