"""Moving transients between instances: export to an archive, import archives all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from blast_pipeline.db.task_register import initialise_registers
from blast_pipeline.db.transients import DuplicateTransient, find_transient, get_transient
from blast_pipeline.export.archive import (
    StagedArchive,
    discard,
    install_files,
    remove_files,
    stage_archive,
    write_archive,
)
from blast_pipeline.export.dataset import DatasetError, export_dataset, import_dataset
from blast_pipeline.runners.execution import refresh_progress
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.services import PipelineServices


def export_archive(services: PipelineServices, name: str, target: BinaryIO | Path) -> int:
    """Write ``name``'s archive; returns the number of data files in it."""
    with services.database.session() as session:
        dataset = export_dataset(session, get_transient(session, name))
    return write_archive(target, dataset, services.data_root)


def import_archives(
    services: PipelineServices, graph: WorkflowGraph, paths: Sequence[Path]
) -> list[str]:
    """Import every archive (or ``.json`` dataset) or none: a transient that exists, a bad
    file or a bad dataset raises before anything is kept. Returns the imported names."""
    data_root = services.data_root
    staged: list[StagedArchive] = []
    installed: list[Path] = []
    try:
        for path in paths:
            staged.append(stage_archive(Path(path), data_root))
        seen: dict[str, str] = {}
        for archive in staged:
            if archive.name in seen:
                raise DatasetError(
                    f"{archive.source}: transient {archive.name!r} is also in {seen[archive.name]}"
                )
            seen[archive.name] = archive.source
        with services.database.session() as session:
            for archive in staged:
                if find_transient(session, archive.name) is not None:
                    raise DuplicateTransient(
                        f"{archive.source}: transient {archive.name!r} is already in the Blast "
                        "database; nothing imported"
                    )
                try:
                    transient = import_dataset(session, archive.dataset)
                except DatasetError as exc:
                    raise DatasetError(f"{archive.source}: {exc}") from None
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise DatasetError(
                        f"{archive.source}: malformed dataset ({type(exc).__name__}: {exc})"
                    ) from None
                initialise_registers(session, transient, graph.task_names)
                refresh_progress(session, transient, graph)
            session.flush()
            installed = install_files(staged, data_root)
        return [a.name for a in staged]
    except BaseException:
        remove_files(installed)
        raise
    finally:
        discard(staged)
