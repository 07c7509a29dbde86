"""The dlt pipelines: validate each delivered file against the export spec, land what it changed as versions
in the raw layer (``raw_sis``) with its ledger row and change record, and keep every delivered file."""
