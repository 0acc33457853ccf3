"""Blast's science payload, export/import datasets and archives (reference 4.2, 4.3)."""
