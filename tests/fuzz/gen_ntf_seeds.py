#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ntf: one file per sample, first byte =
version selector (1 + b % 3), then an NTF transmission (session id = 32 bytes
of 0x11, carried only at v1), a bare command or response, batch content or a
hello."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "ntf")
SID = b"\x11" * 32
ED = bytes.fromhex("302a300506032b6570032100")
X = bytes.fromhex("302a300506032b656e032100")
ED_PRIV = bytes.fromhex("302e020100300506032b657004220420")


def ss(b):
    assert len(b) < 256
    return bytes([len(b)]) + b


def large(b):
    return len(b).to_bytes(2, "big") + b


def seq(n, s):
    return bytes((s + i) % 256 for i in range(n))


def t(v, auth, corr, ent, cmd):
    return ss(auth) + (ss(SID) if v == 1 else b"") + ss(corr) + ss(ent) + cmd


SIG = b"\x5a" * 64
CORR = seq(24, 0x22)
TID = seq(24, 0x33)
SERVER = b"\x01" + ss(b"localhost") + ss(b"5001") + ss(seq(32, 0x70))
TNEW = b"TNEW T" + b"AP" + ss(b"0123456789abcdef") + ss(ED + seq(32, 1)) + ss(X + seq(32, 2))
SNEW = b"SNEW S" + ss(TID) + SERVER + ss(seq(24, 0x30)) + ss(ED_PRIV + seq(32, 3))
SAMPLES = {
    "tnew_v3": (2, t(3, SIG, CORR, b"", TNEW)),
    "tnew_v1": (0, t(1, SIG, CORR, b"", TNEW)),
    "tvfy_v2": (1, t(2, SIG, CORR, TID, b"TVFY " + ss(seq(32, 9)))),
    "tchk_v3": (2, t(3, SIG, CORR, TID, b"TCHK")),
    "trpl_v3": (2, t(3, SIG, CORR, TID, b"TRPL AD" + ss(b"abcdef"))),
    "tdel_v3": (2, t(3, SIG, CORR, TID, b"TDEL")),
    "tcrn_v3": (2, t(3, SIG, CORR, TID, b"TCRN \x00\x14")),
    "snew_v3": (2, t(3, SIG, CORR, b"", SNEW)),
    "schk_v3": (2, t(3, SIG, CORR, TID, b"SCHK")),
    "sdel_v3": (2, t(3, b"\x01" * 80, CORR, TID, b"SDEL")),
    "ping_v1": (0, t(1, b"", CORR, b"", b"PING")),
    "idtkn_v3": (2, t(3, b"", CORR, b"", b"IDTKN " + ss(TID) + ss(X + seq(32, 4)))),
    "idsub_v3": (2, t(3, b"", CORR, b"", b"IDSUB " + ss(TID))),
    "ok_v3": (2, t(3, b"", CORR, TID, b"OK")),
    "err_v3": (2, t(3, b"", CORR, TID, b"ERR CMD SYNTAX")),
    "tkn_v3": (2, t(3, b"", CORR, TID, b"TKN INVALID,EXPIRED")),
    "tkn_v2": (1, t(2, b"", CORR, TID, b"TKN REGISTERED")),
    "sub_v3": (2, t(3, b"", CORR, TID, b"SUB ERR CONNECTION")),
    "sub_active": (2, b"SUB ACTIVE"),
    "pong_v1": (0, t(1, b"", CORR, b"", b"PONG")),
    "bare_tnew": (2, TNEW),
    "bare_snew": (2, SNEW),
    "batch_v3": (2, b"\x02" + large(t(3, SIG, CORR, TID, b"TCHK")) + large(t(3, b"", CORR, b"", b"PING"))),
    "server_hello_v1": (0, b"\x00\x01\x00\x01" + ss(SID)),
    "server_hello_bad_key": (2, b"\x00\x01\x00\x03" + ss(SID) + large(seq(40, 1))),
    "client_hello": (2, b"\x00\x03" + ss(seq(32, 0x70))),
}


def der_seq(b):
    assert len(b) < 256
    return b"\x30" + (bytes([len(b)]) if len(b) < 128 else b"\x81" + bytes([len(b)])) + b


def signed_key():
    """A PROTOCOL-NOTES A20 signed X25519 key, signed with a fixed Ed25519
    key (the signature is real, so a verifier accepts it)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = Ed25519PrivateKey.from_private_bytes(seq(32, 0x40))
    tbs = der_seq(X + seq(32, 5))  # SEQUENCE { SPKI }
    alg = der_seq(bytes.fromhex("06032b6570"))
    sig = b"\x03\x41\x00" + signer.sign(tbs)
    return der_seq(tbs + alg + sig)


def b64(b):
    import base64

    return base64.urlsafe_b64encode(b).decode()


SMP = "smp://" + b64(seq(32, 0)) + "@smp.example.com,abcdefghijklmnop.onion:5001"
X_PRIV = bytes.fromhex("302e020100300506032b656e04220420")
ED448_PRIV = bytes.fromhex("3047020100300506032b6571043b0439")
STORELOG = {
    "tcreate": "TCREATE tknId=%s token=apns_prod 00ff12ab tokenStatus=ACTIVE verifyKey=%s dhKeys=%s %s "
    "dhSecret=%s regCode=%s cron=20 updatedAt=1733443200"
    % (b64(seq(24, 1)), b64(ED + seq(32, 1)), b64(X + seq(32, 2)), b64(X_PRIV + seq(32, 3)), b64(seq(32, 4)),
       b64(seq(32, 5))),
    "screate": "SCREATE subId=%s smpQueue=%s/%s notifierKey=%s tknId=%s subStatus=NEW serviceAssoc=F"
    % (b64(seq(24, 2)), SMP, b64(seq(24, 3)), b64(ED448_PRIV + seq(57, 6)), b64(seq(24, 1))),
    "screate_err": "SCREATE subId=%s smpQueue=%s/%s notifierKey=%s tknId=%s subStatus=ERR x serviceAssoc=T"
    % (b64(seq(24, 2)), SMP, b64(seq(24, 3)), b64(ED_PRIV + seq(32, 6)), b64(seq(24, 1))),
    "tstatus": "TSTATUS %s INVALID,BAD" % b64(seq(24, 1)),
    "tupdate": "TUPDATE %s apns_null test_ntf_token %s" % (b64(seq(24, 1)), b64(seq(32, 7))),
    "tcron": "TCRON %s 0" % b64(seq(24, 1)),
    "tdelete": "TDELETE %s" % b64(seq(24, 1)),
    "ttime": "TTIME %s 1733443200" % b64(seq(24, 1)),
    "sstatus": "SSTATUS %s ERR CONNECTION service=T" % b64(seq(24, 2)),
    "sdelete": "SDELETE %s" % b64(seq(24, 2)),
    "service": "SERVICE %s service=%s" % (SMP, b64(seq(16, 8))),
    # a line of ntf-server-last-notifications.log (the same target reads it)
    "last_v1": "v1 %s %s/%s 1733443200 %s %s" % (b64(seq(24, 1)), SMP, b64(seq(24, 3)), b64(seq(24, 9)),
                                                  b64(seq(128, 10))),
}


def main():
    out = os.path.join(HERE, "corpus", "ntf_storelog")
    os.makedirs(out, exist_ok=True)
    for name, line in STORELOG.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(line)
    SAMPLES["server_hello_v3"] = (2, b"\x00\x01\x00\x03" + ss(SID) + large(signed_key()))
    os.makedirs(OUT, exist_ok=True)
    for name, (sel, body) in SAMPLES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([sel]) + body)


if __name__ == "__main__":
    main()
