"""S3 delivery: an AWS S3 or S3-compatible bucket (boto3, with ``endpoint_url`` for MinIO, Ceph, Wasabi ...).

.. code-block:: yaml

    delivery:
      method: s3
      bucket: district-exports
      prefix: lincoln-drop                   # optional; keys are <prefix>/<district_id>/<YYYY-MM-DD>/<file>
      endpoint_url: https://s3.example.org   # optional (omit for AWS)
      region: us-east-1                      # optional
      addressing_style: path                 # optional: path (default with endpoint_url) | virtual | auto
      ca_bundle: keys/district-ca.pem        # optional, relative to the districts file's folder
      profile: lincoln                       # optional: a named profile of ~/.aws/config
      access_key_id_env: LINCOLN_S3_KEY_ID   # optional pair (+ session_token_env): the variables holding
      secret_access_key_env: LINCOLN_S3_SECRET   # the keys; without them boto3's standard chain applies
                                             # (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE ...)

The night is listed under ``<prefix>/<district_id>/<YYYY-MM-DD>/`` and
``<prefix>/<district_id>/<YYYY-MM-DD>.zip``.
Only direct children of the night's "folder" are part of the export. A local file is not downloaded again
when its size and MD5 match the object's (single-part) ETag; otherwise the object is streamed to
``<name>.download``, its size (and MD5, when the ETag is one) verified, and renamed into place.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from sis_sync.config import District
from sis_sync.ingestion.delivery.common import (
    CHUNK,
    DeliveryError,
    Fetcher,
    FetchResult,
    Listing,
    classify,
    env_value,
    refuse_inline_secrets,
    resolve_path,
)
from sis_sync.redact import redact, url_without_userinfo

_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
               "403", "Forbidden"}


def fetch(district: District, export_date: date, dest_root: Path, config_dir: Path) -> FetchResult:
    delivery = district.delivery
    did = district.id
    refuse_inline_secrets(did, delivery)
    bucket = str(delivery.get("bucket") or "")
    if not bucket:
        raise DeliveryError(did, "delivery.bucket is missing for the s3 method")
    prefix = str(delivery.get("prefix") or "").strip("/")
    endpoint = url_without_userinfo(delivery.get("endpoint_url"))
    base = f"{prefix}/{district.id}/" if prefix else f"{district.id}/"
    source = f"s3://{bucket}/{base}" + (f" at {endpoint}" if endpoint else "")
    fetcher = Fetcher(did, export_date, dest_root, source=source)
    client = _client(did, delivery, config_dir)
    try:
        listing = _list(client, fetcher, bucket, base)
        for rf in fetcher.to_fetch(listing):
            temp = fetcher.temp_path(rf)
            _download(client, fetcher, bucket, rf, temp)
            fetcher.commit(rf, temp)
        return fetcher.result(listing)
    except DeliveryError:
        raise
    except NoCredentialsError:
        raise DeliveryError(
            did, f"no S3 credentials for {source}: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or "
                 "AWS_PROFILE), or name variables with access_key_id_env / secret_access_key_env") from None
    except EndpointConnectionError:
        raise DeliveryError(did, f"cannot connect to the S3 endpoint {endpoint or 'of AWS'} "
                                 f"(listing {source})") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "NoSuchBucket":
            at = f" at {endpoint}" if endpoint else ""
            raise DeliveryError(did, f"bucket {bucket!r} does not exist{at}") from None
        if code in _AUTH_CODES:
            raise DeliveryError(did, f"access to {source} refused ({code}: {error.get('Message', '')}); "
                                     "check the credentials in the environment") from None
        message = f"{code} {error.get('Message', '')}".strip()
        raise DeliveryError(did, f"S3 error at {source}: {message}") from None
    except BotoCoreError as exc:
        raise DeliveryError(did, f"S3 error at {source}: {redact(exc)}") from None


def _client(did: str, delivery: dict, config_dir: Path):
    endpoint = delivery.get("endpoint_url")
    style = delivery.get("addressing_style") or ("path" if endpoint else "auto")
    if style not in ("path", "virtual", "auto"):
        raise DeliveryError(did, f"delivery.addressing_style must be path, virtual or auto, not {style!r}")
    key_id = env_value(did, delivery, "access_key_id_env")
    secret = env_value(did, delivery, "secret_access_key_env")
    token = env_value(did, delivery, "session_token_env")
    if (key_id is None) != (secret is None):
        raise DeliveryError(did, "delivery.access_key_id_env and delivery.secret_access_key_env go together")
    verify = delivery.get("ca_bundle")
    try:
        session = boto3.session.Session(profile_name=delivery.get("profile") or None)
        return session.client(
            "s3", endpoint_url=endpoint or None, region_name=delivery.get("region") or None,
            aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token,
            verify=str(resolve_path(config_dir, verify)) if verify else None,
            config=Config(s3={"addressing_style": style}, retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=float(delivery.get("timeout", 30)), read_timeout=60),
        )
    except (BotoCoreError, ValueError) as exc:
        raise DeliveryError(did, f"cannot set up the S3 client: {redact(exc)}") from None


def _list(client, fetcher: Fetcher, bucket: str, base: str) -> Listing:
    listing = Listing()
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=base + fetcher.night):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            etag = str(obj.get("ETag", "")).strip('"').lower()
            md5 = etag if len(etag) == 32 and "-" not in etag else None  # a multipart ETag is not an MD5
            classify(fetcher, listing, key[len(base):], int(obj["Size"]), key, md5=md5)
    return listing


def _download(client, fetcher: Fetcher, bucket: str, rf, temp: Path) -> None:
    response = client.get_object(Bucket=bucket, Key=rf.ref)
    md5 = hashlib.md5(usedforsecurity=False)
    body = response["Body"]
    try:
        with open(temp, "wb") as out:
            for chunk in body.iter_chunks(CHUNK):
                out.write(chunk)
                md5.update(chunk)
    finally:
        body.close()
    if rf.md5 is not None and md5.hexdigest() != rf.md5:
        raise fetcher.error(f"{rf.rel} from {fetcher.source} does not match its ETag (corrupt or changed "
                            "during the download); try again later")
