"""The task-runner registry: to add a task, write one module and add its instance here.

Transient tasks become assets partitioned by transient; system tasks become scheduled jobs.
"""

from __future__ import annotations

from blast_pipeline.runners.base import SystemTaskRunner, TransientTaskRunner
from blast_pipeline.system.garbage_collector import GarbageCollector
from blast_pipeline.system.partition_retention import PartitionRetention
from blast_pipeline.system.retrigger import RetriggerIncompleteWorkflows
from blast_pipeline.system.tns_daily import IngestMissedTNSTransients
from blast_pipeline.system.tns_ingestion import TNSDataIngestion
from blast_pipeline.tasks.apertures import GlobalApertureConstruction
from blast_pipeline.tasks.crop import CropTransientImages
from blast_pipeline.tasks.cutout_download import CutoutDownload
from blast_pipeline.tasks.host_information import HostInformation
from blast_pipeline.tasks.host_match import HostMatch
from blast_pipeline.tasks.mwebv import HostMWEBV, TransientMWEBV
from blast_pipeline.tasks.photometry import GlobalAperturePhotometry, LocalAperturePhotometry
from blast_pipeline.tasks.sed_inference import GlobalHostSEDFitting, LocalHostSEDFitting
from blast_pipeline.tasks.sed_thumbnails import (
    GenerateThumbnailSEDGlobal,
    GenerateThumbnailSEDLocal,
)
from blast_pipeline.tasks.thumbnails import GenerateThumbnail, GenerateThumbnailFinal
from blast_pipeline.tasks.validation import ValidateGlobalPhotometry, ValidateLocalPhotometry

TASK_RUNNERS: list[TransientTaskRunner | SystemTaskRunner] = [
    CutoutDownload(),
    GenerateThumbnail(),
    TransientMWEBV(),
    HostMatch(),
    HostInformation(),
    HostMWEBV(),
    GlobalApertureConstruction(),
    GlobalAperturePhotometry(),
    ValidateGlobalPhotometry(),
    LocalAperturePhotometry(),
    ValidateLocalPhotometry(),
    CropTransientImages(),
    GenerateThumbnailFinal(),
    GlobalHostSEDFitting(),
    LocalHostSEDFitting(),
    GenerateThumbnailSEDGlobal(),
    GenerateThumbnailSEDLocal(),
    # System tasks (scheduled jobs)
    TNSDataIngestion(),
    IngestMissedTNSTransients(),
    RetriggerIncompleteWorkflows(),
    GarbageCollector(),
    PartitionRetention(),
]
