"""Cutout download: the 24 survey images around the transient (reference 1.4)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from astropy.io import fits
from sqlalchemy import delete, select

from blast_pipeline.db.models import Cutout, Filter, Transient
from blast_pipeline.files import cutout_path, relative_to_root, separate_crop_file
from blast_pipeline.runners.base import Retry, TaskContext, TransientTaskRunner
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.image_checks import file_problem, hdul_problem
from blast_pipeline.sources.base import CutoutDownloadError
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.fits_storage import image_hdu, write_image

NO_IMAGE_FOUND = "No image found"
DOWNLOAD_ERROR = "Download error"
#: A downloaded image that failed the checks of `hdul_problem` (fetched again next time).
BAD_IMAGE = "Bad image"
#: Parallel downloads per transient unless the source says (``parallel_fetches``); each
#: service also bounds its own concurrency.
MAX_PARALLEL_DOWNLOADS = 8


def _needs_download(cutout: Cutout | None, data_root: Path, log) -> bool:
    """Blast's caching: a stored usable file or a stored "No image found" is kept; errors and
    bad images are fetched again, and so is a stored file that fails `file_problem`."""
    if cutout is None or cutout.message in (DOWNLOAD_ERROR, BAD_IMAGE):
        return True
    if cutout.message == NO_IMAGE_FOUND:
        return False
    if not cutout.fits_path:
        return True
    problem = file_problem(data_root / cutout.fits_path)
    if problem is not None:
        log.warning(f"stored cutout {cutout.fits_path} {problem}: fetching it again")
    return problem is not None


class CutoutDownload(TransientTaskRunner):
    """Download the cutouts of every filter (0.1 deg, native pixels); "No image found" is not a
    failure, a service error fails the task after its retries."""

    task_name = "Cutout download"
    group = "transient_images"
    pool = "cutout_services"
    writes_files = True  # waits for free disk space first (runners/disk.py)
    retry = Retry(max_retries=2, delay_seconds=10.0)

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        source = context.services.cutouts
        if source is None:
            raise RuntimeError("no cutout source is configured (BLAST_SKY)")
        # A simulated sky builds the field of a transient it did not draw itself (sources/base).
        register = getattr(source, "register_transient", None)
        if register is not None:
            field = register(transient.name, transient.ra_deg, transient.dec_deg)
            if field != transient.name:
                context.add_metadata(simulated_field=field)
        session, data_root = context.session, context.services.data_root
        fov = context.services.settings.cutout_fov_arcsec
        filters = session.scalars(select(Filter).order_by(Filter.id)).all()
        stored = {
            c.filter_id: c
            for c in session.scalars(select(Cutout).where(Cutout.transient_id == transient.id))
        }
        todo = [f for f in filters if _needs_download(stored.get(f.id), data_root, context.log)]

        def fetch(row: Filter) -> tuple[Filter, fits.HDUList | None, Exception | None]:
            try:
                spec = get_filter(row.name)
                return (
                    row,
                    source.fetch_cutout(transient.ra_deg, transient.dec_deg, spec, fov),
                    None,
                )
            except Exception as exc:  # one filter's failure must not stop the others
                return row, None, exc

        parallel = max(1, int(getattr(source, "parallel_fetches", MAX_PARALLEL_DOWNLOADS)))
        with ThreadPoolExecutor(max_workers=min(parallel, max(len(todo), 1))) as pool:
            results = list(pool.map(fetch, todo))

        errors: list[str] = []
        bad: dict[str, str] = {}
        downloaded = no_image = 0
        for row, hdul, error in results:
            cutout = stored.get(row.id) or Cutout(
                name=f"{transient.name}_{row.name}", transient_id=transient.id, filter_id=row.id
            )
            session.add(cutout)
            if error is not None:
                cutout.fits_path, cutout.message = None, DOWNLOAD_ERROR
                errors.append(f"{row.name}: {error}")
            elif hdul is None:
                cutout.fits_path, cutout.message = None, NO_IMAGE_FOUND
                no_image += 1
            else:
                path = cutout_path(data_root, transient.name, get_filter(row.name))
                relative = relative_to_root(data_root, path)
                problem = hdul_problem(hdul)
                if problem is not None:  # no data is not an image: never stored as one
                    path.unlink(missing_ok=True)  # nor kept from an earlier download
                    cutout.fits_path, cutout.message = None, BAD_IMAGE
                    bad[row.name] = f"{relative} {problem}"
                    context.log.warning(f"{row.name}: downloaded cutout {relative} {problem}")
                    continue
                # checked in memory, written atomically: no need to read it back
                write_image(image_hdu(hdul), path)  # compressed where it pays (fits_storage.py)
                cutout.fits_path, cutout.message = relative, ""
                downloaded += 1
        context.add_metadata(
            downloaded=downloaded,
            no_image_found=no_image,
            kept_from_earlier=len(filters) - len(todo),
            download_errors=len(errors),
            bad_images=bad,
        )
        if errors:
            session.commit()  # keep what did download; a retry fetches only the rest
            raise CutoutDownloadError(
                f"{len(errors)} filter(s) failed for {transient.name}: " + "; ".join(errors)
            )
        return PROCESSED


def forget_cutouts(session, transient: Transient, data_root: Path) -> int:
    """Delete a transient's cutouts (rows, downloaded files and crops) so the next Cutout
    download fetches everything again; apertures on them go too (database cascade).
    Returns the number of cutouts removed."""
    rows = session.scalars(select(Cutout).where(Cutout.transient_id == transient.id)).all()
    for cutout in rows:
        for relative in (cutout.fits_path, separate_crop_file(cutout.cropped_path)):
            if relative:
                (data_root / relative).unlink(missing_ok=True)
    session.execute(delete(Cutout).where(Cutout.transient_id == transient.id))
    session.expire_all()
    return len(rows)
