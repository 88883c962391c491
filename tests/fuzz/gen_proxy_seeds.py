#!/usr/bin/env python3
"""Writes the seed corpus of the smp_proxy fuzz target (fuzz_smp_proxy.c).

The first byte chooses the part: 0 the RFWD plaintext, 1 the RRES
plaintext, 2 the content of a sealed batch, 3 the parameters of a PKEY
(a real Ed25519 CA and leaf made with the openssl command, and an X25519
key signed by the leaf as PROTOCOL-NOTES A20 describes).
Run from anywhere: python3 tests/fuzz/gen_proxy_seeds.py
"""
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "smp_proxy")


def seq(n, s):
    return bytes((s + i) % 256 for i in range(n))


def ss(b):
    return bytes([len(b)]) + b


def large(b):
    return struct.pack(">H", len(b)) + b


X25519 = bytes.fromhex("302a300506032b656e032100") + seq(32, 2)
ED25519 = bytes.fromhex("302a300506032b6570032100") + seq(32, 1)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def pki():
    with tempfile.TemporaryDirectory() as d:
        openssl("genpkey", "-algorithm", "ED25519", "-out", "ca.key", cwd=d)
        openssl("genpkey", "-algorithm", "ED25519", "-out", "srv.key", cwd=d)
        openssl("req", "-new", "-x509", "-key", "ca.key", "-subj", "/CN=SMP server CA/O=SimpleX", "-days", "3650",
                "-addext", "basicConstraints=critical,CA:true", "-outform", "DER", "-out", "ca.der", cwd=d)
        openssl("req", "-new", "-key", "srv.key", "-subj", "/CN=127.0.0.1", "-out", "srv.csr", cwd=d)
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,nonRepudiation,keyAgreement\n")
        openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.der", "-CAform", "DER", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "3650", "-extfile", "ext", "-outform", "DER", "-out", "srv.der", cwd=d)
        tbs = bytes([0x30, len(X25519)]) + X25519
        with open(os.path.join(d, "tbs"), "wb") as f:
            f.write(tbs)
        openssl("pkeyutl", "-sign", "-rawin", "-inkey", "srv.key", "-in", "tbs", "-out", "sig", cwd=d)
        sig = open(os.path.join(d, "sig"), "rb").read()
        body = tbs + bytes.fromhex("300506032b6570") + bytes([0x03, len(sig) + 1, 0]) + sig
        signed = bytes([0x30, len(body)]) + body
        return open(os.path.join(d, "srv.der"), "rb").read(), open(os.path.join(d, "ca.der"), "rb").read(), signed


def main():
    os.makedirs(OUT, exist_ok=True)
    corr = seq(24, 0x40)
    leaf, ca, signed = pki()
    chain = bytes([2]) + large(leaf) + large(ca)
    seeds = {
        "fwd_t": b"\x00" + ss(corr) + struct.pack(">H", 17) + ss(X25519) + seq(64, 9),
        "fwd_t_v8_empty": b"\x00" + ss(corr) + struct.pack(">H", 8) + ss(X25519),
        "fwd_t_ed25519": b"\x00" + ss(corr) + struct.pack(">H", 17) + ss(ED25519) + b"x",
        "fwd_resp": b"\x01" + ss(corr) + seq(48, 7),
        "batch_one": b"\x02\x01" + large(b"transmission"),
        "batch_two": b"\x02\x02" + large(b"a") + large(b"b"),
        "batch_short": b"\x02\x01\x00\x09ab",
        "pkey": b"\x03" + ss(seq(32, 0x11)) + struct.pack(">HH", 8, 17) + chain + large(signed),
        "pkey_one_cert": b"\x03" + ss(seq(32, 0x11)) + struct.pack(">HH", 8, 17) + bytes([1]) + large(leaf)
        + large(signed),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
