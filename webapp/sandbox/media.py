"""Media the sandbox serves as Meta's CDN: generated samples, SVG avatars and media the business sent.

Samples are generated in Python (no binary files to vet, no external URLs): a PNG, a WAV, a PDF and an
MP4 (H.264) video. URLs look like Meta's lookaside CDN (`…/ig_messaging_cdn/?asset_id=…&signature=…`) and the
signature is checked, so a client cannot forge one; story links carry an expiry (`oe`) like Meta's.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import io
import math
import struct
import wave
import zlib
from html import escape
from urllib.parse import urlencode

from . import video


def _png(width: int, height: int, pixel) -> bytes:
    """A truecolor PNG; `pixel(x, y)` returns an (r, g, b) tuple."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes(rows), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _photo(x: int, y: int) -> tuple[int, int, int]:
    """A sunset: sky gradient, a sun, the sea."""
    if (x - 48) ** 2 + (y - 44) ** 2 < 14**2:
        return (255, 214, 90)
    if y > 60:
        return (20, 60 + y // 2, 120 + y // 2)
    return (240, 120 + y, 90 + y // 2)


def _story(x: int, y: int) -> tuple[int, int, int]:
    return (120 + x, 60, 160 + y // 2) if (x // 12 + y // 12) % 2 else (200, 80 + y // 2, 140)


def _wav() -> bytes:
    """Two short beeps, 8 kHz mono 8-bit PCM (about 5 KB)."""
    rate, samples = 8000, bytearray()
    for index in range(int(rate * 0.6)):
        second = index / rate
        audible = second < 0.2 or 0.35 < second < 0.55
        value = math.sin(2 * math.pi * 660 * second) if audible else 0.0
        samples.append(int(128 + 90 * value))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return buffer.getvalue()


def _pdf() -> bytes:
    """A one-page PDF with a line of text; offsets in the xref table are computed, so it is valid."""
    text = b"BT /F1 18 Tf 40 100 Td (Pedido 1042 - recibo de exemplo) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@functools.cache
def samples() -> dict[str, tuple[str, bytes]]:
    """asset id -> (content type, bytes). Built once per process, deterministic."""
    return {
        "sample-image": ("image/png", _png(96, 96, _photo)),
        "sample-story": ("image/png", _png(90, 160, _story)),
        "sample-post": ("image/png", _png(80, 80, lambda x, y: (40 + x * 2, 140, 200 - y))),
        "sample-audio": ("audio/wav", _wav()),
        "sample-file": ("application/pdf", _pdf()),
        "sample-video": ("video/mp4", video.mp4_clip()),
    }


def signature(secret: str, asset_id: str, expires: str = "") -> str:
    return hmac.new(secret.encode(), f"{asset_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def cdn_url(base_url: str, secret: str, asset_id: str, expires_ms: int | None = None) -> str:
    """A lookaside-CDN style URL on the sandbox itself (never the internet)."""
    expires = format(expires_ms // 1000, "x") if expires_ms else ""
    params = {"asset_id": asset_id, "signature": signature(secret, asset_id, expires)}
    if expires:
        params["oe"] = expires
    return f"{base_url}/cdn/ig_messaging_cdn/?{urlencode(params)}"


def avatar_svg(label: str, color: str) -> str:
    """A round avatar with initials; `label` is escaped for XML."""
    initials = "".join(word[0] for word in label.replace("@", " ").replace(".", " ").split()[:2]).upper() or "?"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">'
        f'<circle cx="64" cy="64" r="64" fill="{escape(color)}"/>'
        '<text x="64" y="78" font-family="sans-serif" font-size="44" text-anchor="middle" fill="#fff">'
        f"{escape(initials)}</text></svg>"
    )
