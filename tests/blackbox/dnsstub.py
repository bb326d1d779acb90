"""A tiny authoritative DNS server on loopback for the tests.

The tests point popgate's `dns_servers` at it so that nothing ever asks
the machine's own resolver. Records come from a dict:

    stub = DnsStub({
        "example.org": {"MX": [(10, "mx1.example.org"), (20, "mx2...")]},
        "mx1.example.org": {"A": ["127.0.0.1"]},
        "null.example": {"MX": [(0, ".")]},          # RFC 7505 null MX
        "broken.example": "SERVFAIL",
        "1.0.0.127.in-addr.arpa": {"PTR": ["client.example"]},
    })
    stub.start(); ...; stub.port; stub.stop()

A name whose entry has "AD": True is answered with the AD bit set, as
a validating resolver does for a DNSSEC-signed zone (DANE tests); TLSA
records are (usage, selector, matching type, data bytes):

        "mx.example.org": {"A": ["127.0.0.1"], "AD": True},
        "_25._tcp.mx.example.org": {"TLSA": [(3, 1, 1, digest)],
                                    "AD": True},

Names not in the dict answer NXDOMAIN; a name with no record of the
asked type answers NOERROR with no answers (NODATA). Every query is kept
in `stub.queries` as (name, type).
"""
import socket
import struct
import threading

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "TLSA": 52}
NAMES = {v: k for k, v in TYPES.items()}


def encode_name(name):
    out = b""
    name = name.rstrip(".")
    if name:
        for label in name.split("."):
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0 == 0xC0:
            ptr = struct.unpack(">H", msg[off:off + 2])[0] & 0x3FFF
            name, _ = decode_name(msg, ptr)
            labels.append(name)
            return ".".join(x for x in labels if x), off + 2
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += 1 + n


def rdata(rtype, value):
    if rtype == "A":
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == "AAAA":
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype == "MX":
        pref, host = value
        return struct.pack(">H", pref) + encode_name(host)
    if rtype in ("PTR", "CNAME", "NS"):
        return encode_name(value)
    if rtype == "TLSA":
        usage, selector, mtype, data = value
        return bytes([usage, selector, mtype]) + data
    if rtype == "TXT":
        # One record of character-strings of at most 255 octets each
        # (a 2048-bit DKIM key is longer), joined by the reader.
        b = value.encode()
        return b"".join(bytes([len(b[i:i + 255])]) + b[i:i + 255]
                        for i in range(0, max(len(b), 1), 255))
    raise ValueError(rtype)


class DnsStub:
    def __init__(self, records=None, host="127.0.0.1"):
        self.records = {k.lower().rstrip("."): v
                        for k, v in (records or {}).items()}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = None

    @property
    def server(self):
        """The value for popgate's dns_servers."""
        return f"{self.host}:{self.port}"

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        try:
            self.sock.sendto(b"", (self.host, self.port))
        except OSError:
            pass
        if self._thread:
            self._thread.join(2)
        self.sock.close()

    def answer(self, msg):
        qid, flags, qd = struct.unpack(">HHH", msg[:6])
        name, off = decode_name(msg, 12)
        qtype, qclass = struct.unpack(">HH", msg[off:off + 4])
        question = msg[12:off + 4]
        key = name.lower().rstrip(".")
        self.queries.append((key, NAMES.get(qtype, str(qtype))))
        entry = self.records.get(key)
        rcode, answers, ad = 0, [], False
        if entry is None:
            rcode = 3  # NXDOMAIN
        elif entry == "SERVFAIL":
            rcode = 2
        elif entry == "TIMEOUT":
            return None
        else:
            rtype = NAMES.get(qtype)
            ad = bool(entry.get("AD"))
            for value in entry.get(rtype, []):
                answers.append(encode_name(name) + struct.pack(
                    ">HHIH", qtype, 1, 60, len(rdata(rtype, value)))
                    + rdata(rtype, value))
        rflags = 0x8000 | 0x0400 | (flags & 0x0100) | rcode  # QR AA RD
        if ad:
            rflags |= 0x0020
        head = struct.pack(">HHHHHH", qid, rflags, 1, len(answers), 0, 0)
        return head + question + b"".join(answers)

    def _run(self):
        while not self._stop:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if self._stop or len(msg) < 12:
                continue
            try:
                reply = self.answer(msg)
            except Exception:  # a malformed query: ignore it
                continue
            if reply is not None:
                self.sock.sendto(reply, peer)


def ptr_name(ip):
    """The in-addr.arpa / ip6.arpa name of an address."""
    if ":" in ip:
        packed = socket.inet_pton(socket.AF_INET6, ip)
        nibbles = "".join(f"{b:02x}" for b in packed)
        return ".".join(reversed(nibbles)) + ".ip6.arpa"
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
