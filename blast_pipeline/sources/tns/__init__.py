"""Client for the Transient Name Server (TNS), the source of new transients (reference section 6).

What it does, as Blast's ``transient_name_server.py``:

* ``client.py``: ``TNSClient.search`` / ``get_object`` / ``fetch_recent``, the bot API
  (form-encoded POST of ``api_key`` and a JSON ``data`` string, identified by the
  ``tns_marker`` User-Agent), and ``download_daily_csv``;
* ``credentials.py``: ``TNSCredentials`` from the environment;
* ``model.py``: ``TNSObject``, ``FetchReport``/``SkippedObject`` and the errors;
* ``parsing.py``: TNS values -> ``TNSObject``; ``daily_csv.py``: the daily staging CSV (zip).

What the ingestion does with an object it already knows (``classify_update``) is policy, in
``blast_pipeline/system/tns_policy.py``.

Deliberate differences from Blast: the wait on "too many requests" is bounded
(``RateLimitedError``), 5xx and connection errors are retried a few times, malformed replies and
non-200 ``id_code`` raise errors naming the endpoint instead of crashing on a ``KeyError``, an
object that fails to fetch or parse is reported (``FetchReport.skipped``) instead of aborting the
whole batch, and the daily CSV is keyed on the ``name`` column (not the DataFrame index).

The API key is sent only in request bodies; it never appears in reprs, logs or exception messages
(every message built from a reply is redacted before it is cut to a snippet).

Pure: no Dagster import; the ingestion job wraps this in a resource.
"""

from blast_pipeline.sources.tns.client import (
    DAILY_CSV_DIR,
    DEFAULT_RATE_LIMIT_RESET_S,
    DEFAULT_TNS_BASE_URL,
    DEFAULT_WINDOW_MINUTES,
    OBJECT_PATH,
    SEARCH_PATH,
    TNSClient,
    rate_limit_wait_seconds,
)
from blast_pipeline.sources.tns.credentials import (
    ENV_API_KEY,
    ENV_BOT_ID,
    ENV_BOT_NAME,
    InvalidTNSCredentials,
    MissingTNSCredentials,
    TNSCredentials,
)
from blast_pipeline.sources.tns.daily_csv import DAILY_CSV_COLUMNS, parse_daily_csv
from blast_pipeline.sources.tns.model import (
    FetchReport,
    InvalidTNSName,
    InvalidTNSObject,
    SkipKind,
    SkippedObject,
    TNSMalformedReply,
    TNSNotFound,
    TNSObject,
    TNSReplyError,
)
from blast_pipeline.sources.tns.parsing import parse_tns_timestamp, tns_object_from_reply

__all__ = [
    "DAILY_CSV_COLUMNS",
    "DAILY_CSV_DIR",
    "DEFAULT_RATE_LIMIT_RESET_S",
    "DEFAULT_TNS_BASE_URL",
    "DEFAULT_WINDOW_MINUTES",
    "ENV_API_KEY",
    "ENV_BOT_ID",
    "ENV_BOT_NAME",
    "OBJECT_PATH",
    "SEARCH_PATH",
    "FetchReport",
    "InvalidTNSCredentials",
    "InvalidTNSName",
    "InvalidTNSObject",
    "MissingTNSCredentials",
    "SkipKind",
    "SkippedObject",
    "TNSClient",
    "TNSCredentials",
    "TNSMalformedReply",
    "TNSNotFound",
    "TNSObject",
    "TNSReplyError",
    "parse_daily_csv",
    "parse_tns_timestamp",
    "rate_limit_wait_seconds",
    "tns_object_from_reply",
]
