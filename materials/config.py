"""Materials settings: environment variables, overridden per app by ``Settings.extra`` (same names),
as the evaluation's are, so tests run a local and an S3 store side by side."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from queue_server.config import Settings


@dataclass(frozen=True)
class MaterialsConfig:
    store: str                       # "local" (a folder) or "s3" (an S3-compatible bucket)
    folder: Path                     # the local store's folder
    max_bytes: int                   # one scan at most this large, refused while it streams in
    link_key: bytes                  # signs the short-lived links a scan is served by
    link_ttl_s: int
    return_days: int                 # originals at the center longer than this are overdue to go back
    s3_endpoint: str = ""            # host:port
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = ""
    s3_secure: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> "MaterialsConfig":
        env = {**os.environ, **settings.extra}
        store = env.get("QUEUE_MATERIALS_STORE", "local").strip() or "local"
        if store not in ("local", "s3"):
            raise ValueError("QUEUE_MATERIALS_STORE must be local or s3")
        if store == "s3" and not (env.get("QUEUE_MATERIALS_S3_ENDPOINT") and env.get("QUEUE_MATERIALS_S3_BUCKET")):
            raise ValueError("the s3 store needs QUEUE_MATERIALS_S3_ENDPOINT and QUEUE_MATERIALS_S3_BUCKET")
        return cls(
            store=store,
            folder=Path(env.get("QUEUE_MATERIALS_DIR") or settings.data_dir / "materials"),
            max_bytes=int(env.get("QUEUE_MATERIALS_MAX_BYTES") or 10 * 1024 * 1024),
            link_key=_link_key(env.get("QUEUE_MATERIALS_LINK_KEY", ""), settings.admin_token),
            link_ttl_s=int(env.get("QUEUE_MATERIALS_LINK_TTL_S") or 300),
            return_days=int(env.get("QUEUE_PACKAGE_RETURN_DAYS") or 10),
            s3_endpoint=env.get("QUEUE_MATERIALS_S3_ENDPOINT", ""),
            s3_bucket=env.get("QUEUE_MATERIALS_S3_BUCKET", ""),
            s3_access_key=env.get("QUEUE_MATERIALS_S3_ACCESS_KEY", ""),
            s3_secret_key=env.get("QUEUE_MATERIALS_S3_SECRET_KEY", ""),
            s3_region=env.get("QUEUE_MATERIALS_S3_REGION", ""),
            s3_secure=env.get("QUEUE_MATERIALS_S3_SECURE", "true").lower() not in ("0", "false", "no"),
        )


def _link_key(configured: str, admin_token: str | None) -> bytes:
    """Every instance must sign alike: the configured key, else one derived from the admin token they
    share; with neither, a key of this process only (links then work on the instance that made them)."""
    if configured:
        return configured.encode()
    if admin_token:
        return hmac.new(admin_token.encode(), b"materials scan links", hashlib.sha256).digest()
    return secrets.token_bytes(32)
