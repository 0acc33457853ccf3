"""Generate thumbnail: a PNG of the best cutout with the transient and host marked (1.5)."""

from __future__ import annotations

import base64

from blast_pipeline.db.models import Transient
from blast_pipeline.files import relative_to_root, thumbnail_path
from blast_pipeline.runners.base import MarkdownText, TaskContext, TransientTaskRunner
from blast_pipeline.science.thumbnails import render_thumbnail_png
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.tasks.cutouts_io import best_cutout_filter, cutouts_with_files, read_image

#: Size of the copy embedded in the Dagster UI (the file on disk is up to 800 px).
UI_PREVIEW_PIXELS = 320


def png_markdown(path, alt: str) -> str:
    """Markdown embedding a PNG, for a ``MetadataValue.md`` shown in the Dagster UI."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})"


def render_transient_thumbnail(
    transient: Transient, context: TaskContext, label: str, apertures=()
) -> str:
    """Render the best cutout of ``transient``; returns a status message."""
    data_root = context.services.data_root
    available = cutouts_with_files(context.session, transient.id)
    filter_name = best_cutout_filter(available)
    if filter_name is None:
        context.add_metadata(reason="no cutout in the thumbnail filters")
        return "not enough filters"
    image = read_image(data_root, available[filter_name], filter_name)
    host = (transient.host.ra_deg, transient.host.dec_deg) if transient.host else None
    path = thumbnail_path(data_root, transient.name, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = dict(transient=(transient.ra_deg, transient.dec_deg), host=host, apertures=apertures)
    render_thumbnail_png(
        image.data, image.wcs, path, title=f"{transient.name} {filter_name}", **kwargs
    )
    preview = path.with_suffix(".preview.png")
    render_thumbnail_png(image.data, image.wcs, preview, size_pixels=UI_PREVIEW_PIXELS, **kwargs)
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

    def _prerequisites(self) -> dict[str, str]:
        return {"Cutout download": "processed"}

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        return render_transient_thumbnail(transient, context, "cutout")
