"""The embedded Redis used by `demo`, `serve` and the test suite is real, and leaves no process behind."""

from __future__ import annotations

import os

from redis import Redis

from backoffice.embedded_redis import EmbeddedRedis, _alive


def test_it_serves_real_redis_on_a_unix_socket_and_stops_for_good(tmp_path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    pid = server.pid
    assert url.startswith("unix://")
    client = Redis.from_url(url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert client.info()["redis_version"].startswith("6.")
    client.close()
    server.stop()
    assert not _alive(pid)
    server.stop()  # idempotent
    assert os.path.exists(tmp_path)


def test_its_socket_folder_is_removed(tmp_path) -> None:
    server = EmbeddedRedis(tmp_path)
    socket_dir = os.path.dirname(server.start().removeprefix("unix://"))
    server.stop()
    assert not os.path.exists(socket_dir)
