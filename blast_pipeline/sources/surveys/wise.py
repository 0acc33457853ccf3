"""WISE cutouts from the IRSA SIA service, AllWISE atlas images (reference 1.4).

The SIA answer is CSV; its ``cloud_access`` column carries JSON that breaks naive CSV parsing,
so (like Blast) the JSON between braces is blanked before parsing. Blast downloads the first
https token; we take the first row whose ``access_url`` is an http(s) URL, cut it with
``Cutout2D`` and set ``EXPTIME = t_exptime`` of that row.
"""

from __future__ import annotations

import csv
import io

from astropy.io import fits

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels
from blast_pipeline.sources.http import HttpSettings, ServiceHttp, body_snippet
from blast_pipeline.sources.surveys.fits_cutouts import (
    cut_square,
    download_image_hdu,
)

DEFAULT_SIA_URL = "https://irsa.ipac.caltech.edu/SIA"

#: Blast's SIA ``BAND`` value (metres) per WISE band.
BAND_WAVELENGTH_M: dict[str, str] = {"W1": "3.4e-6", "W2": "4.6e-6", "W3": "1.2e-5", "W4": "2.2e-5"}

#: Blast's search circle radius in degrees (10 arcsec).
SEARCH_RADIUS_DEG = 0.002777

#: Blast takes the first ``https`` token; plain http is accepted too (local mirrors, tests).
_HTTP_PREFIXES = ("https://", "http://")


def blank_json_cells(text: str) -> str:
    """Replace ``{...}`` JSON (possibly nested, unquoted) on each line by ``{}``."""
    lines = []
    for line in text.splitlines():
        start, end = line.find("{"), line.rfind("}")
        if start != -1 and end > start:
            line = line[: start + 1] + line[end:]
        lines.append(line)
    return "\n".join(lines)


def parse_sia_csv(text: str, http: ServiceHttp, url: str) -> list[dict]:
    """Rows of an IRSA SIA CSV answer; a reply without ``access_url`` is malformed."""
    reader = csv.DictReader(io.StringIO(blank_json_cells(text)))
    if not reader.fieldnames or "access_url" not in reader.fieldnames:
        preview = body_snippet(text)
        raise http.error(f"SIA CSV reply has no access_url column (starts {preview!r})", url)
    return list(reader)


class WiseCutouts:
    """``CutoutSource`` for the WISE_W1..W4 filters."""

    survey = "WISE"

    def __init__(self, http: ServiceHttp | None = None, *, sia_url: str = DEFAULT_SIA_URL) -> None:
        self.http = http or ServiceHttp.for_cutouts(self.survey, HttpSettings())
        self.sia_url = sia_url

    def fetch_cutout(
        self, ra_deg: float, dec_deg: float, spec: FilterSpec, fov_arcsec: float
    ) -> fits.HDUList | None:
        if spec.band not in BAND_WAVELENGTH_M:
            raise ValueError(f"WISE: unknown band {spec.band!r} (filter {spec.name})")
        params = {
            "COLLECTION": "wise_allwise",
            "POS": f"circle {ra_deg} {dec_deg} {SEARCH_RADIUS_DEG}",
            "RESPONSEFORMAT": "CSV",
            "BAND": BAND_WAVELENGTH_M[spec.band],
            "FORMAT": "image/fits",
        }
        response = self.http.get(self.sia_url, params=params)
        rows = parse_sia_csv(response.text, self.http, response.url)
        images = [row for row in rows if (row.get("access_url") or "").startswith(_HTTP_PREFIXES)]
        if not images:
            return None
        row = images[0]
        url = row["access_url"]
        extra: dict[str, object] = {}
        exptime = (row.get("t_exptime") or "").strip()
        if exptime:
            try:
                extra["EXPTIME"] = float(exptime)
            except ValueError as exc:
                raise self.http.error(
                    f"SIA row has an unreadable t_exptime {exptime!r}", response.url
                ) from exc
        hdu = download_image_hdu(self.http, url, service=self.survey)
        return cut_square(
            hdu,
            ra_deg,
            dec_deg,
            cutout_size_pixels(spec, fov_arcsec),
            service=self.survey,
            url=url,
            extra_keywords=extra,
        )
