"""The embedded Postgres: a port of each project folder's own, and never a server it did not start."""

from __future__ import annotations

import socket

import pytest

from sis_sync import db


def test_each_project_folder_gets_its_own_port(tmp_path, monkeypatch):
    monkeypatch.delenv("SIS_SYNC_EMBEDDED_PORT", raising=False)
    one, other = db.embedded_port(tmp_path / "a" / "pg"), db.embedded_port(tmp_path / "b" / "pg")
    assert one != other and one in db.EMBEDDED_PORTS and other in db.EMBEDDED_PORTS
    assert db.embedded_port(tmp_path / "a" / "pg") == one, "the same folder, the same port"
    monkeypatch.setenv("SIS_SYNC_EMBEDDED_PORT", "55999")
    assert db.embedded_port(tmp_path / "a" / "pg") == 55999


def test_a_port_taken_by_another_server_is_refused_not_used(tmp_path, monkeypatch):
    monkeypatch.delenv("SIS_SYNC_EMBEDDED_PORT", raising=False)
    data_dir = tmp_path / "pg"
    with socket.socket() as other:  # something else listens on the folder's port
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            other.bind(("127.0.0.1", db.embedded_port(data_dir)))
        except OSError:
            pytest.skip("the folder's port is in use on this machine already")
        other.listen()
        with pytest.raises(db.EmbeddedPortTaken, match="did not start"):
            db.start_embedded(data_dir)
    assert not (data_dir / "postmaster.pid").exists()
    assert db.stop_embedded(data_dir) is False, "nothing of ours runs there"
