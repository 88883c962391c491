"""NaCl's crypto_box (XSalsa20-Poly1305 with the tag first, as
crypto_box_easy lays it out) and the reference's padding, written out in
Python from their definitions, for the known-answer generators of this
folder (gen_xrcp_kat.py, gen_smp_proxy_kat.py): independent of our C code
and of libsodium."""
import struct


def rotl(v, c):
    return ((v << c) & 0xffffffff) | (v >> (32 - c))


def salsa_rounds(x):
    x = list(x)
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (5, 9, 13, 1), (10, 14, 2, 6), (15, 3, 7, 11)):
            x[b] ^= rotl((x[a] + x[d]) & 0xffffffff, 7)
            x[c] ^= rotl((x[b] + x[a]) & 0xffffffff, 9)
            x[d] ^= rotl((x[c] + x[b]) & 0xffffffff, 13)
            x[a] ^= rotl((x[d] + x[c]) & 0xffffffff, 18)
        for a, b, c, d in ((0, 1, 2, 3), (5, 6, 7, 4), (10, 11, 8, 9), (15, 12, 13, 14)):
            x[b] ^= rotl((x[a] + x[d]) & 0xffffffff, 7)
            x[c] ^= rotl((x[b] + x[a]) & 0xffffffff, 9)
            x[d] ^= rotl((x[c] + x[b]) & 0xffffffff, 13)
            x[a] ^= rotl((x[d] + x[c]) & 0xffffffff, 18)
    return x


SIGMA = struct.unpack('<4I', b'expand 32-byte k')


def salsa_state(key, n16):
    k = struct.unpack('<8I', key)
    n = struct.unpack('<4I', n16)
    return [SIGMA[0], k[0], k[1], k[2], k[3], SIGMA[1], n[0], n[1], n[2], n[3], SIGMA[2], k[4], k[5], k[6], k[7],
            SIGMA[3]]


def hsalsa20(key, n16):
    x = salsa_rounds(salsa_state(key, n16))
    return struct.pack('<8I', *(x[i] for i in (0, 5, 10, 15, 6, 7, 8, 9)))


def xsalsa20_stream(key, nonce, n):
    sub = hsalsa20(key, nonce[:16])
    out = b''
    ctr = 0
    while len(out) < n:
        st = salsa_state(sub, nonce[16:24] + struct.pack('<Q', ctr))
        x = salsa_rounds(st)
        out += struct.pack('<16I', *((x[i] + st[i]) & 0xffffffff for i in range(16)))
        ctr += 1
    return out[:n]


def poly1305(key, msg):
    r = int.from_bytes(key[:16], 'little') & 0x0ffffffc0ffffffc0ffffffc0fffffff
    s_ = int.from_bytes(key[16:], 'little')
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b'\x01', 'little')) * r % p
    return ((acc + s_) & ((1 << 128) - 1)).to_bytes(16, 'little')


def crypto_box(dh_secret, nonce, msg):
    k = hsalsa20(dh_secret, bytes(16))  # crypto_box_beforenm
    stream = xsalsa20_stream(k, nonce, 32 + len(msg))
    c = bytes(a ^ b for a, b in zip(msg, stream[32:]))
    return poly1305(stream[:32], c) + c


def pad(msg, n):
    return struct.pack('>H', len(msg)) + msg + b'#' * (n - 2 - len(msg))
