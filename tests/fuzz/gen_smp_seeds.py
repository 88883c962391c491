#!/usr/bin/env python3
"""Writes the seed corpora of the smp_command and smp_response fuzz targets.

Each seed is one byte choosing the SMP version (6 + b % 14) followed by one
transmission (PROTOCOL-NOTES C.1) as it would sit in a batch item. The v6
seeds carry the session id the targets expect (32 bytes of 0x11).
Run from anywhere: python3 tests/fuzz/gen_smp_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SID = b"\x11" * 32


def seq(n, s):
    return bytes((s + i) % 256 for i in range(n))


def ss(b):
    assert len(b) <= 255
    return bytes([len(b)]) + b


def large(b):
    return struct.pack(">H", len(b)) + b


def i64(n):
    return struct.pack(">q", n)


ED25519 = bytes.fromhex("302a300506032b6570032100") + seq(32, 1)
X25519 = bytes.fromhex("302a300506032b656e032100") + seq(32, 2)
ED448 = bytes.fromhex("3043300506032b6571033a00") + seq(57, 3)


def vbyte(v):
    return bytes([v - 6])


def t(v, cmd, auth=b"", service_sig=None, corr=seq(24, 0x60), entity=b""):
    out = ss(auth)
    if v >= 16 and auth:
        out += b"0" if service_sig is None else b"1" + ss(service_sig)
    if v < 7:
        out += ss(SID)
    return vbyte(v) + out + ss(corr) + ss(entity) + cmd


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def commands():
    sig = seq(64, 0x10)
    rid = seq(24, 0x30)
    new19 = (b"NEW " + ss(ED25519) + ss(X25519) + b"1" + ss(b"pass") + b"S"
             + b"1C1" + ss(seq(24, 4)) + ss(seq(24, 5)) + large(seq(40, 6)) + large(seq(30, 7))
             + b"1" + ss(ED448) + ss(X25519))
    hosts = b"\x02" + ss(b"smp.example.com") + ss(b"abcdefghijklmnop.onion")
    return {
        "new_v19": t(19, new19, auth=sig),
        "new_v8_basic_auth": t(8, b"NEW " + ss(ED25519) + ss(X25519) + b"A" + ss(b"pw") + b"C",
                               auth=sig),
        "send_signed_v18": t(18, b"SEND T hello", auth=sig, entity=seq(24, 0x50)),
        "send_unauth_v18": t(18, b"SEND F confirmation", entity=seq(24, 0x50)),
        "sub_v6_session": t(6, b"SUB", auth=seq(80, 9), entity=rid),
        "sub_service_v16": t(16, b"SUB", auth=sig, service_sig=seq(64, 0x20), entity=rid),
        "subs_v19": t(19, b"SUBS " + i64(3) + ss(seq(16, 8)), auth=sig, entity=seq(24, 0x40)),
        "prxy_v19": t(19, b"PRXY " + hosts + ss(b"5223") + ss(seq(32, 9)) + b"1" + ss(b"secret")),
    }


def responses():
    ids = (b"IDS " + ss(seq(24, 1)) + ss(seq(24, 2)) + ss(X25519) + b"1M" + b"1" + ss(seq(24, 3))
           + b"1" + ss(seq(24, 4)) + b"1" + ss(seq(24, 5)) + ss(X25519))
    pkey = (b"PKEY " + ss(seq(32, 6)) + struct.pack(">HH", 8, 18) + b"\x02"
            + large(seq(100, 7)) + large(seq(80, 8)) + large(seq(60, 9)))
    rid = seq(24, 0x30)
    return {
        "ids_v19": t(19, ids),
        "msg_v18": t(18, b"MSG " + ss(seq(24, 10)) + seq(200, 11), corr=b"", entity=rid),
        "err_blocked_v19": t(19, b'ERR BLOCKED reason=spam,notice={"ttl":3600}', entity=rid),
        "err_proxy_nested_v19": t(19, b"ERR PROXY PROTOCOL PROXY BROKER TRANSPORT HANDSHAKE IDENTITY"),
        "pkey_v19": t(19, pkey),
        "soks_v19": t(19, b"SOKS " + i64(7) + ss(seq(16, 12)), entity=seq(24, 0x40)),
        "nmsg_v19": t(19, b"NMSG " + seq(24, 13) + ss(seq(144, 14)), corr=b"", entity=seq(24, 0x41)),
        "pong_v6": t(6, b"PONG"),
    }


if __name__ == "__main__":
    write("smp_command", commands())
    write("smp_response", responses())
