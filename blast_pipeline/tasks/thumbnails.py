"""Generate thumbnail: a PNG of the best cutout with the transient and host marked (1.5)."""

from __future__ import annotations

import base64

from photutils.aperture import SkyAperture
from sqlalchemy import select

from blast_pipeline.db.models import Aperture, Cutout, Transient
from blast_pipeline.files import relative_to_root, thumbnail_path
from blast_pipeline.runners.base import MarkdownText, TaskContext, TransientTaskRunner
from blast_pipeline.science.thumbnails import render_thumbnail_png, shrink_png
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.apertures import (
    global_aperture_name,
    local_aperture_name,
    sky_aperture_of,
)
from blast_pipeline.tasks.cutouts_io import best_cutout_filter, cutouts_with_files, read_image

#: Size of the copy embedded in the Dagster UI (the file on disk is up to 800 px).
UI_PREVIEW_PIXELS = 320


def png_markdown(path, alt: str) -> str:
    """Markdown embedding a PNG, for a ``MetadataValue.md`` shown in the Dagster UI."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})"


def render_transient_thumbnail(
    transient: Transient,
    context: TaskContext,
    label: str,
    apertures=(),
    cropped: bool = False,
) -> str:
    """Render the best cutout of ``transient``; returns a status message.

    ``apertures`` is a sequence of ``(sky aperture, colour, label)`` or a callable taking the
    chosen cutout and returning one; ``cropped`` shows the cropped copy when there is one.
    """
    data_root = context.services.data_root
    available = cutouts_with_files(context.session, transient.id)
    filter_name = best_cutout_filter(available)
    if filter_name is None:
        context.add_metadata(reason="no cutout in the thumbnail filters")
        return "not enough filters"
    image = read_image(data_root, available[filter_name], filter_name, cropped=cropped)
    if callable(apertures):
        apertures = apertures(available[filter_name])
    host = (transient.host.ra_deg, transient.host.dec_deg) if transient.host else None
    path = thumbnail_path(data_root, transient.name, label)
    render_thumbnail_png(
        image.data,
        image.wcs,
        path,
        transient=(transient.ra_deg, transient.dec_deg),
        host=host,
        apertures=apertures,
        title=f"{transient.name} {filter_name}",
    )
    preview = path.with_suffix(".preview.png")
    shrink_png(path, preview, UI_PREVIEW_PIXELS)
    context.add_metadata(
        thumbnail=relative_to_root(data_root, path),
        filter=filter_name,
        preview=MarkdownText(png_markdown(preview, f"{transient.name} {label}")),
    )
    preview.unlink()
    return PROCESSED


class GenerateThumbnail(TransientTaskRunner):
    """PNG of the best cutout with the transient (and host, when known) marked."""

    task_name = "Generate thumbnail"
    group = "transient_images"

    def _prerequisites(self) -> dict[str, str]:
        return {"Cutout download": "processed"}

    def _clean(self, session, transient: Transient, data_root) -> None:
        thumbnail_path(data_root, transient.name, "cutout").unlink(missing_ok=True)

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        return render_transient_thumbnail(transient, context, "cutout")


def final_apertures(session, transient: Transient):
    """The global aperture of the shown cutout (else the primary) in green, the local in blue."""

    def pick(cutout: Cutout) -> list[tuple[SkyAperture, str, str]]:
        shown = []
        rows = session.scalars(select(Aperture).where(Aperture.transient_id == transient.id)).all()
        by_name = {row.name: row for row in rows}
        global_row = by_name.get(global_aperture_name(cutout)) or next(
            (r for r in rows if r.type == "global" and r.is_primary), None
        )
        if global_row is not None:
            shown.append((sky_aperture_of(global_row), "green", "global aperture"))
        local_row = by_name.get(local_aperture_name(transient))
        if local_row is not None:
            shown.append((sky_aperture_of(local_row), "blue", "local aperture"))
        return shown

    return pick


class GenerateThumbnailFinal(TransientTaskRunner):
    """The thumbnail again, on the cropped image, with the global (green) and local (blue)
    apertures drawn."""

    task_name = "Generate thumbnail final"
    group = "transient_images"

    def _prerequisites(self) -> dict[str, str]:
        return {"Crop transient images": "processed", "Generate thumbnail": "processed"}

    def _clean(self, session, transient: Transient, data_root) -> None:
        thumbnail_path(data_root, transient.name, "final").unlink(missing_ok=True)

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        apertures = final_apertures(context.session, transient)
        return render_transient_thumbnail(transient, context, "final", apertures, cropped=True)
