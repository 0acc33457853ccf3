"""Fake survey services, one "world" per survey, answering in the real services' formats.

Each world installs its routes on a ``FakeService``, names the path of its first (search) request
(where tests inject failures) and builds its client pointed at the fake server.
"""

from __future__ import annotations

import json

import numpy as np
from astropy.io import fits
from online_fake_services import (
    FakeRequest,
    FakeService,
    Reply,
    fits_bytes,
    sky_image,
    votable_bytes,
)

from blast_pipeline.science.filters import FilterSpec, cutout_size_pixels, get_filter
from blast_pipeline.sources.http import ServiceHttp
from blast_pipeline.sources.surveys import (
    GalexCutouts,
    LegacySurveyCutouts,
    PanstarrsCutouts,
    SdssCutouts,
    TwoMassCutouts,
    WiseCutouts,
)

RA, DEC = 150.1, 2.2
FOV_ARCSEC = 30.0


class SurveyWorld:
    survey: str
    spec: FilterSpec
    query_path: str
    expected_keywords: dict[str, object] = {}

    def __init__(self) -> None:
        self.base_url = ""
        self.served: dict[str, fits.HDUList] = {}  # path -> the image served there

    def serve_fits(
        self, fake: FakeService, path: str, image: fits.HDUList, compression: str | None = None
    ) -> None:
        self.served[path] = image
        fake.route(path, Reply(200, fits_bytes(image, compression), {"Content-Type": "image/fits"}))

    def install(self, fake: FakeService) -> None:
        raise NotImplementedError

    def install_no_coverage(self, fake: FakeService) -> None:
        raise NotImplementedError

    def image_path(self, spec: FilterSpec) -> str:
        raise NotImplementedError

    def malformed_reply(self) -> Reply:
        return Reply(200, "<html><body>Service temporarily unavailable</body></html>")

    def urls(self, fake: FakeService) -> dict[str, str]:
        raise NotImplementedError

    def client(self, fake: FakeService, http: ServiceHttp):
        raise NotImplementedError


class PanstarrsWorld(SurveyWorld):
    survey = "PanSTARRS"
    spec = get_filter("PanSTARRS_r")
    query_path = "/cgi-bin/ps1filenames.py"
    expected_keywords = {"EXPTIME": 1234.5, "HIERARCH FPA.ZP": 25.0}
    header = "projcell subcell ra dec filter mjd type filename shortname badflag"

    def _filenames(self, request: FakeRequest) -> Reply:
        band = request.query["filters"]
        name = f"rings.v3.skycell.1834.025.stk.{band}.unconv.fits"
        row = f"1834 025 {request.query['ra']} {request.query['dec']} {band} 0 stack "
        return Reply(200, f"{self.header}\n{row}/rings.v3.skycell/1834/025/{name} {name} 0\n")

    def _fitscut(self, request: FakeRequest) -> Reply:
        assert request.query["red"].startswith("/rings.v3.skycell/1834/025/")
        size = int(request.query["size"])
        image = sky_image(
            float(request.query["ra"]),
            float(request.query["dec"]),
            pixel_arcsec=0.25,
            shape=(size, size),
            keywords={"EXPTIME": 1234.5, "HIERARCH FPA.ZP": 25.0},
        )
        self.served[request.path] = image
        return Reply(200, fits_bytes(image), {"Content-Type": "image/fits"})

    def install(self, fake: FakeService) -> None:
        fake.route(self.query_path, self._filenames)
        fake.route("/cgi-bin/fitscut.cgi", self._fitscut)

    def install_no_coverage(self, fake: FakeService) -> None:
        fake.route(self.query_path, Reply(200, self.header + "\n"))

    def image_path(self, spec: FilterSpec) -> str:
        return "/cgi-bin/fitscut.cgi"

    def urls(self, fake: FakeService) -> dict[str, str]:
        return {
            "panstarrs_filenames": fake.url(self.query_path),
            "panstarrs_fitscut": fake.url("/cgi-bin/fitscut.cgi"),
        }

    def client(self, fake: FakeService, http: ServiceHttp) -> PanstarrsCutouts:
        urls = self.urls(fake)
        return PanstarrsCutouts(
            http, filenames_url=urls["panstarrs_filenames"], fitscut_url=urls["panstarrs_fitscut"]
        )


class SdssWorld(SurveyWorld):
    survey = "SDSS"
    spec = get_filter("SDSS_r")
    query_path = "/dr17/SkyServerWS/SearchTools/SqlSearch"
    expected_keywords = {"NMGY": 0.00512, "BUNIT": "nanomaggy", "EXPTIME": 53.907456}
    columns = "objid,ra,dec,run,rerun,camcol,field,distance_arcmin"

    def _sql(self, request: FakeRequest) -> Reply:
        assert request.query["format"] == "csv"
        assert "fGetNearbyObjEq" in request.query["cmd"]
        # The nearer object is listed second: the client must pick by separation.
        return Reply(
            200,
            f"#Table1\n{self.columns}\n"
            f"1237650000000000001,{RA + 0.01},{DEC},1000,301,1,11,0.6\n"
            f"1237650000000000002,{RA + 0.0001},{DEC - 0.0001},756,301,3,42,0.008\n",
        )

    def image_path(self, spec: FilterSpec) -> str:
        return f"/sas/dr17/eboss/photoObj/frames/301/756/3/frame-{spec.band}-000756-3-0042.fits.bz2"

    def install(self, fake: FakeService) -> None:
        fake.route(self.query_path, self._sql)
        for band in "ugriz":
            frame = sky_image(
                RA + 0.002,
                DEC - 0.001,
                pixel_arcsec=0.396,
                shape=(300, 400),
                use_cd_matrix=True,
                keywords={"NMGY": 0.00512, "BUNIT": "nanomaggy", "EXPTIME": 53.907456},
            )
            self.serve_fits(fake, self.image_path(get_filter(f"SDSS_{band}")), frame, "bz2")

    def install_no_coverage(self, fake: FakeService) -> None:
        fake.route(self.query_path, Reply(200, f"#Table1\n{self.columns}\n"))

    def urls(self, fake: FakeService) -> dict[str, str]:
        return {
            "sdss_sql": fake.url(self.query_path),
            "sdss_frames": fake.url("/sas/dr17/eboss/photoObj/frames"),
        }

    def client(self, fake: FakeService, http: ServiceHttp) -> SdssCutouts:
        urls = self.urls(fake)
        return SdssCutouts(
            http, sql_url=urls["sdss_sql"], frames_url=urls["sdss_frames"], pause_before_frame_s=0
        )


def _text_column(values: list[str]) -> np.ndarray:
    return np.array(values, dtype="U200") if values else np.array([], dtype="U200")


class LegacySurveyWorld(SurveyWorld):
    survey = "DES"
    spec = get_filter("DES_g")
    query_path = "/sia/ls_dr10"
    expected_keywords = {"EXPTIME": 3.0, "BUNIT": "nanomaggy", "MAGZERO": 22.5}
    depth_value = 3.0

    def _records(self, release: str, bands: str = "grz") -> dict[str, np.ndarray]:
        urls, bandpasses = [], []
        for band in bands:
            for product in ("image", "depth", "invvar"):
                urls.append(
                    f"{self.base_url}/files/{release}/legacysurvey-1501p022-{product}-{band}.fits"
                )
                bandpasses.append(band)
        return {"access_url": _text_column(urls), "obs_bandpass": _text_column(bandpasses)}

    def image_path(self, spec: FilterSpec) -> str:
        return f"/files/dr10/legacysurvey-1501p022-image-{spec.band}.fits"

    def install(self, fake: FakeService) -> None:
        self.base_url = fake.base_url

        def sia(release: str):
            def answer(request: FakeRequest) -> Reply:
                assert request.query["VERB"] == "2"
                ra, dec = (float(v) for v in request.query["POS"].split(","))
                assert (ra, dec) == (RA, DEC)
                return Reply(
                    200, votable_bytes(self._records(release)), {"Content-Type": "text/xml"}
                )

            return answer

        fake.route("/sia/ls_dr10", sia("dr10"))
        fake.route("/sia/ls_dr9", Reply(200, votable_bytes(self._records("dr9", bands=""))))
        for band in "grz":
            image = sky_image(
                RA, DEC, pixel_arcsec=0.262, shape=(240, 240),
                keywords={"BUNIT": "nanomaggy", "MAGZERO": 22.5},
            )  # fmt: skip
            depth = sky_image(RA, DEC, pixel_arcsec=0.262, shape=(240, 240), fill=self.depth_value)
            self.serve_fits(fake, f"/files/dr10/legacysurvey-1501p022-image-{band}.fits", image)
            self.serve_fits(fake, f"/files/dr10/legacysurvey-1501p022-depth-{band}.fits", depth)

    def install_no_coverage(self, fake: FakeService) -> None:
        empty = votable_bytes(self._records("dr10", bands=""))
        fake.route("/sia/ls_dr10", Reply(200, empty))
        fake.route("/sia/ls_dr9", Reply(200, empty))

    def urls(self, fake: FakeService) -> dict[str, str]:
        return {
            "legacy_survey_sia": fake.url("/sia/ls_dr10"),
            "legacy_survey_sia_fallback": fake.url("/sia/ls_dr9"),
        }

    def client(self, fake: FakeService, http: ServiceHttp) -> LegacySurveyCutouts:
        urls = self.urls(fake)
        return LegacySurveyCutouts(
            http, sia_urls=(urls["legacy_survey_sia"], urls["legacy_survey_sia_fallback"])
        )


class GalexWorld(SurveyWorld):
    survey = "GALEX"
    spec = get_filter("GALEX_NUV")
    query_path = "/api/v0/invoke"
    expected_keywords = {"EXPTIME": 1650.0, "TELESCOP": "GALEX"}
    fields = ["obs_collection", "filters", "s_ra", "s_dec", "t_exptime", "dataURL", "obs_id"]

    def rows(self, band: str) -> list[dict]:
        letter = band[0].lower()
        url = f"{self.base_url}/galex/AIS_1_sg01-{letter}d-cnt.fits.gz"
        base = {"obs_collection": "GALEX", "filters": band}
        return [
            {**base, "s_ra": RA + 0.7, "s_dec": DEC, "t_exptime": 9000.0,
             "dataURL": f"{self.base_url}/galex/far-{letter}d-int.fits.gz", "obs_id": "far"},
            {**base, "s_ra": RA, "s_dec": DEC, "t_exptime": 8000.0,
             "dataURL": f"{self.base_url}/galex/preview-{letter}d.jpeg", "obs_id": "jpeg"},
            {**base, "s_ra": RA + 0.1, "s_dec": DEC, "t_exptime": 100.0,
             "dataURL": f"{self.base_url}/galex/short-{letter}d-int.fits.gz", "obs_id": "short"},
            {**base, "s_ra": RA + 0.05, "s_dec": DEC, "t_exptime": 1650.0,
             "dataURL": url, "obs_id": "deep"},
        ]  # fmt: skip

    def reply(self, data: list[dict]) -> Reply:
        body = {
            "status": "COMPLETE",
            "msg": "",
            "fields": [{"name": name, "type": "string"} for name in self.fields],
            "data": data,
            "paging": {"page": 1, "pageSize": len(data), "rows": len(data)},
        }
        return Reply(200, json.dumps(body), {"Content-Type": "application/json"})

    def _invoke(self, request: FakeRequest) -> Reply:
        mast_request = json.loads(request.form["request"])
        assert mast_request["service"] == "Mast.Caom.Filtered.Position"
        filters = {f["paramName"]: f["values"] for f in mast_request["params"]["filters"]}
        assert filters["obs_collection"] == ["GALEX"]
        ra, dec, radius = (float(v) for v in mast_request["params"]["position"].split(","))
        assert (ra, dec, radius) == (RA, DEC, 0.2)
        return self.reply(self.rows(filters["filters"][0]))

    def image_path(self, spec: FilterSpec) -> str:
        return f"/galex/AIS_1_sg01-{spec.band[0].lower()}d-int.fits.gz"

    def install(self, fake: FakeService) -> None:
        self.base_url = fake.base_url
        fake.route(self.query_path, self._invoke)
        for band in ("NUV", "FUV"):
            image = sky_image(
                RA + 0.004, DEC, pixel_arcsec=1.5, shape=(80, 80), keywords={"TELESCOP": "GALEX"}
            )
            self.serve_fits(fake, self.image_path(get_filter(f"GALEX_{band}")), image, "gzip")

    def install_no_coverage(self, fake: FakeService) -> None:
        fake.route(self.query_path, self.reply([]))

    def urls(self, fake: FakeService) -> dict[str, str]:
        return {"mast_invoke": fake.url(self.query_path)}

    def client(self, fake: FakeService, http: ServiceHttp) -> GalexCutouts:
        return GalexCutouts(http, mast_url=self.urls(fake)["mast_invoke"])


class WiseWorld(SurveyWorld):
    survey = "WISE"
    spec = get_filter("WISE_W2")
    query_path = "/SIA"
    expected_keywords = {"EXPTIME": 7.7, "MAGZP": 19.5, "BUNIT": "DN"}
    columns = "s_ra,s_dec,access_url,t_exptime,cloud_access,energy_bandpassname"

    def image_path(self, spec: FilterSpec) -> str:
        return f"/ibe/data/wise/allwise/p3am_cdd/15/1501p022/1501p022_ac51-{spec.band.lower()}-int-3.fits"

    def _sia(self, request: FakeRequest) -> Reply:
        assert request.query["COLLECTION"] == "wise_allwise"
        assert request.query["POS"] == f"circle {RA} {DEC} 0.002777"
        assert request.query["RESPONSEFORMAT"] == "CSV"
        band = {"3.4e-6": "W1", "4.6e-6": "W2", "1.2e-5": "W3", "2.2e-5": "W4"}[
            request.query["BAND"]
        ]
        url = self.base_url + self.image_path(get_filter(f"WISE_{band}"))
        cloud = '{"aws": {"bucket_name": "nasa-irsa-wise", "key": "wise/allwise/a,b.fits"}}'
        return Reply(
            200,
            f"{self.columns}\n{RA},{DEC},{url},7.7,{cloud},{band}\n"
            f"{RA},{DEC},{url.replace('-int-', '-unc-')},7.7,{cloud},{band}\n",
            {"Content-Type": "text/csv"},
        )

    def install(self, fake: FakeService) -> None:
        self.base_url = fake.base_url
        fake.route(self.query_path, self._sia)
        for band in ("W1", "W2", "W3", "W4"):
            image = sky_image(
                RA - 0.003, DEC + 0.002, pixel_arcsec=1.375, shape=(90, 90),
                keywords={"MAGZP": 19.5, "BUNIT": "DN"},
            )  # fmt: skip
            self.serve_fits(fake, self.image_path(get_filter(f"WISE_{band}")), image)

    def install_no_coverage(self, fake: FakeService) -> None:
        fake.route(self.query_path, Reply(200, self.columns + "\n"))

    def urls(self, fake: FakeService) -> dict[str, str]:
        return {"wise_sia": fake.url(self.query_path)}

    def client(self, fake: FakeService, http: ServiceHttp) -> WiseCutouts:
        return WiseCutouts(http, sia_url=self.urls(fake)["wise_sia"])


TWOMASS_VOTABLE = """<?xml version="1.0"?>
<VOTABLE version="1.1">
<RESOURCE type="results">
<INFO name="QUERY_STATUS" value="OK"/>
<TABLE>
<FIELD name="name" datatype="char" arraysize="*" ucd="VOX:Image_Title"/>
<FIELD name="band" datatype="char" arraysize="*"/>
<FIELD name="center_ra" datatype="double" unit="deg"/>
<FIELD name="center_dec" datatype="double" unit="deg"/>
<FIELD name="download" datatype="char" arraysize="*" ucd="VOX:Image_AccessReference"/>
<DATA><TABLEDATA>
{rows}</TABLEDATA></DATA>
</TABLE>
</RESOURCE>
</VOTABLE>
"""


class TwoMassWorld(SurveyWorld):
    survey = "2MASS"
    spec = get_filter("2MASS_H")
    query_path = "/cgi-bin/2MASS/IM/nph-im_sia"
    expected_keywords = {"MAGZP": 20.8, "BUNIT": "DN"}

    def image_path(self, spec: FilterSpec, tile: str = "0010032") -> str:
        return (
            f"/ibe/data/twomass/allsky/allsky/991206s/s001/image/{spec.band.lower()}i{tile}.fits.gz"
        )

    def votable(self, with_rows: bool = True) -> str:
        rows = ""
        if with_rows:
            for band in "jhk":
                # An atlas tile that misses the position, then one that contains it.
                for tile, dec in (("0010031", DEC + 0.3), ("0010032", DEC)):
                    url = self.base_url + self.image_path(get_filter(f"2MASS_{band.upper()}"), tile)
                    rows += (
                        f"<TR><TD><![CDATA[2MASS All-Sky Atlas Image {band}]]></TD>"
                        f"<TD><![CDATA[{band.upper()}]]></TD><TD>{RA}</TD><TD>{dec}</TD>"
                        f"<TD><![CDATA[{url}]]></TD></TR>\n"
                    )
        return TWOMASS_VOTABLE.format(rows=rows)

    def install(self, fake: FakeService) -> None:
        self.base_url = fake.base_url

        def sia(request: FakeRequest) -> Reply:
            assert request.query["POS"] == f"{RA},{DEC}"
            assert request.query["SIZE"] == "0.01"
            return Reply(200, self.votable(), {"Content-Type": "text/xml"})

        fake.route(self.query_path, sia)
        for band in "JHK":
            spec = get_filter(f"2MASS_{band}")
            for tile, dec in (("0010031", DEC + 0.3), ("0010032", DEC)):
                image = sky_image(
                    RA, dec, pixel_arcsec=1.0, shape=(120, 80),
                    keywords={"MAGZP": 20.8, "BUNIT": "DN"},
                )  # fmt: skip
                self.serve_fits(fake, self.image_path(spec, tile), image, "gzip")

    def install_no_coverage(self, fake: FakeService) -> None:
        fake.route(self.query_path, Reply(200, self.votable(with_rows=False)))

    def urls(self, fake: FakeService) -> dict[str, str]:
        return {"twomass_sia": fake.url(self.query_path)}

    def client(self, fake: FakeService, http: ServiceHttp) -> TwoMassCutouts:
        return TwoMassCutouts(http, sia_url=self.urls(fake)["twomass_sia"])


WORLDS: dict[str, type[SurveyWorld]] = {
    "PanSTARRS": PanstarrsWorld,
    "SDSS": SdssWorld,
    "DES": LegacySurveyWorld,
    "GALEX": GalexWorld,
    "WISE": WiseWorld,
    "2MASS": TwoMassWorld,
}


def expected_size(spec: FilterSpec, fov_arcsec: float = FOV_ARCSEC) -> int:
    return cutout_size_pixels(spec, fov_arcsec)
