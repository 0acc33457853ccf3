"""A transient's progress and processing status, by Blast's rule (reference section 3.2)."""

from __future__ import annotations

from collections.abc import Mapping

from blast_pipeline.statuses import NOT_PROCESSED, PROCESSING, is_error

COMPLETED = "completed"
BLOCKED = "blocked"


def processing_status_and_progress(
    statuses: Mapping[str, str], upstream: Mapping[str, frozenset[str]]
) -> tuple[int, str]:
    """Progress (0-100) and "processing" / "blocked" / "completed".

    ``statuses``: task -> status message for every task of the workflow;
    ``upstream``: task -> all tasks it transitively depends on.
    A not-yet-run task counts as done when one of its prerequisites ended in an error status
    (it can never run); "blocked" means nothing more can run but something ended in error.
    """
    n = len(statuses)
    if n == 0:
        return 0, PROCESSING
    unprocessed = [t for t, s in statuses.items() if s == NOT_PROCESSED]
    processing = [t for t, s in statuses.items() if s == PROCESSING]
    blocked = [
        t
        for t in unprocessed
        if any(is_error(statuses.get(p, NOT_PROCESSED)) for p in upstream.get(t, ()))
    ]
    remaining = len(unprocessed) - len(blocked) + len(processing)
    progress = int(round(100 * (1 - remaining / n)))
    if progress < 100:
        return progress, PROCESSING
    any_error = any(is_error(s) for s in statuses.values())
    return progress, BLOCKED if any_error else COMPLETED
