"""Blast's ``.tar.gz`` transient archive: ``transient.json`` plus the transient's files, and its
all-or-nothing import.

A file stored at ``<kind>/<transient>/<rest>`` under the data root (``cutouts/``, ``cropped/``,
``thumbnails/``, ...) is the member ``<kind>/<rest>``, as Blast's ``cutouts/<survey>/<filter>.fits``;
the SED files (``sed_output/<transient>/``) are the members ``sed_data/<transient>_<type>...``, as
in Blast's archives (reference 4.3). Scratch folders are not archived.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from blast_pipeline.export.dataset import DatasetError, dataset_files
from blast_pipeline.names import validate_transient_name

DATASET_MEMBER = "transient.json"
#: Folders under the data root that hold temporary files, never results.
SCRATCH_KINDS = ("scratch",)
#: Data-root folder -> its folder in the archive, where Blast's name differs.
ARCHIVE_FOLDERS = {"sed_output": "sed_data"}
_DATA_FOLDERS = {member: kind for kind, member in ARCHIVE_FOLDERS.items()}
#: Import refuses archives whose members add up to more than this (bytes, uncompressed).
MAX_ARCHIVE_BYTES = 20 * 1024**3


def _kind_and_rest(path: str, name: str) -> tuple[str, PurePosixPath]:
    """``<kind>/<name>/<rest>`` -> (kind, rest); DatasetError for anything else."""
    pure = PurePosixPath(path)
    parts = pure.parts
    if (
        pure.is_absolute()
        or len(parts) < 3
        or parts[1] != name
        or any(p in ("", ".", "..") for p in parts)
        or parts[0] in SCRATCH_KINDS
    ):
        raise DatasetError(f"{name}: file path {path!r} is not <folder>/{name}/<file>")
    return parts[0], PurePosixPath(*parts[2:])


def transient_files(data_root: Path, name: str, dataset: dict[str, Any]) -> dict[str, Path]:
    """Archive member name -> file, for every file of the transient under the data root."""
    validate_transient_name(name)
    files: dict[str, Path] = {}
    root = data_root.resolve()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        base = folder / name
        if folder.name in SCRATCH_KINDS or not base.is_dir() or base.is_symlink():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.is_symlink():
                files[_member(folder.name, path.relative_to(base).as_posix())] = path
    for relative in dataset_files(dataset):
        kind, rest = _kind_and_rest(relative, name)
        path = root / relative
        if path.is_file():
            files.setdefault(_member(kind, rest.as_posix()), path)
    return files


def _member(kind: str, rest: str) -> str:
    """The archive member of the data-root file ``<kind>/<transient>/<rest>``."""
    return f"{ARCHIVE_FOLDERS.get(kind, kind)}/{rest}"


def write_archive(target: BinaryIO | Path, dataset: dict[str, Any], data_root: Path) -> int:
    """Write the archive of one exported dataset; returns the number of files added."""
    name = dataset["transient"]["fields"]["name"]
    files = transient_files(data_root, name, dataset)
    blob = json.dumps(dataset, indent=2).encode()
    where = {"name": target} if isinstance(target, Path) else {"fileobj": target}
    with tarfile.open(mode="w:gz", **where) as tar:
        info = tarfile.TarInfo(DATASET_MEMBER)
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
        for member, path in files.items():
            tar.add(path, arcname=member, recursive=False)
    return len(files)


@dataclass
class StagedArchive:
    """An archive read and checked, its files unpacked into a staging folder."""

    source: str
    dataset: dict[str, Any]
    staging: Path
    #: data-root-relative destination -> staged file
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.dataset["transient"]["fields"]["name"]


def read_dataset_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable JSON dataset ({exc})") from None


def stage_archive(path: Path, data_root: Path) -> StagedArchive:
    """Check an archive (or a bare ``.json`` dataset) and unpack its files under
    ``<data_root>/.import-staging/``; nothing lands in the file store yet."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    staging = data_root / ".import-staging" / uuid.uuid4().hex
    if path.suffix == ".json":
        staged = StagedArchive(str(path), read_dataset_file(path), staging)
        _check_name(staged)
        return staged
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()
            try:
                blob = tar.extractfile(DATASET_MEMBER)
            except KeyError:
                blob = None
            if blob is None:
                raise DatasetError(f"{path}: no {DATASET_MEMBER} in the archive")
            try:
                dataset = json.loads(blob.read())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DatasetError(f"{path}: {DATASET_MEMBER} is not JSON ({exc})") from None
            staged = StagedArchive(str(path), dataset, staging)
            name = _check_name(staged)
            if sum(m.size for m in members) > MAX_ARCHIVE_BYTES:
                raise DatasetError(f"{path}: larger than {MAX_ARCHIVE_BYTES} bytes unpacked")
            for member in members:
                if member.name == DATASET_MEMBER or member.isdir():
                    continue
                if not member.isfile():
                    raise DatasetError(f"{path}: member {member.name!r} is not a regular file")
                parts = PurePosixPath(member.name).parts
                if len(parts) < 2:
                    raise DatasetError(f"{path}: member {member.name!r} is not <folder>/<file>")
                kind = _DATA_FOLDERS.get(parts[0], parts[0])
                relative = str(PurePosixPath(kind, name, *parts[1:]))
                try:
                    _kind_and_rest(relative, name)
                except DatasetError:
                    raise DatasetError(f"{path}: unsafe member name {member.name!r}") from None
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                staged.files[relative] = target
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DatasetError(f"{path}: not a readable .tar.gz archive ({exc})") from None
    except DatasetError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for relative in dataset_files(staged.dataset):
        _kind_and_rest(relative, name)
    return staged


def _check_name(staged: StagedArchive) -> str:
    try:
        name = staged.name
    except (KeyError, TypeError):
        raise DatasetError(f"{staged.source}: the dataset has no transient name") from None
    try:
        validate_transient_name(name)
    except ValueError as exc:
        raise DatasetError(f"{staged.source}: {exc}") from None
    return name


def install_files(staged: list[StagedArchive], data_root: Path) -> list[Path]:
    """Move staged files into the file store (refusing to overwrite); returns the installed
    paths so the caller can remove them again if the database transaction fails."""
    installed: list[Path] = []
    try:
        for archive in staged:
            for relative, source in archive.files.items():
                target = data_root / relative
                if target.exists():
                    raise DatasetError(f"{archive.source}: {target} already exists")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(source, target)
                installed.append(target)
    except BaseException:
        remove_files(installed)
        raise
    return installed


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def discard(staged: list[StagedArchive]) -> None:
    for archive in staged:
        shutil.rmtree(archive.staging, ignore_errors=True)
