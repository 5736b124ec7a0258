"""Just enough SPDY/3.1 for `kubectl port-forward`: kubectl 1.32 tunnels a SPDY session inside binary
WebSocket messages (subprotocol `SPDY/3.1+portforward.k8s.io`), and opens two streams per forwarded
connection (an error stream and a data stream) with SYN_STREAM frames whose headers say which.

Frames (draft-mbelshe-httpbis-spdy-00, section 2.2): a control frame starts with the control bit, the
version (3) and a type; a data frame with a 31-bit stream id; both then carry 8 bits of flags and a 24-bit
length. Header blocks are zlib-compressed with one stream per direction for the whole session, primed
with the dictionary of section 2.6.10.1. Pure Python: the consumer in cluster.api.portforward feeds it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01

# The header compression dictionary: length-prefixed header names and values, then a run of common text.
_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin",
)
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    pass


@dataclass
class Frame:
    type: int  # 0 for a data frame, else the control frame type
    flags: int
    stream_id: int = 0
    data: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class Session:
    """One side (the server's) of a SPDY session: `feed(bytes)` yields parsed frames, the `*_frame`
    methods build frames to send."""

    def __init__(self):
        self.buffer = b""
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zdict=DICTIONARY)

    # --- reading ---------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[5:8], "big")
            if len(self.buffer) < 8 + length:
                break
            head, body = self.buffer[:8], self.buffer[8:8 + length]
            self.buffer = self.buffer[8 + length:]
            frames.append(self._parse(head, body))
        return frames

    def _parse(self, head: bytes, body: bytes) -> Frame:
        word, flags = int.from_bytes(head[:4], "big"), head[4]
        if not word & 0x80000000:
            return Frame(0, flags, word & 0x7FFFFFFF, body)
        version, kind = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        if kind == SYN_STREAM:
            if len(body) < 10:
                raise ProtocolError("short SYN_STREAM")
            stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF
            return Frame(kind, flags, stream_id, headers=self._headers(body[10:]))
        if kind in (SYN_REPLY, HEADERS):
            stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF
            return Frame(kind, flags, stream_id, headers=self._headers(body[4:]))
        if kind in (RST_STREAM, WINDOW_UPDATE):
            return Frame(kind, flags, int.from_bytes(body[:4], "big") & 0x7FFFFFFF, body[4:])
        return Frame(kind, flags, 0, body)  # PING, SETTINGS, GOAWAY and anything newer

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self.inflate.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"bad header block: {exc}") from None
        headers: dict[str, str] = {}
        pos = 4
        count = int.from_bytes(raw[:4], "big")
        for _ in range(count):
            name_len = int.from_bytes(raw[pos:pos + 4], "big")
            name = raw[pos + 4:pos + 4 + name_len].decode("latin-1")
            pos += 4 + name_len
            value_len = int.from_bytes(raw[pos:pos + 4], "big")
            headers[name.lower()] = raw[pos + 4:pos + 4 + value_len].decode("latin-1")
            pos += 4 + value_len
        return headers

    # --- writing ---------------------------------------------------------------------------------------
    @staticmethod
    def _control(kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._header_block(headers or {})
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, body)

    @staticmethod
    def data(stream_id: int, payload: bytes = b"", fin: bool = False) -> bytes:
        out = b""
        # Large payloads go in several frames; the last one carries FIN.
        chunks = [payload[i:i + 0xFFFF] for i in range(0, len(payload), 0xFFFF)] or [b""]
        for index, chunk in enumerate(chunks):
            flags = FLAG_FIN if fin and index == len(chunks) - 1 else 0
            out += struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(chunk)) + chunk
        return out

    @classmethod
    def ping(cls, payload: bytes) -> bytes:
        return cls._control(PING, 0, payload)

    @classmethod
    def goaway(cls, last_stream: int = 0) -> bytes:
        return cls._control(GOAWAY, 0, struct.pack(">II", last_stream, 0))
