"""A tiny, valid MP4 video generated in Python: H.264 Constrained Baseline with I_PCM macroblocks.

Real encoders need entropy-coding tables; I_PCM macroblocks carry raw samples instead, so a correct stream
only needs the bit syntax of the parameter sets and slice headers (ITU-T H.264 §7.3). The clip is 32×32,
12 frames at 6 fps (2 s) of a square sliding across, about 19 KB, wrapped in a plain ISO-BMFF file.
"""
from __future__ import annotations

import struct

WIDTH, HEIGHT, FRAMES, FPS = 32, 32, 12, 6
TIMESCALE = 1000


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, count: int, value: int) -> None:
        self.bits.extend((value >> shift) & 1 for shift in reversed(range(count)))

    def ue(self, value: int) -> None:
        """Exp-Golomb code: leading zeros, then value+1 in binary."""
        coded = value + 1
        self.u(coded.bit_length() - 1, 0)
        self.u(coded.bit_length(), coded)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        while len(self.bits) % 8:
            self.bits.append(0)

    def raw(self, data: bytes) -> None:
        for byte in data:
            self.u(8, byte)

    def trailing(self) -> None:
        self.bits.append(1)
        self.align_zero()

    def to_bytes(self) -> bytes:
        return bytes(int("".join(map(str, self.bits[i:i + 8])), 2) for i in range(0, len(self.bits), 8))


def nal(header: int, rbsp: bytes) -> bytes:
    """A NAL unit with emulation prevention (00 00 0x, x <= 3, becomes 00 00 03 0x)."""
    out, zeros = bytearray([header]), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sps() -> bytes:
    bits = BitWriter()
    bits.u(8, 66)  # profile_idc: Baseline
    bits.u(8, 0b11000000)  # constraint_set0/1: Constrained Baseline
    bits.u(8, 30)  # level 3.0
    bits.ue(0)  # seq_parameter_set_id
    bits.ue(0)  # log2_max_frame_num_minus4
    bits.ue(2)  # pic_order_cnt_type 2: output order = decoding order
    bits.ue(1)  # max_num_ref_frames
    bits.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    bits.ue(WIDTH // 16 - 1)
    bits.ue(HEIGHT // 16 - 1)
    bits.u(1, 1)  # frame_mbs_only_flag
    bits.u(1, 1)  # direct_8x8_inference_flag
    bits.u(1, 0)  # frame_cropping_flag
    bits.u(1, 0)  # vui_parameters_present_flag
    bits.trailing()
    return nal(0x67, bits.to_bytes())


def pps() -> bytes:
    bits = BitWriter()
    bits.ue(0)  # pic_parameter_set_id
    bits.ue(0)  # seq_parameter_set_id
    bits.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    bits.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    bits.ue(0)  # num_slice_groups_minus1
    bits.ue(0)  # num_ref_idx_l0_default_active_minus1
    bits.ue(0)  # num_ref_idx_l1_default_active_minus1
    bits.u(1, 0)  # weighted_pred_flag
    bits.u(2, 0)  # weighted_bipred_idc
    bits.se(0)  # pic_init_qp_minus26
    bits.se(0)  # pic_init_qs_minus26
    bits.se(0)  # chroma_qp_index_offset
    bits.u(1, 1)  # deblocking_filter_control_present_flag
    bits.u(1, 0)  # constrained_intra_pred_flag
    bits.u(1, 0)  # redundant_pic_cnt_present_flag
    bits.trailing()
    return nal(0x68, bits.to_bytes())


def _luma(frame: int, x: int, y: int) -> int:
    left = frame * (WIDTH - 12) // (FRAMES - 1)
    return 220 if left <= x < left + 12 and 10 <= y < 22 else 40 + y * 2


def idr_slice(frame: int) -> bytes:
    """One picture as an IDR slice whose macroblocks are all I_PCM."""
    bits = BitWriter()
    bits.ue(0)  # first_mb_in_slice
    bits.ue(7)  # slice_type: I (all slices of the picture)
    bits.ue(0)  # pic_parameter_set_id
    bits.u(4, 0)  # frame_num (always 0 for an IDR picture)
    bits.ue(frame % 2)  # idr_pic_id: consecutive IDR pictures must differ
    bits.u(1, 0)  # no_output_of_prior_pics_flag
    bits.u(1, 0)  # long_term_reference_flag
    bits.se(0)  # slice_qp_delta
    bits.ue(1)  # disable_deblocking_filter_idc: off
    for mb_y in range(HEIGHT // 16):
        for mb_x in range(WIDTH // 16):
            bits.ue(25)  # mb_type I_PCM
            bits.align_zero()
            luma = bytes(_luma(frame, mb_x * 16 + i % 16, mb_y * 16 + i // 16) for i in range(256))
            bits.raw(luma + bytes([90]) * 64 + bytes([200]) * 64)  # Cb then Cr: a warm tint
    bits.trailing()
    return nal(0x65, bits.to_bytes())


def box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _sample_table(sizes: list[int], chunk_offset: int) -> bytes:
    avcc = box(b"avcC", bytes([1, 66, 0b11000000, 30, 0xFF, 0xE1]), struct.pack(">H", len(sps())), sps(),
               bytes([1]), struct.pack(">H", len(pps())), pps())
    entry = box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", WIDTH, HEIGHT),
                struct.pack(">II", 0x480000, 0x480000), bytes(4), struct.pack(">H", 1), bytes(32),
                struct.pack(">Hh", 0x18, -1), avcc)
    return box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, len(sizes), TIMESCALE // FPS)),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(sizes), 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, len(sizes)), b"".join(struct.pack(">I", s) for s in sizes)),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
    )


def _moov(sizes: list[int], chunk_offset: int) -> bytes:
    duration = len(sizes) * (TIMESCALE // FPS)
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, duration), struct.pack(">IH", 0x10000, 0x100),
                    bytes(10), MATRIX, bytes(24), struct.pack(">I", 2))
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, duration), bytes(8),
                    struct.pack(">hhhH", 0, 0, 0, 0), MATRIX, struct.pack(">II", WIDTH << 16, HEIGHT << 16))
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, duration), struct.pack(">HH", 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, _sample_table(sizes, chunk_offset))
    return box(b"moov", mvhd, box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf)))


def mp4_clip() -> bytes:
    samples = [struct.pack(">I", len(unit)) + unit for unit in (idr_slice(frame) for frame in range(FRAMES))]
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2avc1mp41")
    sizes = [len(sample) for sample in samples]
    moov_size = len(_moov(sizes, 0))
    moov = _moov(sizes, len(ftyp) + moov_size + 8)
    return ftyp + moov + box(b"mdat", *samples)
