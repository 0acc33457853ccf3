"""The project's web service: Blast's REST API (``api.py``) and the transient pages (``pages.py``)."""
