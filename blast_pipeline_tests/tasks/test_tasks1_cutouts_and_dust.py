"""Cutout download and the two MWEBV tasks, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import func, select
from task_fakes import FakeCutouts, add, graph, make_services

from blast_pipeline.db.models import Cutout, Host, Transient
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.runners.execution import execute_transient_task
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.sources.base import CutoutDownloadError
from blast_pipeline.tasks.cutout_download import CutoutDownload
from blast_pipeline.tasks.fits_storage import image_hdu
from blast_pipeline.tasks.mwebv import HostMWEBV, TransientMWEBV


def _cutouts(services, name):
    with services.database.session() as session:
        transient = get_transient(session, name)
        rows = session.scalars(select(Cutout).where(Cutout.transient_id == transient.id)).all()
        return {c.name.split("_", 1)[1]: (c.message, c.fits_path) for c in rows}


def test_cutout_download_stores_images_and_no_image_found(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.cutouts = FakeCutouts(no_image=("GALEX",))
    add(services, "2024cut")
    outcome = execute_transient_task(CutoutDownload(), "2024cut", services, graph())
    assert outcome.status == "processed"
    cutouts = _cutouts(services, "2024cut")
    assert len(cutouts) == 24
    assert cutouts["GALEX_NUV"] == ("No image found", None)
    message, path = cutouts["SDSS_r"]
    assert message == "" and path == "cutouts/2024cut/SDSS/SDSS_r.fits"
    with fits.open(services.data_root / path) as hdul:
        assert image_hdu(hdul).data.shape[0] > 10
    assert outcome.metadata["downloaded"] == 22 and outcome.metadata["no_image_found"] == 2


def read_image(path):
    """The stored cutout's pixels (stored files keep the image in HDU 1)."""
    with fits.open(path) as hdul:
        return next(h.data for h in hdul if h.data is not None).copy()


def _reset(services, name, scope="all"):
    """What reprocess ("all") or the manual retrigger ("manual") does before a re-run."""
    with services.database.session() as session:
        reset_and_request(session, graph(), get_transient(session, name), services.data_root, scope)


def test_rerun_does_not_download_again_nor_duplicate_rows(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    source = FakeCutouts()
    services.cutouts = source
    add(services, "2024again")
    execute_transient_task(CutoutDownload(), "2024again", services, graph())
    first_calls = len(source.calls)
    # a processed task does not run again (its own status must be "not processed")
    assert execute_transient_task(CutoutDownload(), "2024again", services, graph()).status is None
    assert len(source.calls) == first_calls
    _reset(services, "2024again")
    execute_transient_task(CutoutDownload(), "2024again", services, graph())
    assert len(source.calls) == first_calls  # everything cached (files and "No image found")
    with services.database.session() as session:
        assert session.scalar(select(func.count(Cutout.id))) == 24
    # a deleted file is fetched again
    (services.data_root / _cutouts(services, "2024again")["WISE_W1"][1]).unlink()
    _reset(services, "2024again")
    execute_transient_task(CutoutDownload(), "2024again", services, graph())
    assert source.calls[first_calls:] == ["WISE_W1"]


class _ConcurrencyProbe(FakeCutouts):
    """Records how many fetches run at once."""

    def __init__(self, parallel_fetches=None):
        super().__init__(no_image=())
        if parallel_fetches is not None:
            self.parallel_fetches = parallel_fetches
        self._lock = threading.Lock()
        self.running = self.most_at_once = 0

    def fetch_cutout(self, ra_deg, dec_deg, spec, fov_arcsec):
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        return super().fetch_cutout(ra_deg, dec_deg, spec, fov_arcsec)


@pytest.mark.parametrize(("parallel_fetches", "expected"), [(None, 8), (1, 1), (3, 3)])
def test_download_fetches_as_many_at_once_as_the_source_says(
    tmp_path, database_url, parallel_fetches, expected
):
    services = make_services(tmp_path, database_url)
    services.cutouts = source = _ConcurrencyProbe(parallel_fetches)
    add(services, "2024par")
    outcome = execute_transient_task(CutoutDownload(), "2024par", services, graph())
    assert outcome.status == "processed" and len(source.calls) == 24
    assert source.most_at_once == expected


def test_service_error_fails_the_task_but_keeps_the_other_filters(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    source = FakeCutouts(failing=("WISE_W2",), fail_times=1)
    services.cutouts = source
    add(services, "2024flaky")
    with pytest.raises(CutoutDownloadError, match="WISE_W2"):
        execute_transient_task(CutoutDownload(), "2024flaky", services, graph())
    with services.database.session() as session:
        statuses = task_statuses(session, get_transient(session, "2024flaky"))
    assert statuses["Cutout download"] == "failed"
    cutouts = _cutouts(services, "2024flaky")
    assert cutouts["WISE_W2"] == ("Download error", None)
    assert cutouts["WISE_W1"][0] == ""
    # the retry only asks for the failed filter
    n = len(source.calls)
    _reset(services, "2024flaky", "manual")
    outcome = execute_transient_task(CutoutDownload(), "2024flaky", services, graph())
    assert outcome.status == "processed"
    assert source.calls[n:] == ["WISE_W2"]


def _write_sfd(map_dir, value_at):
    """A 64x64 SFD-format pair whose E(B-V) is ``value_at(l, b)`` (science-notes section 2)."""
    map_dir.mkdir(parents=True, exist_ok=True)
    n = 64
    for pole, s in (("ngp", 1), ("sgp", -1)):
        lam = n / 2
        cd = np.degrees(np.sqrt(2.0)) / lam
        h = fits.Header()
        h.update(CTYPE1="GLON-ZEA", CTYPE2="GLAT-ZEA", CRPIX1=n / 2 + 0.5, CRPIX2=n / 2 + 0.5)
        h.update(CRVAL1=90.0 * s, CRVAL2=90.0 * s, CD1_1=-cd * s, CD1_2=0.0, CD2_1=0.0)
        h.update(CD2_2=cd * s, LONPOLE=180.0, LAM_NSGP=s, LAM_SCAL=lam)
        yy, xx = np.mgrid[0:n, 0:n]
        lon, lat = WCS(h).wcs_pix2world(xx, yy, 0)
        data = value_at(lon, lat).astype(np.float32)
        data[~np.isfinite(data)] = 0
        fits.PrimaryHDU(data, header=h).writeto(map_dir / f"SFD_dust_4096_{pole}.fits")
    return map_dir


def test_mwebv_matches_a_direct_sfdquery_call(tmp_path, database_url):
    from dustmaps.sfd import SFDQuery

    map_dir = _write_sfd(tmp_path / "sfd", lambda lon, lat: 0.02 + 0.05 / (1 + np.abs(lat) / 10))
    services = make_services(tmp_path, database_url, dust_map_dir=map_dir)
    add(services, "2024dust", ra=150.0, dec=2.0, processed=["Cutout download"])
    outcome = execute_transient_task(TransientMWEBV(), "2024dust", services, graph())
    assert outcome.status == "processed"
    direct = 0.86 * float(SFDQuery(map_dir=str(map_dir))(SkyCoord(150 * u.deg, 2 * u.deg)))
    with services.database.session() as session:
        stored = get_transient(session, "2024dust").milkyway_dust_reddening
    assert stored == pytest.approx(direct, rel=1e-6) and stored > 0


def test_host_mwebv_and_the_no_mwebv_statuses(tmp_path, database_url):
    map_dir = _write_sfd(tmp_path / "sfd", lambda lon, lat: 0.03 + 0 * lat)
    services = make_services(tmp_path, database_url, dust_map_dir=map_dir)
    done = ["Cutout download", "Transient MWEBV", "Host match", "Host information"]
    add(services, "2024nohostdust", processed=done)
    assert execute_transient_task(HostMWEBV(), "2024nohostdust", services, graph()).status == (
        "no host MWEBV"
    )
    add(services, "2024hostdust", processed=done)
    with services.database.session() as session:
        transient = get_transient(session, "2024hostdust")
        transient.host = Host(ra_deg=150.001, dec_deg=2.0, name="Jtest")
    outcome = execute_transient_task(HostMWEBV(), "2024hostdust", services, graph())
    assert outcome.status == "processed"
    with services.database.session() as session:
        host = session.scalar(select(Host))
        assert host.milkyway_dust_reddening == pytest.approx(0.86 * 0.03, rel=1e-3)
    # a map folder without files cannot answer
    broken = make_services(tmp_path / "b", database_url, dust_map_dir=tmp_path / "empty")
    add(broken, "2024nomap", processed=["Cutout download"])
    outcome = execute_transient_task(TransientMWEBV(), "2024nomap", broken, graph())
    assert outcome.status == "no transient MWEBV"
    assert "not found" in outcome.metadata["reason"]
    with broken.database.session() as session:
        assert session.scalar(select(Transient).where(Transient.name == "2024nomap")).progress < 100


def test_reprocess_redownload_forgets_the_stored_cutouts(tmp_path, database_url, monkeypatch):
    from blast_pipeline.cli import main

    services = make_services(tmp_path, database_url)
    source = FakeCutouts()
    services.cutouts = source
    add(services, "2024fresh")
    execute_transient_task(CutoutDownload(), "2024fresh", services, graph())
    files = list((services.data_root / "cutouts" / "2024fresh").rglob("*.fits"))
    assert files
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_DATABASE_URL", database_url)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["reprocess", "2024fresh", "--from", "Host match", "--redownload"]) == 2
    assert main(["reprocess", "2024fresh", "--redownload"]) == 0
    assert not any(f.exists() for f in files)
    with services.database.session() as session:
        assert session.scalar(select(func.count(Cutout.id))) == 0
    n = len(source.calls)
    execute_transient_task(CutoutDownload(), "2024fresh", services, graph())
    assert len(source.calls) - n == 24  # everything asked again


class _BadImages(FakeCutouts):
    """A service that answers an all-NaN image for one filter and an all-zero one for another."""

    def fetch_cutout(self, ra_deg, dec_deg, spec, fov_arcsec):
        hdul = super().fetch_cutout(ra_deg, dec_deg, spec, fov_arcsec)
        if spec.name == "SDSS_u":
            hdul[0].data[:] = np.nan
        if spec.name == "SDSS_g":
            hdul[0].data[:] = 0.0
        return hdul


def test_bad_images_are_not_stored_as_cutouts(tmp_path, database_url):
    services = make_services(tmp_path, database_url)
    services.cutouts = _BadImages(no_image=())
    add(services, "2024nan")
    outcome = execute_transient_task(CutoutDownload(), "2024nan", services, graph())
    assert outcome.status == "processed" and outcome.metadata["downloaded"] == 22
    bad = outcome.metadata["bad_images"]
    assert bad["SDSS_u"] == "cutouts/2024nan/SDSS/SDSS_u.fits has no finite pixels"
    assert bad["SDSS_g"] == "cutouts/2024nan/SDSS/SDSS_g.fits is all zeros"
    cutouts = _cutouts(services, "2024nan")
    assert cutouts["SDSS_u"] == ("Bad image", None) and cutouts["SDSS_g"] == ("Bad image", None)
    assert not (services.data_root / "cutouts/2024nan/SDSS/SDSS_u.fits").exists()
    # a bad image is asked for again on the next run (after a reset, as the task is processed)
    n = len(services.cutouts.calls)
    _reset(services, "2024nan")
    execute_transient_task(CutoutDownload(), "2024nan", services, graph())
    assert sorted(services.cutouts.calls[n:]) == ["SDSS_g", "SDSS_u"]


@pytest.mark.parametrize("damage", ["empty", "truncated", "no_wcs"])
def test_a_bad_stored_cutout_is_fetched_again(tmp_path, database_url, damage, caplog):
    services = make_services(tmp_path, database_url)
    services.cutouts = source = FakeCutouts()
    add(services, "2024bad")
    execute_transient_task(CutoutDownload(), "2024bad", services, graph())
    path = services.data_root / _cutouts(services, "2024bad")["WISE_W1"][1]
    good = path.read_bytes()
    good_pixels = read_image(path)
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    else:
        data = fits.getdata(path)
        fits.PrimaryHDU(data).writeto(path, overwrite=True)
    n = len(source.calls)
    _reset(services, "2024bad")
    outcome = execute_transient_task(CutoutDownload(), "2024bad", services, graph())
    assert source.calls[n:] == ["WISE_W1"]
    assert outcome.metadata["downloaded"] == 1
    assert "cutouts/2024bad/WISE/WISE_W1.fits" in caplog.text
    np.testing.assert_array_equal(read_image(path), good_pixels)  # refetched, same pixels
