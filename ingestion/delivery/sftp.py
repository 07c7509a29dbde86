"""SFTP delivery (asyncssh client), with the server's host key pinned in a known_hosts file.

.. code-block:: yaml

    delivery:
      method: sftp
      host: sftp.district.example.org
      port: 22
      path: /exports                         # remote root holding <district_id>/ (default: the login folder)
      known_hosts: keys/lincoln_known_hosts  # required, relative to the districts file's folder
      username_env: LINCOLN_SFTP_USER        # required
      password_env: LINCOLN_SFTP_PASSWORD    # and/or:
      key_file_env: LINCOLN_SFTP_KEY         # a private key file's path, or the key text itself
      key_passphrase_env: LINCOLN_SFTP_KEY_PASSPHRASE   # optional
      timeout: 30                            # optional, seconds to connect and log in

Host key checking is strict: only the keys in the pinned ``known_hosts`` file (OpenSSH format; write the host
as ``[host]:port`` when the port is not 22, e.g. from ``ssh-keyscan -p PORT host``) are trusted. An unknown or
changed key is refused and never added; without a ``known_hosts`` file nothing is fetched. The user's
``~/.ssh/config``, ``~/.ssh/known_hosts``, default keys and SSH agent are never consulted: the districts file
and the environment alone say how to connect.

Files are downloaded to ``<name>.download`` and renamed when complete (see :mod:`sis_sync.ingestion.delivery`). SFTP
gives no cheap content hash, so every file of the night is downloaded again on each fetch; a file whose bytes
did not change is left untouched locally.
"""

from __future__ import annotations

import asyncio
import posixpath
from datetime import date
from pathlib import Path

import asyncssh

from sis_sync.config import District
from sis_sync.ingestion.delivery.common import (
    DeliveryError,
    Fetcher,
    FetchResult,
    Listing,
    classify,
    env_value,
    refuse_inline_secrets,
    resolve_path,
)

DEFAULT_TIMEOUT = 30.0


def fetch(district: District, export_date: date, dest_root: Path, config_dir: Path) -> FetchResult:
    delivery = district.delivery
    did = district.id
    refuse_inline_secrets(did, delivery)
    host = str(delivery.get("host") or "")
    if not host:
        raise DeliveryError(did, "delivery.host is missing for the sftp method")
    try:
        port = int(delivery.get("port", 22))
        timeout = float(delivery.get("timeout", DEFAULT_TIMEOUT))
    except (TypeError, ValueError) as exc:
        raise DeliveryError(did, f"delivery.port / delivery.timeout must be numbers: {exc}") from exc
    root = str(delivery.get("path") or ".")
    where = f"{host}:{port}"

    known_hosts_file, known_hosts = _pinned_known_hosts(did, delivery, config_dir, where)
    username = env_value(did, delivery, "username_env", required=True)
    password = env_value(did, delivery, "password_env")
    client_key = _client_key(did, delivery)
    if password is None and client_key is None:
        raise DeliveryError(did, "the sftp delivery needs password_env and/or key_file_env")

    source = f"sftp://{where}{'' if root.startswith('/') else '/'}{root}"
    fetcher = Fetcher(did, export_date, dest_root, source=source)
    options = dict(
        host=host, port=port, username=username, password=password,
        client_keys=[client_key] if client_key is not None else None,
        known_hosts=known_hosts,  # the pinned keys only; never None (that would accept any key)
        config=[], agent_path=None, x509_trusted_certs=None, x509_trusted_cert_paths=None,
        connect_timeout=timeout, login_timeout=timeout,
    )
    try:
        return asyncio.run(_fetch(fetcher, options, root))
    except DeliveryError:
        raise
    except (asyncssh.Error, OSError, asyncio.TimeoutError) as exc:
        raise _connection_error(exc, fetcher, host, port, timeout, username, known_hosts, known_hosts_file) from None


def _connection_error(exc: BaseException, fetcher: Fetcher, host: str, port: int, timeout: float, username: str,
                      known_hosts, known_hosts_file: Path) -> DeliveryError:
    """What went wrong connecting to the server or reading from it, for the operator."""
    did = fetcher.district_id
    where = f"{host}:{port}"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        pinned = asyncssh.match_known_hosts(known_hosts, host, "", port if port != 22 else None)[0]
        why = ("the server presented a different key than the one pinned for it (the host key changed, or "
               "someone is in the middle)" if pinned else f"the file has no key for {_pattern(host, port)}")
        return DeliveryError(
            did, f"HostKeyError: the host key of {where} is not trusted by the pinned known_hosts file "
                 f"{known_hosts_file}: {why}; refusing to connect ({exc.reason})")
    if isinstance(exc, asyncssh.KeyExchangeFailed):
        return DeliveryError(
            did, f"key exchange with {where} failed ({exc.reason}); is the server's host key type among "
                 f"those pinned in {known_hosts_file}?")
    if isinstance(exc, asyncssh.PermissionDenied):
        return DeliveryError(did, f"authentication failed for user {username!r} at {where} ({exc.reason})")
    if isinstance(exc, asyncssh.SFTPError):
        return DeliveryError(did, f"SFTP error at {fetcher.source}: {exc.reason}")
    if isinstance(exc, asyncssh.Error):
        return DeliveryError(did, f"SSH error with {where}: {exc.reason}")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return DeliveryError(did, f"timed out after {timeout:g}s connecting to {where}")
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError(did, f"connection refused by {where}")
    return DeliveryError(did, f"cannot connect to {where}: {exc}")


def _pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _pinned_known_hosts(did: str, delivery: dict, config_dir: Path, where: str):
    name = delivery.get("known_hosts")
    if not name:
        raise DeliveryError(
            did, f"HostKeyError: no pinned known_hosts file for {where} (delivery.known_hosts); refusing to "
                 "connect to a server whose host key cannot be checked")
    path = resolve_path(config_dir, str(name))
    if not path.is_file():
        raise DeliveryError(
            did, f"HostKeyError: the pinned known_hosts file {path} for {where} does not exist; "
                 "refusing to connect")
    try:
        return path, asyncssh.read_known_hosts(str(path))
    except (OSError, ValueError) as exc:
        raise DeliveryError(did, f"cannot read the pinned known_hosts file {path}: {exc}") from exc


def _client_key(did: str, delivery: dict):
    value = env_value(did, delivery, "key_file_env")
    if value is None:
        return None
    passphrase = env_value(did, delivery, "key_passphrase_env")
    try:
        if "PRIVATE KEY-----" in value:
            return asyncssh.import_private_key(value, passphrase)
        return asyncssh.read_private_key(Path(value).expanduser(), passphrase)
    except (OSError, ValueError, asyncssh.KeyImportError) as exc:
        var = delivery.get("key_file_env")
        raise DeliveryError(did, f"cannot load the SFTP private key given by {var}: {exc}") from None


async def _fetch(fetcher: Fetcher, options: dict, root: str) -> FetchResult:
    async with asyncssh.connect(**options) as conn, conn.start_sftp_client() as sftp:
        listing = await _list(sftp, fetcher, root)
        for rf in fetcher.to_fetch(listing):
            temp = fetcher.temp_path(rf)
            await sftp.get(rf.ref, str(temp), preserve=False, sparse=False)
            fetcher.commit(rf, temp)
        return fetcher.result(listing)


async def _list(sftp: asyncssh.SFTPClient, fetcher: Fetcher, root: str) -> Listing:
    listing = Listing()
    night = fetcher.night
    district_dir = posixpath.join(root, fetcher.district_id)
    try:
        if (await sftp.lstat(district_dir)).type == asyncssh.FILEXFER_TYPE_SYMLINK:
            raise fetcher.error(f"the remote folder {district_dir!r} is a symbolic link: only the district's own"
                                " folder is read")
        entries = await sftp.readdir(district_dir)
    except asyncssh.SFTPNoSuchFile:
        if not await sftp.isdir(root):
            raise fetcher.error(f"the remote folder {root!r} does not exist at {fetcher.source}") from None
        return listing  # no folder for this district yet: no export
    for entry in sorted(entries, key=lambda e: str(e.filename)):
        name = str(entry.filename)
        if not name.startswith(night):
            continue
        path = posixpath.join(district_dir, name)
        if entry.attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
            listing.links.append(name)
            continue
        attrs = await _resolve(sftp, path, entry.attrs)
        if name == night and attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
            listing.found = True
            await _list_night_folder(sftp, fetcher, listing, path)
        elif attrs.type == asyncssh.FILEXFER_TYPE_REGULAR:
            classify(fetcher, listing, name, attrs.size, path)
    return listing


async def _list_night_folder(sftp: asyncssh.SFTPClient, fetcher: Fetcher, listing: Listing, folder: str) -> None:
    """Adds the regular files of the night's folder to ``listing`` (its symbolic links as links)."""
    night = fetcher.night
    for child in sorted(await sftp.readdir(folder), key=lambda e: str(e.filename)):
        child_name = str(child.filename)
        if child_name in (".", ".."):
            continue
        child_path = posixpath.join(folder, child_name)
        if child.attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
            listing.links.append(f"{night}/{child_name}")
            continue
        child_attrs = await _resolve(sftp, child_path, child.attrs)
        if child_attrs.type == asyncssh.FILEXFER_TYPE_REGULAR:
            classify(fetcher, listing, f"{night}/{child_name}", child_attrs.size, child_path)


async def _resolve(sftp: asyncssh.SFTPClient, path: str, attrs: asyncssh.SFTPAttrs) -> asyncssh.SFTPAttrs:
    """The attributes of ``path`` (a symbolic link is never followed: the caller skips it), with a size for
    regular files."""
    if attrs.size is None:
        try:
            return await sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:  # a dangling link, or a file removed since the listing
            return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_UNKNOWN)
    return attrs
