"""Where the bytes of scans live: content-addressed, the SHA-256 of the bytes is the name, so the same
bytes uploaded twice are stored once. A local folder by default; an S3-compatible bucket in production
(through the ``minio`` client, whose calls run in a worker thread). Nothing here is ever public: the
API serves a scan only by a signed link (links.py)."""
from __future__ import annotations

import asyncio
import io
import os
import tempfile
from pathlib import Path
from typing import Protocol

from minio import Minio
from minio.error import S3Error

from .config import MaterialsConfig


class BlobStore(Protocol):
    async def put(self, sha256: str, data: bytes, media_type: str) -> bool:
        """Store the bytes under their hash; False when they were there already."""

    async def get(self, sha256: str) -> bytes | None: ...


def object_name(sha256: str) -> str:
    """Fanned out by the first bytes of the hash, so no folder holds millions of names."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _put(self, sha256: str, data: bytes) -> bool:
        path = self.folder / object_name(sha256)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        # written aside and renamed: a reader never sees a half-written file under the hash's name
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    async def put(self, sha256: str, data: bytes, media_type: str) -> bool:
        return await asyncio.to_thread(self._put, sha256, data)

    def _get(self, sha256: str) -> bytes | None:
        try:
            return (self.folder / object_name(sha256)).read_bytes()
        except FileNotFoundError:
            return None

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self._get, sha256)


class S3Store:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _exists(self, name: str) -> bool:
        try:
            self.client.stat_object(self.bucket, name)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise

    def _put(self, sha256: str, data: bytes, media_type: str) -> bool:
        name = object_name(sha256)
        if self._exists(name):
            return False
        self.client.put_object(self.bucket, name, io.BytesIO(data), len(data), content_type=media_type)
        return True

    async def put(self, sha256: str, data: bytes, media_type: str) -> bool:
        return await asyncio.to_thread(self._put, sha256, data, media_type)

    def _get(self, sha256: str) -> bytes | None:
        try:
            response = self.client.get_object(self.bucket, object_name(sha256))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self._get, sha256)


def open_store(config: MaterialsConfig) -> BlobStore:
    if config.store == "s3":
        client = Minio(config.s3_endpoint, access_key=config.s3_access_key or None,
                       secret_key=config.s3_secret_key or None, region=config.s3_region or None,
                       secure=config.s3_secure)
        return S3Store(client, config.s3_bucket)
    return LocalStore(config.folder)
