"""The sandbox's media (issue 3, points 2 and 7): generated samples are valid files of their type and
small; the CDN checks signatures and lets story links expire."""
from __future__ import annotations

import io
import struct
import wave
import zlib

from webapp.sandbox import media, video

from .conftest import APP_SECRET, PUBLIC


def test_samples_are_small():
    assert sum(len(data) for _, data in media.samples().values()) < 50 * 1024


def test_png_samples_are_valid_pngs():
    for asset in ("sample-image", "sample-story", "sample-post"):
        data = media.samples()[asset][1]
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        position = 8
        while position < len(data):  # every chunk's CRC must match
            (length,) = struct.unpack(">I", data[position:position + 4])
            kind_and_body = data[position + 4:position + 8 + length]
            (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
            assert zlib.crc32(kind_and_body) & 0xFFFFFFFF == crc
            position += 12 + length


def test_wav_sample_is_readable_audio():
    with wave.open(io.BytesIO(media.samples()["sample-audio"][1])) as audio:
        assert audio.getnchannels() == 1 and audio.getframerate() == 8000 and audio.getnframes() == 4800


def test_pdf_sample_has_a_correct_xref_table():
    data = media.samples()["sample-file"][1]
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    xref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[xref:xref + 4] == b"xref"
    offsets = [int(line[:10]) for line in data[xref:].split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(b"%d 0 obj" % number)


def test_mp4_sample_is_a_well_formed_iso_file_with_an_avc_track():
    data = media.samples()["sample-video"][1]
    boxes, position = [], 0
    while position < len(data):
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        boxes.append(kind)
        position += size
    assert boxes == [b"ftyp", b"moov", b"mdat"] and position == len(data)
    assert b"avcC" in data and b"avc1" in data
    mdat = data.index(b"mdat") + 4
    (first_sample,) = struct.unpack(">I", data[mdat:mdat + 4])
    assert data[mdat + 4] == 0x65  # an IDR slice NAL unit starts the first sample
    assert first_sample == len(video.idr_slice(0))


def test_exp_golomb_codes():
    bits = video.BitWriter()
    for value in (0, 1, 2, 3, 25):
        bits.ue(value)
    assert "".join(map(str, bits.bits)) == "1" + "010" + "011" + "00100" + "000011010"


def test_cdn_refuses_a_forged_signature_and_expired_story_links(client, sandbox, frozen):
    good = media.cdn_url(PUBLIC + "/sandbox", APP_SECRET, "sample-image").removeprefix(PUBLIC + "/sandbox")
    assert client.get(good).status_code == 200
    assert client.get(good.replace("signature=", "signature=0")).status_code == 403
    story = media.cdn_url(PUBLIC + "/sandbox", APP_SECRET, "sample-story", sandbox.now_ms() + 3600_000)
    path = story.removeprefix(PUBLIC + "/sandbox")
    assert client.get(path).status_code == 200
    frozen.advance(2 * 3600)
    assert client.get(path).status_code == 403  # "story no longer available"


def test_avatars_are_svg_with_escaped_text(client):
    response = client.get("/cdn/avatars/customer/erica.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "<script" not in media.avatar_svg("<script>", "#000") and "&lt;" in media.avatar_svg("<b> x", "#000")


def test_media_links_in_webhooks_expire_so_clients_must_download_them(meta, client, frozen):
    url = meta.customer(kind="image")["item"]["message"]["attachments"][0]["payload"]["url"]
    path = url.removeprefix(PUBLIC + "/sandbox")
    assert "oe=" in url and client.get(path).status_code == 200
    frozen.advance(73 * 3600)
    assert client.get(path).status_code == 403
    meta.settings(media_url_lifetime_hours=0)
    forever = meta.customer(kind="image")["item"]["message"]["attachments"][0]["payload"]["url"]
    assert "oe=" not in forever
