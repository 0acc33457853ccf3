"""Blast's periodic system tasks as ``SystemTaskRunner``s (one module per task).

Each becomes a Dagster job ``<asset_name>_job`` plus a schedule ``<asset_name>_schedule``
(``blast_pipeline.runners.compile``); they are registered in ``blast_pipeline.tasks``.

* ``tns_ingestion``: TNS data ingestion (every 240 s, pool ``tns``);
* ``tns_daily``: Ingest missed TNS transients from the daily CSV (daily, off by default);
* ``retrigger``: Retrigger incomplete workflows (every 1200 s);
* ``garbage_collector``: Garbage collector of scratch files (every 3600 s, off by default);
* ``partition_retention``: Partition retention (daily; not in Blast).

``runs`` holds what they share: which transients have a workflow run in flight.
"""
