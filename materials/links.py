"""Short-lived signed links to a scan: residents' documents have no public URL. Whoever may see a
ticket's materials gets a link that names one scan and its expiry, signed with HMAC-SHA256; the file
endpoint checks the signature and the time and nothing else, so a link works on any instance (they
share the key) and for no longer than ``QUEUE_MATERIALS_LINK_TTL_S``."""
from __future__ import annotations

import hashlib
import hmac


def signature(key: bytes, scan_id: int, expires_s: int) -> str:
    return hmac.new(key, f"scan:{scan_id}:{expires_s}".encode(), hashlib.sha256).hexdigest()


def link(key: bytes, scan_id: int, now_ms: int, ttl_s: int) -> tuple[str, int]:
    """The path of the scan's file, and its expiry (epoch seconds)."""
    expires = now_ms // 1000 + ttl_s
    return f"/api/v1/materials/scans/{scan_id}/file?expires={expires}&sig={signature(key, scan_id, expires)}", expires


def valid(key: bytes, scan_id: int, expires: str, sig: str, now_ms: int) -> bool:
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12) or int(expires) * 1000 < now_ms:
        return False
    return hmac.compare_digest(signature(key, scan_id, int(expires)), sig)
