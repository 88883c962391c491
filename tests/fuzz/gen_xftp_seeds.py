#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_xftp_transmission: one file per sample,
first byte = version selector (1 + b % 3), then one XFTP transmission with
the session id the target expects (32 bytes of 0x11), or a hello."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "xftp_transmission")
SID = b"\x11" * 32
ED = bytes.fromhex("302a300506032b6570032100")
X = bytes.fromhex("302a300506032b656e032100")


def ss(b):
    assert len(b) < 256
    return bytes([len(b)]) + b


def key(prefix, seed):
    return ss(prefix + bytes((seed + i) % 256 for i in range(32)))


def t(auth, corr, ent, cmd):
    return ss(auth) + ss(SID) + ss(corr) + ss(ent) + cmd


SIG = b"\x5a" * 64
ID = b"0123456789abcdef"
SAMPLES = {
    "fnew_v3": (2, t(SIG, b"", b"", b"FNEW " + key(ED, 1) + b"\x00\x01\x00\x00" + ss(b"\x80" * 32)
                        + b"\x01" + key(ED, 2) + b"0")),
    "fnew_auth_v2": (1, t(b"\x33" * 80, b"", b"", b"FNEW " + key(ED, 1) + b"\x00\x04\x00\x00"
                          + ss(b"\x81" * 32) + b"\x02" + key(ED, 2) + key(X, 3) + b"1" + ss(b"pass"))),
    "fadd": (2, t(SIG, b"", ID, b"FADD \x01" + key(ED, 4))),
    "fput": (0, t(SIG, b"", ID, b"FPUT")),
    "fdel": (2, t(SIG, b"c", ID, b"FDEL")),
    "fget": (2, t(SIG, b"", ID, b"FGET " + key(X, 5))),
    "fack": (1, t(SIG, b"", ID, b"FACK")),
    "ping": (2, t(b"", b"", b"", b"PING")),
    "sids": (2, t(b"", b"", b"", b"SIDS " + ss(ID) + b"\x02" + ss(ID) + ss(b"fedcba9876543210"))),
    "rids": (2, t(b"", b"", ID, b"RIDS \x01" + ss(ID))),
    "file": (2, t(b"", b"", ID, b"FILE " + key(X, 6) + b"\x07" * 24)),
    "ok": (2, t(b"", b"", ID, b"OK")),
    "err_blocked": (2, t(b"", b"", ID, b"ERR BLOCKED reason=spam,notice={\"ttl\":3600}")),
    "err_cmd": (0, t(b"", b"", b"", b"ERR CMD NO_AUTH")),
    "pong": (2, t(b"", b"", b"", b"PONG")),
    "bad_session": (2, ss(SIG) + ss(b"\x12" * 32) + ss(b"") + ss(ID) + b"FDEL"),
    "client_handshake": (2, b"\x00\x03" + ss(b"\x44" * 32) + b"tail"),
    "client_hello_web": (2, b"1" + ss(b"\x55" * 32)),
}

os.makedirs(OUT, exist_ok=True)
for name, (v, body) in SAMPLES.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([v]) + body)
