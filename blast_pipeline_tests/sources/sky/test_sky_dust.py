"""The simulated dust map: SFD file format read by dustmaps, analytic truth, extinction law."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from blast_pipeline.sources.sky.dust_map import sfd_ebv, sfd_ebv_at, write_sfd_files
from blast_pipeline.sources.sky.extinction import calzetti_k, ccm89_a_over_ebv


@pytest.fixture(scope="module")
def sfd_query(small_sky):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from dustmaps.sfd import SFDQuery

        return SFDQuery(map_dir=str(small_sky.write_dust_map()))


def test_dust_map_round_trips_through_dustmaps_sfdquery(small_sky, sfd_query):
    transients = small_sky.transients()
    ra = np.array([t.ra_deg for t in transients])
    dec = np.array([t.dec_deg for t in transients])
    measured = sfd_query(SkyCoord(ra, dec, unit="deg"))
    truth = np.array([small_sky.truth(t.name)["ebv_sfd_transient"] for t in transients])
    assert np.all(truth > 0.015)
    assert np.max(np.abs(measured / truth - 1)) < 0.01
    host_truth = [
        (small_sky.field(t.name).host, small_sky.truth(t.name)["ebv_sfd_host"])
        for t in transients[:10]
        if small_sky.field(t.name).host is not None
    ]
    for host, value in host_truth:
        query = sfd_query(SkyCoord(host.ra_deg, host.dec_deg, unit="deg"))
        assert float(query) == pytest.approx(value, rel=0.01)


def test_truth_ebv_is_the_analytic_map_at_the_transient(small_sky):
    transient = small_sky.transients()[3]
    truth = small_sky.truth(transient.name)
    galactic = SkyCoord(transient.ra_deg, transient.dec_deg, unit="deg").galactic
    assert truth["ebv_sfd_transient"] == pytest.approx(
        float(sfd_ebv(galactic.l.deg, galactic.b.deg)), rel=1e-9
    )
    assert truth["galactic_b_deg"] == pytest.approx(galactic.b.deg, abs=1e-8)
    assert abs(truth["galactic_b_deg"]) >= 10.0


def test_dust_map_files_and_idempotent_write(small_sky, tmp_path):
    folder = small_sky.write_dust_map()
    assert folder == small_sky.dust_map_dir
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"SFD_dust_4096_ngp.fits", "SFD_dust_4096_sgp.fits"}
    assert small_sky.write_dust_map() == folder
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    header = fits.getheader(folder / "SFD_dust_4096_sgp.fits")
    assert header["LAM_NSGP"] == -1 and header["CTYPE1"] == "GLON-ZEA"
    write_sfd_files(tmp_path)
    assert (tmp_path / "SFD_dust_4096_ngp.fits").read_bytes() == before["SFD_dust_4096_ngp.fits"]


def test_analytic_dust_is_higher_near_the_plane():
    assert sfd_ebv(0.0, 10.0) > 3 * sfd_ebv(0.0, 80.0)
    assert np.all(sfd_ebv(np.linspace(0, 360, 50), 60.0) > 0)
    assert float(sfd_ebv_at(266.4, -28.9)) > 0.1  # the Galactic centre direction


def test_extinction_laws():
    assert float(ccm89_a_over_ebv(5495.0)) == pytest.approx(3.1, abs=0.02)
    a = ccm89_a_over_ebv(np.array([1549.0, 2305.0, 4810.0, 6156.0, 12350.0, 33526.0]))
    assert a[1] > a[0] > a[2] > a[3] > a[4] > a[5] > 0  # 2175 A bump, then falling to the IR
    assert a[0] == pytest.approx(8.1, abs=0.3)
    with pytest.raises(ValueError, match="CCM89"):
        ccm89_a_over_ebv(500.0)
    k = calzetti_k(np.array([1500.0, 5500.0, 22000.0, 50000.0]))
    assert k[0] > k[1] > k[2] >= k[3] >= 0
    assert float(k[1]) == pytest.approx(4.05, abs=0.1)
