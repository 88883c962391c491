#!/usr/bin/env python3
"""Known answers for 2-hop routing (PROTOCOL-NOTES D30-D37): the bytes of
PRXY, PKEY, PFWD, RFWD, RRES and PRES for fixed keys, nonces and contents,
computed from our reading of the reference's Protocol.hs (Encoding of
ProtocolServer, FwdTransmission, FwdResponse, CertChainPubKey, the command
and message encodings) independently of our C code: X25519 from Python's
`cryptography`, crypto_box (XSalsa20-Poly1305) written out in kat_nacl.py from its
definition, the encodings and paddings by hand. Prints name: value lines
(hex, or SHA-256 for the long ones) that tests/unit/test_smp_proxy_kat.c
compares with our encoders' bytes."""
import hashlib
import struct
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives import serialization

from kat_nacl import crypto_box, pad

X_SPKI = bytes.fromhex('302a300506032b656e032100')


def seq(n, start):
    return bytes((start + i) % 256 for i in range(n))


def raw_pub(k):
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ss(b):  # shortString: 1-byte length
    assert len(b) < 256
    return bytes([len(b)]) + b


def large(b):  # Large: Word16 length
    return struct.pack('>H', len(b)) + b


def x25519_key(k):  # a public key field: ss(DER SPKI)
    return ss(X_SPKI + raw_pub(k))


def batch1(t):  # a batch of one transmission
    return bytes([1]) + large(t)


def reverse(nonce):
    return nonce[::-1]


def show(name, b):
    print(name + ':', b.hex() if len(b) <= 200 else 'sha256 ' + hashlib.sha256(b).hexdigest())


# PRXY: ProtocolServer = NonEmpty(ss host) || ss(port) || ss(key hash), then Maybe(ss basic auth)
hosts = [b'smp1.example.com', b'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw.onion']
server = bytes([len(hosts)]) + b''.join(ss(h) for h in hosts) + ss(b'5223') + ss(seq(32, 0))
show('prxy', b'PRXY ' + server + b'1' + ss(b'pass-word'))
show('prxy noauth', b'PRXY ' + server + b'0')

# PKEY: ss(session id) || VersionRange(Word16 min, Word16 max) || NonEmpty(Large cert) || Large(signed key)
certs = [seq(300, 1), seq(280, 2)]
signed_key = seq(120, 3)
show('pkey', b'PKEY ' + ss(seq(32, 40)) + struct.pack('>HH', 8, 18) + bytes([len(certs)])
     + b''.join(large(c) for c in certs) + large(signed_key))

# PFWD: the client's one-command key, the relay's per-connection key
relay = x25519.X25519PrivateKey.from_private_bytes(seq(32, 100))
client = x25519.X25519PrivateKey.from_private_bytes(seq(32, 140))
proxy = x25519.X25519PrivateKey.from_private_bytes(seq(32, 180))
N = seq(24, 200)  # the PFWD corrId: the client's nonce
P = seq(24, 60)  # the RFWD corrId: the proxy's nonce
t = b'inner transmission: ' + seq(100, 9)
cmd_secret = client.exchange(relay.public_key())
show('cmd secret', cmd_secret)
enc_t = crypto_box(cmd_secret, N, pad(batch1(t), 16226))
assert len(enc_t) == 16242
show('enc t', enc_t)
show('pfwd', b'PFWD ' + struct.pack('>H', 18) + x25519_key(client) + enc_t)

# RFWD: box(session secret, P, ss(N) || Word16(version) || key || Tail(enc t)), no padding
sess_secret = proxy.exchange(relay.public_key())
show('session secret', sess_secret)
fwd_t = ss(N) + struct.pack('>H', 18) + x25519_key(client) + enc_t
show('fwd t', fwd_t)
show('rfwd', b'RFWD ' + crypto_box(sess_secret, P, fwd_t))

# RRES / PRES: the relay's answer to the client (reversed N, padded), wrapped
# for the proxy (reversed P, not padded)
r = b'inner response: ' + seq(60, 77)
enc_r = crypto_box(cmd_secret, reverse(N), pad(batch1(r), 16226))
show('enc r', enc_r)
fwd_r = ss(N) + enc_r
show('rres', b'RRES ' + crypto_box(sess_secret, reverse(P), fwd_r))
show('pres', b'PRES ' + enc_r)
show('reversed nonce', reverse(N))
