"""The Blast database: science results and per-task workflow state (SQLAlchemy 2 models).

Mirrors Blast's Django models (reference section 4.1) with the fixes the reference lists:
host redshifts are persisted, one global aperture per transient is distinguishable from the
per-filter PSF-matched copies, and the task register is unique per (transient, task).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from blast_pipeline import __version__


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class SoftwareVersionMixin:
    software_version: Mapped[str] = mapped_column(String(20), default=__version__)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)

    filters: Mapped[list[Filter]] = relationship(back_populates="survey")


class Filter(Base):
    __tablename__ = "filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    pixel_size_arcsec: Mapped[float] = mapped_column(Float)
    image_fwhm_arcsec: Mapped[float] = mapped_column(Float)
    magnitude_zero_point: Mapped[float | None] = mapped_column(Float)
    magnitude_zero_point_keyword: Mapped[str | None] = mapped_column(String(20))
    ab_offset: Mapped[float] = mapped_column(Float, default=0.0)
    image_pixel_units: Mapped[str] = mapped_column(String(20))
    wavelength_eff_angstrom: Mapped[float] = mapped_column(Float)
    sedpy_id: Mapped[str] = mapped_column(String(20))
    hips_id: Mapped[str] = mapped_column(String(50))

    survey: Mapped[Survey] = relationship(back_populates="filters")


class Host(SoftwareVersionMixin, Base):
    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100), unique=True)
    ra_deg: Mapped[float] = mapped_column(Float)
    dec_deg: Mapped[float] = mapped_column(Float, index=True)
    redshift: Mapped[float | None] = mapped_column(Float)
    redshift_err: Mapped[float | None] = mapped_column(Float)
    photometric_redshift: Mapped[float | None] = mapped_column(Float)
    photometric_redshift_err: Mapped[float | None] = mapped_column(Float)
    milkyway_dust_reddening: Mapped[float | None] = mapped_column(Float)
    object_id: Mapped[str | None] = mapped_column(String(100))
    catalog_name: Mapped[str | None] = mapped_column(String(50))
    catalog_release: Mapped[str | None] = mapped_column(String(50))


class Transient(SoftwareVersionMixin, Base):
    __tablename__ = "transients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    ra_deg: Mapped[float] = mapped_column(Float)
    dec_deg: Mapped[float] = mapped_column(Float)
    tns_id: Mapped[int] = mapped_column(Integer, default=0)
    tns_prefix: Mapped[str | None] = mapped_column(String(20))
    public_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id", ondelete="SET NULL"))
    redshift: Mapped[float | None] = mapped_column(Float)
    spectroscopic_class: Mapped[str | None] = mapped_column(String(20))
    photometric_class: Mapped[str | None] = mapped_column(String(20))
    milkyway_dust_reddening: Mapped[float | None] = mapped_column(Float)
    processing_status: Mapped[str] = mapped_column(String(20), default="processing")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    update_comment: Mapped[str | None] = mapped_column(String(500))
    update_fields: Mapped[str | None] = mapped_column(String(500))
    #: How the transient entered the database: "cli", "csv", "tns", "tns-daily", "simulated".
    ingest_source: Mapped[str] = mapped_column(String(20), default="cli")
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When the sensor last launched a workflow run; None = a run is wanted (new, retriggered
    #: or reprocessed). The sensor is the one place that launches workflow runs.
    workflow_requested_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), index=True
    )
    #: Incremented at every request, so each launch has its own Dagster run key.
    workflow_generation: Mapped[int] = mapped_column(Integer, default=0)
    #: Archived out of the Dagster partition set (results kept here); see the retention job.
    partition_archived: Mapped[bool] = mapped_column(Boolean, default=False)

    host: Mapped[Host | None] = relationship()
    task_registers: Mapped[list[TaskRegister]] = relationship(
        back_populates="transient", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def best_redshift(self) -> float | None:
        """Blast's best redshift (reference 1.9): host spec-z unless it disagrees with the
        transient's by 0.02 or more, then the transient's, then the host's photo-z."""
        host = self.host
        if host is not None and host.redshift is not None:
            if self.redshift is None or abs(host.redshift - self.redshift) < 0.02:
                return host.redshift
            return self.redshift
        if self.redshift is not None:
            return self.redshift
        if host is not None and host.photometric_redshift is not None:
            return host.photometric_redshift
        return None


class HostAssociation(Base):
    """The outcome of probabilistic host matching for one transient (not in Blast's schema:
    Blast keeps only the winner; the probability and the runner-up are worth keeping)."""

    __tablename__ = "host_associations"

    id: Mapped[int] = mapped_column(primary_key=True)
    transient_id: Mapped[int] = mapped_column(
        ForeignKey("transients.id", ondelete="CASCADE"), unique=True
    )
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id", ondelete="SET NULL"))
    probability: Mapped[float | None] = mapped_column(Float)
    hostless_probability: Mapped[float | None] = mapped_column(Float)
    missing_host_probability: Mapped[float | None] = mapped_column(Float)
    runner_up_object_id: Mapped[str | None] = mapped_column(String(100))
    runner_up_probability: Mapped[float | None] = mapped_column(Float)
    catalog_name: Mapped[str | None] = mapped_column(String(50))
    n_candidates: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alias(Base):
    __tablename__ = "aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), unique=True)
    transient_id: Mapped[int | None] = mapped_column(
        ForeignKey("transients.id", ondelete="CASCADE"), index=True
    )
    host_id: Mapped[int | None] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), index=True
    )


class Cutout(SoftwareVersionMixin, Base):
    __tablename__ = "cutouts"
    __table_args__ = (UniqueConstraint("transient_id", "filter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    transient_id: Mapped[int] = mapped_column(ForeignKey("transients.id", ondelete="CASCADE"))
    filter_id: Mapped[int] = mapped_column(ForeignKey("filters.id"))
    #: Path of the downloaded FITS file relative to the data root; None when there is none.
    fits_path: Mapped[str | None] = mapped_column(String(300))
    #: Path of the cropped copy (the original is never overwritten, unlike Blast).
    cropped_path: Mapped[str | None] = mapped_column(String(300))
    #: "" (downloaded), "No image found", "Download error" (Blast's messages).
    message: Mapped[str] = mapped_column(String(50), default="")

    filter: Mapped[Filter] = relationship()
    transient: Mapped[Transient] = relationship()


class Aperture(SoftwareVersionMixin, Base):
    __tablename__ = "apertures"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    transient_id: Mapped[int] = mapped_column(
        ForeignKey("transients.id", ondelete="CASCADE"), index=True
    )
    cutout_id: Mapped[int | None] = mapped_column(ForeignKey("cutouts.id", ondelete="CASCADE"))
    #: "local" or "global".
    type: Mapped[str] = mapped_column(String(10))
    #: True for the aperture built on the reference image; the PSF-matched copies are False.
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    ra_deg: Mapped[float] = mapped_column(Float)
    dec_deg: Mapped[float] = mapped_column(Float)
    orientation_deg: Mapped[float] = mapped_column(Float)
    semi_major_axis_arcsec: Mapped[float] = mapped_column(Float)
    semi_minor_axis_arcsec: Mapped[float] = mapped_column(Float)

    cutout: Mapped[Cutout | None] = relationship()


class AperturePhotometry(SoftwareVersionMixin, Base):
    __tablename__ = "aperture_photometry"
    __table_args__ = (UniqueConstraint("aperture_id", "filter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    aperture_id: Mapped[int] = mapped_column(ForeignKey("apertures.id", ondelete="CASCADE"))
    filter_id: Mapped[int] = mapped_column(ForeignKey("filters.id"))
    transient_id: Mapped[int] = mapped_column(
        ForeignKey("transients.id", ondelete="CASCADE"), index=True
    )
    #: Microjansky (AB), as Blast computes it.
    flux: Mapped[float | None] = mapped_column(Float)
    flux_error: Mapped[float | None] = mapped_column(Float)
    magnitude: Mapped[float | None] = mapped_column(Float)
    magnitude_error: Mapped[float | None] = mapped_column(Float)
    #: "true", "false", "contamination warning" or None.
    is_validated: Mapped[str | None] = mapped_column(String(40))

    aperture: Mapped[Aperture] = relationship()
    filter: Mapped[Filter] = relationship()


_SED_PARAMETERS = (
    "log_mass",
    "log_sfr",
    "log_ssfr",
    "log_age",
    "age",
    "logzsol",
    "dust2",
    "dust_index",
    "dust1_fraction",
    "log_fagn",
    "log_agn_tau",
    "gas_logz",
    "duste_qpah",
    "duste_umin",
    "log_duste_gamma",
)


class SEDFittingResult(SoftwareVersionMixin, Base):
    __tablename__ = "sed_fitting_results"
    __table_args__ = (UniqueConstraint("transient_id", "aperture_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transient_id: Mapped[int] = mapped_column(ForeignKey("transients.id", ondelete="CASCADE"))
    aperture_id: Mapped[int | None] = mapped_column(ForeignKey("apertures.id", ondelete="SET NULL"))
    aperture_type: Mapped[str] = mapped_column(String(10))
    posterior: Mapped[str | None] = mapped_column(String(300))
    mass_surviving_ratio: Mapped[float | None] = mapped_column(Float)
    chains_file: Mapped[str | None] = mapped_column(String(300))
    percentiles_file: Mapped[str | None] = mapped_column(String(300))
    model_file: Mapped[str | None] = mapped_column(String(300))

    # <parameter>_16/_50/_84 posterior percentiles for each of Blast's SED parameters.
    for _param in _SED_PARAMETERS:
        for _pct in ("16", "50", "84"):
            locals()[f"{_param}_{_pct}"] = mapped_column(Float, nullable=True)
    del _param, _pct


class StarFormationHistoryResult(Base):
    __tablename__ = "star_formation_history_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    transient_id: Mapped[int] = mapped_column(
        ForeignKey("transients.id", ondelete="CASCADE"), index=True
    )
    sed_fitting_result_id: Mapped[int] = mapped_column(
        ForeignKey("sed_fitting_results.id", ondelete="CASCADE"), index=True
    )
    logsfr_16: Mapped[float | None] = mapped_column(Float)
    logsfr_50: Mapped[float | None] = mapped_column(Float)
    logsfr_84: Mapped[float | None] = mapped_column(Float)
    #: Bin edges as lookback time in Gyr.
    logsfr_tmin: Mapped[float] = mapped_column(Float)
    logsfr_tmax: Mapped[float] = mapped_column(Float)


class Status(Base):
    __tablename__ = "statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(20), unique=True)
    type: Mapped[str] = mapped_column(String(20))


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class TaskRegister(Base):
    __tablename__ = "task_register"
    __table_args__ = (UniqueConstraint("transient_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transient_id: Mapped[int] = mapped_column(ForeignKey("transients.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    status_id: Mapped[int] = mapped_column(ForeignKey("statuses.id"))
    user_warning: Mapped[bool] = mapped_column(Boolean, default=False)
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Wall-clock seconds of the last run (Blast records CPU time; waits on services matter here).
    last_processing_time_seconds: Mapped[float | None] = mapped_column(Float)
    #: Token of the attempt that set the row "processing" (None otherwise); a finishing attempt
    #: records its result only while it still holds the claim (``db.task_register``).
    claim: Mapped[str | None] = mapped_column(String(64))

    transient: Mapped[Transient] = relationship(back_populates="task_registers")
    task: Mapped[Task] = relationship()
    status: Mapped[Status] = relationship()


class RunHeartbeat(Base):
    """The last sign of life of a workflow run's worker (``runners.heartbeat``)."""

    __tablename__ = "run_heartbeats"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: ``host:pid`` of the worker process.
    worker: Mapped[str] = mapped_column(String(100))
