"""Blast's progress / blocked rule (reference section 3.2)."""

from __future__ import annotations

from blast_pipeline.runners.progress import processing_status_and_progress

# Cutout download -> Host match -> {Host information -> Validate}; Cutout download -> Thumbnail
UPSTREAM = {
    "CD": frozenset(),
    "HM": frozenset({"CD"}),
    "HI": frozenset({"CD", "HM"}),
    "VP": frozenset({"CD", "HM", "HI"}),
    "GT": frozenset({"CD"}),
}


def _run(**statuses):
    full = {t: "not processed" for t in UPSTREAM}
    full.update({k: v.replace("_", " ") for k, v in statuses.items()})
    return processing_status_and_progress(full, UPSTREAM)


def test_nothing_run_yet():
    assert _run() == (0, "processing")


def test_partial_progress_counts_processed_tasks():
    assert _run(CD="processed", GT="processed") == (40, "processing")


def test_running_task_is_not_done():
    assert _run(CD="processed", HM="processing") == (20, "processing")


def test_all_processed_is_completed():
    assert _run(CD="processed", HM="processed", HI="processed", VP="processed", GT="processed") == (
        100,
        "completed",
    )


def test_error_blocks_everything_downstream_and_counts_it_done():
    assert _run(CD="processed", GT="processed", HM="no_host_match") == (100, "blocked")


def test_error_with_independent_work_left_is_still_processing():
    assert _run(CD="processed", HM="failed") == (80, "processing")


def test_no_tasks():
    assert processing_status_and_progress({}, {}) == (0, "processing")
