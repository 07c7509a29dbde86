"""Fetch one night's export from a district's delivery into a local folder that ingestion reads.

Exports arrive in a local or mounted folder, over SFTP, or in an S3-compatible bucket. The layout under the
delivery's root is the same for all three (see the export spec)::

    <root>/<district_id>/<YYYY-MM-DD>/<files>.csv     a folder export
    <root>/<district_id>/<YYYY-MM-DD>.zip             the same files in one zip

:func:`fetch_export` copies that night's export (the folder's files and/or the zip) to the same layout
under a local ``dest_root`` (the project keeps it under ``.sis-sync/deliveries/``: :data:`DEFAULT_DEST_ROOT`),
so the existing local ingestion (``ingest_export(settings, result.drop_root, district_id, date)``) reads it.

The ``delivery`` block of a district in ``districts.yml``. Credentials never go in that file: it names the
environment variables that hold them (``*_env`` keys), or the standard variables are used. A literal
secret (``password:``, ``secret_access_key:``, ``private_key:`` ...) in the file is refused. Relative paths
are relative to the districts file's folder.

.. code-block:: yaml

    # a local or mounted folder (shared drive)
    delivery: {method: folder, path: /mnt/sis-drop}

    # SFTP: the server's host key must be in the pinned known_hosts file (required), else nothing is fetched
    delivery:
      method: sftp
      host: sftp.district.example.org
      port: 22                              # optional, default 22
      path: /exports                        # the remote root holding <district_id>/ (default: login folder)
      known_hosts: keys/lincoln_known_hosts # required; OpenSSH format; "[host]:port" entries for port != 22
      username_env: LINCOLN_SFTP_USER       # required: the variable holding the user name
      password_env: LINCOLN_SFTP_PASSWORD   # the variable holding the password, and/or
      key_file_env: LINCOLN_SFTP_KEY        # the variable holding a private key file's path (or the key text)
      key_passphrase_env: LINCOLN_SFTP_KEY_PASSPHRASE  # optional, for an encrypted key
      timeout: 30                           # optional, seconds to connect

    # S3 or an S3-compatible store (MinIO, Ceph, Wasabi ...)
    delivery:
      method: s3
      bucket: district-exports
      prefix: lincoln-drop                  # optional: the keys are <prefix>/<district_id>/<YYYY-MM-DD>...
      endpoint_url: https://s3.example.org  # optional: omit for AWS itself
      region: us-east-1                     # optional
      addressing_style: path                # optional: path (default with endpoint_url) | virtual | auto
      ca_bundle: keys/district-ca.pem       # optional: a private CA for the endpoint's TLS certificate
      profile: lincoln                      # optional: a profile of ~/.aws/config (credentials stay there)
      access_key_id_env: LINCOLN_S3_KEY_ID  # optional: variables holding the keys; without them the standard
      secret_access_key_env: LINCOLN_S3_SECRET  # chain applies: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
      session_token_env: LINCOLN_S3_TOKEN   # AWS_SESSION_TOKEN / AWS_PROFILE, ~/.aws, instance role

Rules every method follows:

* Files whose names end in ``.part`` or ``.tmp`` are still being uploaded: never fetched, listed in
  ``FetchResult.skipped_in_progress`` (completeness is decided later, by the manifest check of ingestion).
  Names ending in ``.download`` (this module's own temporary suffix) are never fetched either; sub-folders
  of a night's folder are not part of the export and are not fetched.
* Every file is written to ``<name>.download`` and renamed over ``<name>`` only once complete (size checked,
  fsynced), so a crash (kill -9) mid-download never leaves a truncated file under its real name; a rerun
  fetches it again, and a successful fetch removes leftover ``.download`` files.
* A file already present locally with the same bytes is left untouched (folder: size + sha256 of the source;
  S3: size + the object's MD5 ETag; SFTP: downloaded again, and kept only when its sha256 differs).
* ``manifest.csv`` is fetched last, so a local copy holding the manifest was fetched whole.
* Every failure (connection refused, authentication failed, host key unknown or changed, bucket missing,
  file vanished ...) is raised as :class:`DeliveryError` naming the district, so the nightly loop can mark
  that district failed and go on with the others.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sis_sync import PROJECT_ROOT
from sis_sync.config import District
from sis_sync.ingestion.delivery.common import DeliveryError, FetchResult

__all__ = ["DEFAULT_DEST_ROOT", "METHODS", "DeliveryError", "FetchResult", "fetch_export"]

DEFAULT_DEST_ROOT = PROJECT_ROOT / ".sis-sync" / "deliveries"
METHODS = ("folder", "sftp", "s3")


def fetch_export(district: District, export_date: date, dest_root: Path, config_dir: Path) -> FetchResult:
    """Copy ``district``'s export of ``export_date`` from its delivery to ``dest_root/<district_id>/...``.

    ``config_dir`` is the folder of the districts file (relative paths in ``delivery`` are resolved against
    it). Returns a :class:`FetchResult`; ``result.path`` is None when there is no export for the date.
    Raises :class:`DeliveryError` (naming the district) on any failure.
    """
    method = str(district.delivery.get("method", "folder")).lower()
    if method == "folder":
        from sis_sync.ingestion.delivery import folder as module
    elif method == "sftp":
        from sis_sync.ingestion.delivery import sftp as module
    elif method == "s3":
        from sis_sync.ingestion.delivery import s3 as module
    else:
        raise DeliveryError(district.id, f"unknown delivery method {method!r} (use {', '.join(METHODS)})")
    return module.fetch(district, export_date, Path(dest_root), Path(config_dir))
