"""The task-runner registry: to add a task, write one module and add its instance here.

Transient tasks become assets partitioned by transient; system tasks become scheduled jobs.
"""

from __future__ import annotations

from blast_pipeline.runners.base import SystemTaskRunner, TransientTaskRunner

TASK_RUNNERS: list[TransientTaskRunner | SystemTaskRunner] = []
