"""Fill in the chunk checksums of an MCAP file written by ``rosbags`` (which leaves them 0).

The MCAP spec lets a writer store 0 for "no checksum"; ``rosbags`` does, so a flipped byte in a
message goes unnoticed on replay. ``ros2 bag record`` (the mcap C++ writer) stores CRC-32s, and
``rosbags`` checks any non-zero one when it reads a chunk. Sealing our bags the same way makes a
corrupt bag an error instead of silently wrong numbers. Only the 4-byte CRC field of each chunk
is rewritten in place; no offset in the file changes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import BinaryIO

MAGIC = b"\x89MCAP0\r\n"
_OP_CHUNK = 0x06
_OP_FOOTER = 0x02


class McapFormatError(ValueError):
    """The file is not a well-formed MCAP file."""


def seal_chunk_crcs(path: str | Path) -> int:
    """Write the CRC-32 of every uncompressed chunk whose CRC is 0; returns how many were sealed.

    Compressed chunks are left alone (rosbags writes uncompressed chunks unless asked otherwise).
    """
    path = Path(path)
    sealed = 0
    with path.open("r+b") as f:
        if f.read(8) != MAGIC:
            raise McapFormatError(f"'{path}' does not start with the MCAP magic")
        while True:
            head = f.read(9)
            if len(head) < 9:
                raise McapFormatError(f"'{path}' ends inside a record header (truncated)")
            op, length = head[0], struct.unpack("<Q", head[1:])[0]
            start = f.tell()
            if op == _OP_FOOTER:
                return sealed
            if op == _OP_CHUNK:
                body = f.read(length)
                if len(body) < length:
                    raise McapFormatError(f"'{path}' ends inside a chunk (truncated)")
                sealed += _seal(f, start, body)
            f.seek(start + length)


def _seal(f: BinaryIO, start: int, body: bytes) -> int:
    uncompressed_size, crc = struct.unpack_from("<QI", body, 16)
    (clen,) = struct.unpack_from("<I", body, 28)
    compression = body[32:32 + clen]
    (rlen,) = struct.unpack_from("<Q", body, 32 + clen)
    records = body[40 + clen:40 + clen + rlen]
    if crc != 0 or compression != b"" or len(records) != uncompressed_size:
        return 0
    f.seek(start + 24)
    f.write(struct.pack("<I", zlib.crc32(records)))
    return 1
