#!/usr/bin/env python3
"""Known answers for XRCP (PROTOCOL-NOTES X1-X3, X6), computed independently
of our C code: Python's own base64, percent-escaping with the reference query
renderer's unreserved set, Ed25519 and X25519 from `cryptography`, and
XSalsa20-Poly1305 (NaCl crypto_box) written out in kat_nacl.py from its
definition.
Prints the unsigned URI, the signed URI, the text the identity key signs and
the announcement packet of the signed URI (nonce bytes 160.., host DH key
from bytes 128..) with its SHA-256."""
import base64
import hashlib
import struct
import urllib.parse
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives import serialization

from kat_nacl import crypto_box, pad

ED_SPKI = bytes.fromhex('302a300506032b6570032100')
X_SPKI = bytes.fromhex('302a300506032b656e032100')


def raw_pub(k):
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def b64u(b):
    return base64.urlsafe_b64encode(b).decode()


def esc(s):
    return urllib.parse.quote(s, safe='-_.~')


skey = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(0, 32)))
idkey = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
dh = x25519.X25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
ca = bytes(range(96, 128))
app = '{"device":"My laptop \u00e9","v":[1,2]}'

uri = ('xrcp:/' + b64u(ca) + '@192.168.1.10:5227#/?v=1-2&app=' + esc(app) + '&ts=1700000000'
       + '&skey=' + esc(b64u(ED_SPKI + raw_pub(skey)))
       + '&idkey=' + esc(b64u(ED_SPKI + raw_pub(idkey)))
       + '&dh=' + esc(b64u(X_SPKI + raw_pub(dh))))
ssig = skey.sign(uri.encode())
id_text = uri + '&ssig=' + base64.b64encode(ssig).decode()
idsig = idkey.sign(id_text.encode())
signed = uri + '&ssig=' + b64u(ssig) + '&idsig=' + b64u(idsig)


host_dh = x25519.X25519PrivateKey.from_private_bytes(bytes(range(128, 160)))
nonce = bytes(range(160, 184))
secret = dh.exchange(host_dh.public_key())
packet = bytes([44]) + X_SPKI + raw_pub(dh) + nonce + crypto_box(secret, nonce, pad(signed.encode(), 900))
assert len(packet) == 985

print('unsigned:', uri)
print('signed:', signed)
print('idsig text:', id_text)
print('announcement:', packet.hex())
print('announcement sha256:', hashlib.sha256(packet).hexdigest())

# ---- session set-up (PROTOCOL-NOTES X7, X8) ----
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes


def hkdf(ikm, info, n):
    return HKDF(algorithm=hashes.SHA512(), length=n, salt=None, info=info).derive(ikm)


def seq(n, start):
    return bytes((start + i) % 256 for i in range(n))


kem_ss = seq(32, 0)
hybrid = hashlib.sha3_256(dh.exchange(host_dh.public_key()) + kem_ss).digest()
ck = hkdf(hybrid, b'SimpleXSbChainInit', 64)
step = hkdf(ck[:32], b'SimpleXSbChain', 88)  # the controller's first sending step
print('hybrid:', hybrid.hex())
print('ck1:', ck[:32].hex())
print('ck2:', ck[32:].hex())
print('ck1 step:', step.hex())
kem_ct = seq(1039, 7)
ctrl_hello = b'HELLO ' + struct.pack('>H', 1039) + kem_ct + crypto_box(step[32:64], step[64:88], pad(b'{}', 12288))
print('ctrl hello sha256:', hashlib.sha256(pad(ctrl_hello, 16384)).hexdigest())
kem_pk = seq(1158, 3)
hello_json = ('{"v":1,"ca":"' + b64u(seq(32, 220)) + '","app":{"device":"phone"},"kem":"' + b64u(kem_pk) + '"}').encode()
hnonce = seq(24, 10)
host_hello = (b'HELLO ' + bytes([44]) + X_SPKI + raw_pub(host_dh) + hnonce
              + crypto_box(host_dh.exchange(dh.public_key()), hnonce, pad(hello_json, 12288)))
print('host hello sha256:', hashlib.sha256(pad(host_hello, 16384)).hexdigest())
step2 = hkdf(step[:32], b'SimpleXSbChain', 88)  # the controller's next step: its first command
boxed = crypto_box(step2[32:64], step2[64:88], b'/get chats')
print('command body:', (boxed[16:] + boxed[:16]).hex())

# ---- command and response bodies (PROTOCOL-NOTES X11) ----
def tail_box(kn, msg):
    b = crypto_box(kn[32:64], kn[64:88], msg)
    return b[16:] + b[:16]


code = seq(32, 40)  # tls-unique
step3 = hkdf(step2[:32], b'SimpleXSbChain', 88)  # the same command's attachment key
att = seq(1000, 9)
signed_part = struct.pack('>I', 1)
ct = tail_box(step2, bytes([len(code)]) + code + b'{"type":"send","command":"/get chats"}')
signed_part += struct.pack('>I', len(ct)) + ct
b_ssig = skey.sign(hashlib.sha512(signed_part).digest())
b_idsig = idkey.sign(hashlib.sha512(signed_part + b_ssig).digest())
cmd_body = (signed_part + bytes([64]) + b_ssig + bytes([64]) + b_idsig
            + b'\x01' + struct.pack('>I', len(att) + 16) + tail_box(step3, att))
print('command body with attachment sha256:', hashlib.sha256(cmd_body).hexdigest())
# the host's first response, on its sending chain (the controller's receiving one, ck2): no signatures
hstep1 = hkdf(ck[32:], b'SimpleXSbChain', 88)
rct = tail_box(hstep1, bytes([len(code)]) + code + b'{"type":"ok"}')
resp_body = struct.pack('>I', 1) + struct.pack('>I', len(rct)) + rct
print('response body:', resp_body.hex())
import sys
if len(sys.argv) > 1:  # write fuzz seeds into this folder
    open(sys.argv[1] + '/host_hello_kat', 'wb').write(pad(host_hello, 16384))
    open(sys.argv[1] + '/ctrl_hello_kat', 'wb').write(pad(ctrl_hello, 16384))
if len(sys.argv) > 2:  # body seeds into this folder
    open(sys.argv[2] + '/command_kat', 'wb').write(cmd_body)
    open(sys.argv[2] + '/response_kat', 'wb').write(resp_body)
