"""sis-sync: nightly SIS export sync warehouse (dlt ingestion + dbt marts on Postgres)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
