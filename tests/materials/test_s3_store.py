"""The S3-compatible store, against moto's server mode started here on a free port (a real HTTP S3
endpoint, through the real `minio` client): a scan lands in the bucket under its SHA-256, the same bytes
twice are one object, a refused upload leaves the bucket empty, and the signed link serves the bytes."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer

from queue_server.config import Settings
from tests.materials.helpers import PDF, called_ticket, png, upload, with_store
from tests.support import running_app

BUCKET = "scans"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3() -> Iterator[tuple[str, Minio]]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = Minio(f"127.0.0.1:{port}", access_key="test", secret_key="test-secret", region="us-east-1",
                       secure=False)
        client.make_bucket(BUCKET)
        yield f"127.0.0.1:{port}", client
    finally:
        server.stop()


async def test_scans_go_to_the_bucket_once_per_content(settings: Settings, tmp_path: Path,
                                                       s3: tuple[str, Minio]) -> None:
    endpoint, client = s3
    config = with_store(settings, tmp_path, QUEUE_MATERIALS_STORE="s3", QUEUE_MATERIALS_S3_ENDPOINT=endpoint,
                        QUEUE_MATERIALS_S3_BUCKET=BUCKET, QUEUE_MATERIALS_S3_ACCESS_KEY="test",
                        QUEUE_MATERIALS_S3_SECRET_KEY="test-secret", QUEUE_MATERIALS_S3_REGION="us-east-1",
                        QUEUE_MATERIALS_S3_SECURE="false")
    async with running_app(config) as (_, http):
        a = await called_ticket(http)
        assert (await upload(http, a, 1, PDF, media_type="image/jpeg")).status_code == 415
        assert list(client.list_objects(BUCKET, recursive=True)) == []
        card = png(5, 4000)
        first = await upload(http, a, 1, card)
        second = await upload(http, a, 2, card)
        assert first.status_code == second.status_code == 201
        names = [o.object_name for o in client.list_objects(BUCKET, recursive=True)]
        sha = first.json()["sha256"]
        assert names == [f"{sha[:2]}/{sha[2:4]}/{sha}"]
        got = await http.get(first.json()["url"])
        assert got.status_code == 200 and got.content == card
        assert list(tmp_path.rglob("*")) == []                     # nothing in the local folder
