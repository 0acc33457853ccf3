"""Host match: probabilistic association of the transient with a catalogued galaxy (1.7)."""

from __future__ import annotations

import math
import zlib

from astropy import units as u
from astropy.coordinates import SkyCoord
from sqlalchemy import delete, select

from blast_pipeline.db.host_lookup import find_stored_host
from blast_pipeline.db.models import Host, HostAssociation, Transient
from blast_pipeline.runners.base import MetadataTable, Retry, TaskContext, TransientTaskRunner
from blast_pipeline.science.host_dedup import HostRecord
from blast_pipeline.science.host_match import HostAssociation as HostAssociationResult
from blast_pipeline.science.host_match import associate_host
from blast_pipeline.statuses import PROCESSED

#: Cone searched for candidates. Prost uses max(300", 100 kpc); beyond ~5 light radii a galaxy
#: cannot win, and 180" covers 5 DLR of the largest hosts at z >= 0.005 while keeping unrelated
#: field galaxies out (measured: 0.973 correct at 180", 0.970 at 300"; benchmarks/README.md).
SEARCH_RADIUS_ARCSEC = 180.0
#: Monte-Carlo draws per association.
N_SAMPLES = 1000


def name_from_coords(ra_deg: float, dec_deg: float) -> str:
    """Blast's coordinate name: ``J`` + RA hms + Dec dms (e.g. ``J080624.10+010209.86``)."""
    coord = SkyCoord(ra_deg * u.deg, dec_deg * u.deg)
    ra = coord.ra.to_string(unit=u.hourangle, sep="", precision=2, pad=True)
    dec = coord.dec.to_string(sep="", precision=2, alwayssign=True, pad=True)
    return f"J{ra}{dec}"


def associate_transient(
    name: str, ra_deg: float, dec_deg: float, redshift: float | None, catalog
) -> HostAssociationResult:
    """The association exactly as the pipeline runs it (also used by the accuracy benchmark):
    seeded by the transient's name, so a re-run gives the same host."""
    return associate_host(
        ra_deg,
        dec_deg,
        catalog,
        transient_redshift=redshift,
        n_samples=N_SAMPLES,
        rng_seed=zlib.crc32(name.encode()),
    )


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _rounded(value, digits: int) -> float | None:
    value = _finite(value)
    return None if value is None else round(value, digits)


#: Candidates shown in the task's metadata table (most probable first).
SHOWN_CANDIDATES = 5


def candidate_table(result: HostAssociationResult) -> MetadataTable:
    """The most probable candidates: object id, offset (arcsec and DLR), M_abs, posterior."""
    rows = sorted(result.candidates, key=lambda r: -float(r["posterior"]))[:SHOWN_CANDIDATES]
    return MetadataTable(
        ("object_id", "offset_arcsec", "offset_dlr", "absmag", "posterior"),
        tuple(
            (
                str(r["object_id"]),
                _rounded(r["separation_arcsec"], 2),
                _rounded(r["fractional_offset"], 2),
                _rounded(r["absmag"], 2),
                _rounded(r["posterior"], 4),
            )
            for r in rows
        ),
    )


def no_match_reason(result: HostAssociationResult) -> str:
    """Why no galaxy was chosen, in words."""
    if result.n_candidates == 0:
        return f"no catalogued galaxy within {SEARCH_RADIUS_ARCSEC:g}\u2033"
    best = ""
    if result.runner_up_object_id is not None:
        best = (
            f"; the best galaxy, {result.runner_up_object_id}, has P = "
            f"{float(result.runner_up_probability):.2f}"
        )
    if result.hypothesis == "missing":
        return (
            f"the host is most likely fainter than the catalogue limit (P = "
            f"{result.missing_host_probability:.2f}) among {result.n_candidates} candidate(s){best}"
        )
    return (
        f"the hostless hypothesis wins (P = {result.hostless_probability:.2f}) among "
        f"{result.n_candidates} candidate(s){best}"
    )


class HostMatch(TransientTaskRunner):
    """Associate the transient with its host galaxy (offset in directional light radii,
    absolute magnitude, redshift; hostless and missing-host hypotheses)."""

    task_name = "Host match"
    group = "transient_host"
    retry = Retry(max_retries=2, delay_seconds=10.0)

    def _prerequisites(self) -> dict[str, str]:
        return {"Transient MWEBV": "processed"}

    def _clean(self, session, transient: Transient, data_root) -> None:
        """The association and the transient's host link (host rows are shared: kept)."""
        session.execute(delete(HostAssociation).where(HostAssociation.transient_id == transient.id))
        transient.host = None

    def _run_process(self, transient: Transient, context: TaskContext) -> str:
        catalogs = context.services.catalogs
        if catalogs is None:
            raise RuntimeError("no galaxy catalogue source is configured (BLAST_SKY)")
        session = context.session
        table = catalogs.galaxies_near(transient.ra_deg, transient.dec_deg, SEARCH_RADIUS_ARCSEC)
        result = associate_transient(
            transient.name, transient.ra_deg, transient.dec_deg, transient.redshift, table
        )
        catalog_name = str(table.meta.get("catalog_name", ""))
        catalog_release = str(table.meta.get("catalog_release", ""))
        association = session.scalar(
            select(HostAssociation).where(HostAssociation.transient_id == transient.id)
        ) or HostAssociation(transient_id=transient.id)
        session.add(association)
        association.probability = float(result.probability)
        association.hostless_probability = float(result.hostless_probability)
        association.missing_host_probability = float(result.missing_host_probability)
        association.runner_up_object_id = (
            None if result.runner_up_object_id is None else str(result.runner_up_object_id)
        )
        association.runner_up_probability = _finite(result.runner_up_probability)
        association.catalog_name = catalog_name
        association.n_candidates = int(result.n_candidates)
        context.add_metadata(
            candidates=int(result.n_candidates),
            hypothesis=result.hypothesis,
            probability=round(float(result.probability), 4),
            hostless_probability=round(float(result.hostless_probability), 4),
            missing_host_probability=round(float(result.missing_host_probability), 4),
            runner_up=str(result.runner_up_object_id),
            candidate_table=candidate_table(result),
        )
        if result.best_index is None:
            association.host_id = None
            transient.host = None
            context.add_metadata(reason=no_match_reason(result))
            return "no host match"

        row = table[result.best_index]
        host = self._store_host(session, row, catalog_name, catalog_release)
        transient.host = host
        session.flush()
        association.host_id = host.id
        best = result.candidates[result.best_index]
        z, z_err = _finite(row["redshift"]), _finite(row["redshift_err"])
        kind = str(row["redshift_type"]).strip() if "redshift_type" in row.colnames else ""
        context.add_metadata(
            host=host.name,
            host_object_id=host.object_id,
            offset_arcsec=round(float(best["separation_arcsec"]), 2),
            offset_dlr=_rounded(best["fractional_offset"], 2),
            absolute_magnitude=_rounded(best["absmag"], 2),
            host_redshift=_rounded(z, 4),
            host_redshift_err=_rounded(z_err, 4),
            host_redshift_type=f"{kind}-z" if kind and z is not None else "none",
        )
        return PROCESSED

    @staticmethod
    def _store_host(session, row, catalog_name: str, catalog_release: str) -> Host:
        ra, dec = float(row["ra_deg"]), float(row["dec_deg"])
        candidate = HostRecord(
            ra_deg=ra,
            dec_deg=dec,
            object_id=str(row["object_id"]),
            catalog_name=catalog_name,
            catalog_release=catalog_release,
        )
        decision, stored = find_stored_host(session, candidate)
        if decision.action == "create":
            host = Host(ra_deg=ra, dec_deg=dec)
            session.add(host)
        else:
            host = stored
        host.name = host.name or name_from_coords(ra, dec)
        host.object_id = host.object_id or candidate.object_id
        host.catalog_name = host.catalog_name or catalog_name
        host.catalog_release = host.catalog_release or catalog_release
        z, z_err = _finite(row["redshift"]), _finite(row["redshift_err"])
        kind = str(row["redshift_type"]).strip().lower() if "redshift_type" in row.colnames else ""
        # Only empty fields are filled, as Blast does.
        if z is not None and kind == "spec" and host.redshift is None:
            host.redshift, host.redshift_err = z, z_err
        elif z is not None and kind == "phot" and host.photometric_redshift is None:
            host.photometric_redshift, host.photometric_redshift_err = z, z_err
        return host
