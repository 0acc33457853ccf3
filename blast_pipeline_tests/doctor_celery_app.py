"""A bare Celery app for the doctor's tests: workers of it answer ``inspect ping`` and
``active_queues`` like dagster-celery's workers, without loading Dagster (fast to start)."""

import os

from celery import Celery

app = Celery("blast_doctor_test", broker=os.environ["BLAST_CELERY_BROKER"])
