"""The asset graph's labels stay apart when the Dagster UI truncates them (issue 16)."""

from __future__ import annotations

import re
from collections import defaultdict

from blast_pipeline.definitions import defs
from blast_pipeline.runners.base import TransientTaskRunner
from blast_pipeline.tasks import TASK_RUNNERS

#: The zoomed-out asset graph draws each node's name cut to this many characters.
MINIMAL_NODE_MAX_LENGTH = 18


def ui_truncated(name: str, max_length: int = MINIMAL_NODE_MAX_LENGTH) -> str:
    """The Dagster UI's ``withMiddleTruncation`` (dagster-webserver 1.13's bundle, ported): keep
    the start and the end, cut at a separator, "…" between."""
    excess = len(name) - max_length
    if excess <= 0:
        return name
    if max_length <= 10:
        return name[: max_length - 1] + "…"
    cuts = [m.start() for m in re.finditer("__" if "__" in name else r"[_>.-]", name)]
    middle = (len(name) + excess) // 2
    first = next((k for k, at in enumerate(cuts) if at > excess + 3), -1)
    if first != -1 and max(first, len(cuts) // 2) < len(cuts):
        middle = cuts[max(first, len(cuts) // 2)]
    return name[: middle - (excess + 1)] + "…" + name[middle:]


def test_the_port_matches_what_the_ui_shows():
    assert ui_truncated("host_match") == "host_match"
    assert ui_truncated("validate_global_photometry") == "valida…_photometry"
    assert ui_truncated("generate_thumbnail_sed_local") == "generat…_sed_local"


def test_truncated_names_are_distinct_within_each_group():
    runners = [r for r in TASK_RUNNERS if isinstance(r, TransientTaskRunner)]
    groups: dict[str, list[str]] = defaultdict(list)
    for runner in runners:
        groups[runner.group].append(runner.asset_name)
    assert set(groups) == {
        "transient_images",
        "transient_host",
        "transient_global",
        "transient_local",
    }
    for group, names in groups.items():
        labels = [ui_truncated(n) for n in names]
        assert len(set(labels)) == len(labels), (group, labels)
    # the reason for the groups: over the whole workflow two labels read the same
    everything = [ui_truncated(r.asset_name) for r in runners]
    assert len(set(everything)) < len(everything)


def test_the_jobs_still_run_every_task_whatever_its_group():
    graph = defs.resolve_asset_graph()
    transient_keys = {k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    assert len(transient_keys) == 17
    job = defs.resolve_job_def("transient_workflow")
    assert {n.name for n in job.graph.node_dict.values()} == {
        k.to_user_string() for k in transient_keys
    }
    for key in transient_keys:
        assert graph.get(key).group_name.startswith("transient_")
