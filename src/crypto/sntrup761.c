/* sntrup761 from the NTRU Prime round-3 specification: arithmetic in
 * R/q = (Z/4591)[x]/(x^761 - x - 1) and R/3, the radix encoding of R/q and of
 * rounded elements, Short_fromlist via a sorting network, and the KEM with
 * hash confirmation and implicit rejection.
 *
 * Constant time: nothing secret steers a branch or a memory index. Reductions
 * are Barrett multiplications, reciprocals run a fixed number of divsteps with
 * masked swaps, the sort is a fixed merge-exchange network, and decapsulation
 * picks between r and rho with a mask. Only public data (pk, ct, the moduli of
 * the encodings) is divided with '/' or '%'. */
#include "crypto/sntrup761.h"

#include <sodium.h>
#include <string.h>

#include "crypto/util.h"

enum {
    P = 761,
    Q = 4591,
    W = 286,
    Q12 = (Q - 1) / 2, /* coefficients of R/q are kept in [-Q12, Q12] */
    SMALL_BYTES = (P + 3) / 4,
    RQ_BYTES = SX_SNTRUP761_PK_LEN,
    ROUNDED_BYTES = 1007,
    HASH_BYTES = 32,
    ROUNDED_M = (Q - 1) / 3 + 1, /* rounded coefficients are 3k - Q12, k < 1531 */
    /* secret key layout */
    SK_F = 0,
    SK_V = SK_F + SMALL_BYTES,
    SK_PK = SK_V + SMALL_BYTES,
    SK_RHO = SK_PK + RQ_BYTES,
    SK_CACHE = SK_RHO + SMALL_BYTES,
    SK_END = SK_CACHE + HASH_BYTES,
};

_Static_assert(SK_END == SX_SNTRUP761_SK_LEN, "secret key layout");
_Static_assert(ROUNDED_BYTES + HASH_BYTES == SX_SNTRUP761_CT_LEN, "ciphertext layout");
_Static_assert(P % 4 == 1, "small encoding assumes one coefficient in the last byte");

/* ---- masks and modular reduction ---------------------------------------- */

/* -1 when x < 0, else 0. */
static inline int32_t negative_mask(int32_t x)
{
    return -(int32_t)((uint32_t)x >> 31);
}

/* -1 when x != 0, else 0 (x is a 16-bit quantity). */
static inline int32_t nonzero_mask(int32_t x)
{
    uint32_t u = (uint16_t)x;
    return -(int32_t)((u | (0u - u)) >> 31);
}

/* x mod q in [-Q12, Q12], for |x| < 2^24 (all our sums stay below 2*Q12^2,
 * about 2^23.3). Two Barrett steps in 32-bit arithmetic, so loops vectorise:
 * after the offset q*2^12, 0 < u < 3.56e7 and u*114 < 2^32; 114/2^19 < 1/q
 * leaves u in [0, 14.5q), and 14617/2^26 < 1/q, at most one quotient short,
 * leaves it in [0, 2q); masked corrections finish. (Checked exhaustively
 * over the whole range when written.) */
static inline int16_t fq_freeze(int32_t x)
{
    uint32_t u = (uint32_t)x + (uint32_t)Q * 4096u;
    u -= ((u * 114u) >> 19) * (uint32_t)Q;
    u -= ((u * 14617u) >> 26) * (uint32_t)Q;
    int32_t r = (int32_t)u - Q;
    r += Q & negative_mask(r);           /* [0, q) */
    r -= Q & negative_mask(Q12 - r);     /* [-Q12, Q12] */
    return (int16_t)r;
}

/* x mod 3 in {-1, 0, 1}, for |x| < 2^14: after the offset 3*2^14,
 * 0 < u < 2^16 and u*43691 >> 17 is exactly floor(u/3), since
 * 43691 = (2^17 + 1)/3 and the excess u/(3*2^17) stays below 1/3
 * (also checked exhaustively). */
static inline int8_t f3_freeze(int32_t x)
{
    uint32_t u = (uint32_t)x + 3u * 16384u;
    int32_t r = (int32_t)(u - ((u * 43691u) >> 17) * 3u); /* [0, 3) */
    r -= 3 & negative_mask(1 - r);
    return (int8_t)r;
}

/* a^(q-2) = 1/a in Z/q (a != 0); the exponent is public. */
static int16_t fq_recip(int16_t a)
{
    int32_t result = 1, base = a;
    for (uint32_t e = Q - 2; e != 0; e >>= 1) {
        if (e & 1)
            result = fq_freeze(result * base);
        base = fq_freeze(base * base);
    }
    return (int16_t)result;
}

/* ---- products in R/q and R/3 --------------------------------------------- */

/* Folds a product of degree <= 2p-2 back into degree < p with x^p = x + 1.
 * Each x^i (i >= p) becomes x^(i-p+1) + x^(i-p); going down from the top,
 * i-p+1 < p, so nothing needs folding twice. */
static void fold(int32_t prod[2 * P - 1])
{
    for (size_t i = 2 * P - 2; i >= P; i--) {
        prod[i - P] += prod[i];
        prod[i - P + 1] += prod[i];
    }
}

/* Schoolbook a*b with b small, into prod (degree <= 2p-2, then folded). b is
 * copied into a zero-padded array so the inner trip count is a multiple of
 * the vector width (vectorised at -O2); the padding adds only zeros. */
enum { MUL_N = 768, PROD_ALLOC = P + MUL_N };
_Static_assert((int)MUL_N >= (int)P && MUL_N % 32 == 0, "product padding");

static void mul_small(int32_t prod[PROD_ALLOC], const int16_t *a16, const int8_t *a8,
                      const int8_t b[P])
{
    int8_t bb[MUL_N];
    memset(bb, 0, sizeof bb);
    memcpy(bb, b, P);
    memset(prod, 0, PROD_ALLOC * sizeof prod[0]);
    for (size_t i = 0; i < P; i++) {
        int32_t ai = a16 ? a16[i] : a8[i];
        for (size_t j = 0; j < MUL_N; j++)
            prod[i + j] += ai * bb[j];
    }
    fold(prod);
    sx_wipe(bb, sizeof bb);
}

/* h = a*b in R/q, with b small (|b_i| <= 1): sums stay below 3*p*Q12 < 2^23. */
static void rq_mul_small(int16_t h[P], const int16_t a[P], const int8_t b[P])
{
    int32_t prod[PROD_ALLOC];
    mul_small(prod, a, NULL, b);
    for (size_t i = 0; i < P; i++)
        h[i] = fq_freeze(prod[i]);
    sx_wipe(prod, sizeof prod);
}

/* h = a*b in R/3 (inputs in {-1,0,1}; a corrupt secret key's 2 still keeps
 * the sums below 3*p*4 < 2^14, inside f3_freeze's range). */
static void r3_mul(int8_t h[P], const int8_t a[P], const int8_t b[P])
{
    int32_t prod[PROD_ALLOC];
    mul_small(prod, NULL, a, b);
    for (size_t i = 0; i < P; i++)
        h[i] = f3_freeze(prod[i]);
    sx_wipe(prod, sizeof prod);
}

/* ---- reciprocals by divsteps ---------------------------------------------
 * Bernstein-Yang polynomial divsteps on the reversals F = x^p m(1/x) of the
 * modulus m = x^p - x - 1 and G = x^(p-1) s(1/x) of the input, delta = 1:
 *   if delta > 0 and g(0) != 0: (delta, f, g) <- (-delta, g, f)  [masked]
 *   delta += 1; g <- (g - c f) / x  with c = g(0) / f(0)
 * (the textbook step computes f(0) g - g(0) f; dividing that row by the unit
 * f(0) changes nothing below and needs one product per coefficient, not two)
 * while tracking the cofactors of G: x^n f_n = u F + v G, x^n g_n = . + r G,
 * so r <- r - c v and v <- x v. After 2p-1 steps s is invertible iff
 * delta == 0; then f is the constant f(0) and 1/s = x^p v(1/x) / f(0), i.e.
 * coefficient i is v[p-i] / f(0). Higher degrees of v and r never flow back
 * down, so cutting them off is exact.
 *
 * The arrays are padded to RECIP_N coefficients (zeros past degree p in f and
 * g, ignored junk in v and r), and every loop runs over all of them: a trip
 * count that is a multiple of the vector width lets compilers vectorise these
 * loops at -O2, which makes key generation several times faster. */
enum { RECIP_N = 768, RECIP_ALLOC = RECIP_N + 16 };
_Static_assert(RECIP_N >= P + 1 && RECIP_N % 32 == 0, "recip padding");

static void cswap_i8(int8_t *a, int8_t *b, size_t n, int32_t mask)
{
    for (size_t i = 0; i < n; i++) {
        int8_t t = (int8_t)(mask & (a[i] ^ b[i]));
        a[i] ^= t;
        b[i] ^= t;
    }
}

static void cswap_i16(int16_t *a, int16_t *b, size_t n, int32_t mask)
{
    for (size_t i = 0; i < n; i++) {
        int16_t t = (int16_t)(mask & (a[i] ^ b[i]));
        a[i] ^= t;
        b[i] ^= t;
    }
}

/* a - c*b in R/3 for a, b, c in {-1,0,1}, with c given as two masks
 * (c_nz = -1 iff c != 0, c_neg = -1 iff c < 0): byte-wide operations only. */
static inline int8_t f3_sub_mul(int8_t a, int8_t b, int8_t c_nz, int8_t c_neg)
{
    int8_t cb = (int8_t)(((b & c_nz) ^ c_neg) - c_neg);
    int8_t x = (int8_t)(a - cb); /* [-2, 2] */
    x = (int8_t)(x + (3 & -(int8_t)((uint8_t)(x + 1) >> 7)));  /* -2 -> 1 */
    x = (int8_t)(x - (3 & -(int8_t)((uint8_t)(1 - x) >> 7)));  /* 2 -> -1 */
    return x;
}

#define FQ_SHOUP_M (((uint64_t)1 << 40) / Q)

/* Shoup's companion of a constant c in [-Q12, Q12]: round(c 2^16 / q), give
 * or take one, computed without division. */
static int16_t fq_shoup(int32_t c)
{
    uint64_t u = (uint64_t)(uint32_t)(c + Q) << 16; /* (c + q) 2^16 > 0 */
    int32_t cs = (int32_t)(((u + Q12) * FQ_SHOUP_M) >> 40) - 65536;
    return (int16_t)cs;
}

/* a - c*b mod q in [-Q12, Q12] for a, b, c in [-Q12, Q12] and cs =
 * fq_shoup(c), in 16-bit lanes: t = floor(b cs / 2^16) is within 1.06 of
 * b c / q, so m = b c - t q lies in (-250, q + 250) and its low 16 bits are
 * exact; one masked fold centres m, and one more each way centres a - m.
 * (Relies on the usual two's complement conversions and arithmetic right
 * shift of gcc and clang.) */
static inline int16_t fq_sub_mul(int16_t a, int16_t b, int16_t c, int16_t cs)
{
    int16_t t = (int16_t)(((int32_t)b * cs) >> 16);
    int16_t m = (int16_t)(uint16_t)((uint32_t)(uint16_t)b * (uint16_t)c -
                                    (uint32_t)(uint16_t)t * (uint16_t)Q);
    m = (int16_t)(m - (Q & -(int16_t)((uint16_t)(Q12 - m) >> 15)));
    int16_t x = (int16_t)(a - m); /* [-2q+1, 2q-1] */
    x = (int16_t)(x - (Q & -(int16_t)((uint16_t)(Q12 - x) >> 15)));
    x = (int16_t)(x + (Q & -(int16_t)((uint16_t)(x + Q12) >> 15)));
    return x;
}

/* out = 1/s in R/3; returns 0 when s is invertible, -1 otherwise (out is then
 * meaningless). */
static int32_t r3_recip(int8_t out[P], const int8_t s[P])
{
    int8_t f[RECIP_ALLOC], g[RECIP_ALLOC], v[RECIP_ALLOC], r[RECIP_ALLOC];
    int32_t delta = 1;

    memset(f, 0, sizeof f);
    memset(g, 0, sizeof g);
    memset(v, 0, sizeof v);
    memset(r, 0, sizeof r);
    f[0] = 1;
    f[P - 1] = -1;
    f[P] = -1;
    r[0] = 1;
    for (size_t i = 0; i < P; i++)
        g[i] = s[P - 1 - i];

    for (size_t step = 0; step < 2 * P - 1; step++) {
        int32_t swap = negative_mask(-delta) & nonzero_mask(g[0]);
        delta ^= swap & (delta ^ -delta);
        delta += 1;
        cswap_i8(f, g, RECIP_N, swap);
        cswap_i8(v, r, RECIP_N, swap);

        /* c = g(0) / f(0) = g(0) f(0), as masks */
        int32_t c = f[0] * g[0];
        int8_t c_nz = (int8_t)nonzero_mask(c), c_neg = (int8_t)negative_mask(c);
        for (size_t i = 0; i < RECIP_N; i++)
            g[i] = f3_sub_mul(g[i + 1], f[i + 1], c_nz, c_neg);
        for (size_t i = 0; i < RECIP_N; i++)
            r[i] = f3_sub_mul(r[i], v[i], c_nz, c_neg);
        memmove(v + 1, v, (RECIP_N - 1) * sizeof v[0]);
        v[0] = 0;
    }

    int32_t scale = f[0]; /* +-1 is its own inverse mod 3 */
    for (size_t i = 0; i < P; i++)
        out[i] = f3_freeze(scale * v[P - i]);
    int32_t result = nonzero_mask(delta);
    sx_wipe(f, sizeof f);
    sx_wipe(g, sizeof g);
    sx_wipe(v, sizeof v);
    sx_wipe(r, sizeof r);
    return result;
}

/* out = 1/s in R/q; same contract as r3_recip. */
static int32_t rq_recip(int16_t out[P], const int16_t s[P])
{
    int16_t f[RECIP_ALLOC], g[RECIP_ALLOC], v[RECIP_ALLOC], r[RECIP_ALLOC];
    int32_t delta = 1;

    memset(f, 0, sizeof f);
    memset(g, 0, sizeof g);
    memset(v, 0, sizeof v);
    memset(r, 0, sizeof r);
    f[0] = 1;
    f[P - 1] = -1;
    f[P] = -1;
    r[0] = 1;
    for (size_t i = 0; i < P; i++)
        g[i] = s[P - 1 - i];

    for (size_t step = 0; step < 2 * P - 1; step++) {
        int32_t swap = negative_mask(-delta) & nonzero_mask(g[0]);
        delta ^= swap & (delta ^ -delta);
        delta += 1;
        cswap_i16(f, g, RECIP_N, swap);
        cswap_i16(v, r, RECIP_N, swap);

        /* c = g(0) / f(0); the exponentiation costs about 20 scalar products */
        int16_t c = fq_freeze(g[0] * (int32_t)fq_recip(f[0]));
        int16_t cs = fq_shoup(c);
        for (size_t i = 0; i < RECIP_N; i++)
            g[i] = fq_sub_mul(g[i + 1], f[i + 1], c, cs);
        for (size_t i = 0; i < RECIP_N; i++)
            r[i] = fq_sub_mul(r[i], v[i], c, cs);
        memmove(v + 1, v, (RECIP_N - 1) * sizeof v[0]);
        v[0] = 0;
    }

    int32_t scale = fq_recip(f[0]);
    for (size_t i = 0; i < P; i++)
        out[i] = fq_freeze(scale * v[P - i]);
    int32_t result = nonzero_mask(delta);
    sx_wipe(f, sizeof f);
    sx_wipe(g, sizeof g);
    sx_wipe(v, sizeof v);
    sx_wipe(r, sizeof r);
    return result;
}

/* ---- sorting network and random small elements -------------------------- */

static inline void minmax_u32(uint32_t *a, uint32_t *b)
{
    uint32_t x = *a, y = *b;
    uint32_t mask = (uint32_t)(((uint64_t)y - x) >> 63) * 0xffffffffu; /* all ones iff y < x */
    uint32_t t = (x ^ y) & mask;
    *a = x ^ t;
    *b = y ^ t;
}

/* Knuth TAOCP 5.2.2 Algorithm M (Batcher's merge exchange): which pairs are
 * compared depends on n alone. */
void sx_sntrup761_sort_u32(uint32_t *x, size_t n)
{
    if (n < 2)
        return;
    size_t top = 1;
    while (top < n - top) /* top = 2^(t-1) with 2^t >= n */
        top <<= 1;
    for (size_t p = top; p > 0; p >>= 1) {
        size_t q = top, r = 0, d = p;
        for (;;) {
            for (size_t i = 0; i + d < n; i++)
                if ((i & p) == r)
                    minmax_u32(&x[i], &x[i + d]);
            if (q == p)
                break;
            d = q - p;
            q >>= 1;
            r = p;
        }
    }
}

static void rng_fill(const sx_sntrup761_rng *rng, uint8_t *out, size_t n)
{
    if (rng && rng->fill_cb)
        rng->fill_cb(rng->ctx, out, n);
    else
        sx_random_bytes(out, n);
}

static void random_words(const sx_sntrup761_rng *rng, uint32_t words[P])
{
    uint8_t buf[4 * P];
    rng_fill(rng, buf, sizeof buf);
    for (size_t i = 0; i < P; i++)
        words[i] = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
                   (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
    sx_wipe(buf, sizeof buf);
}

/* Short_fromlist: w entries forced even (they become +-1 from bit 1), the
 * rest forced to 1 mod 4 (they become 0); sorting shuffles them, and the low
 * two bits minus one are the coefficients. */
static void short_random(int8_t out[P], const sx_sntrup761_rng *rng)
{
    uint32_t list[P];
    random_words(rng, list);
    for (size_t i = 0; i < W; i++)
        list[i] &= ~1u;
    for (size_t i = W; i < P; i++)
        list[i] = (list[i] & ~3u) | 1u;
    sx_sntrup761_sort_u32(list, P);
    for (size_t i = 0; i < P; i++)
        out[i] = (int8_t)((list[i] & 3) - 1);
    sx_wipe(list, sizeof list);
}

/* Uniform element of {-1,0,1}^p: floor(3 * (30 random bits) / 2^30) - 1. */
static void small_random(int8_t out[P], const sx_sntrup761_rng *rng)
{
    uint32_t list[P];
    random_words(rng, list);
    for (size_t i = 0; i < P; i++)
        out[i] = (int8_t)((int32_t)(((list[i] & 0x3fffffffu) * 3u) >> 30) - 1);
    sx_wipe(list, sizeof list);
}

/* ---- encodings ----------------------------------------------------------- */

/* Small: four coefficients (each plus one, 2 bits) per byte, low bits first. */
static void small_encode(uint8_t s[SMALL_BYTES], const int8_t f[P])
{
    for (size_t i = 0; i < P / 4; i++) {
        uint32_t x = 0;
        for (size_t j = 0; j < 4; j++)
            x |= (uint32_t)(uint8_t)(f[4 * i + j] + 1) << (2 * j);
        s[i] = (uint8_t)x;
    }
    s[P / 4] = (uint8_t)(f[P - 1] + 1);
}

static void small_decode(int8_t f[P], const uint8_t s[SMALL_BYTES])
{
    for (size_t i = 0; i < P; i++)
        f[i] = (int8_t)(((s[i / 4] >> (2 * (i % 4))) & 3) - 1);
}

/* The specification's Encode(R, M) for 0 <= R[i] < M[i] <= 2^14: pairs are
 * merged into one radix-(M[i]*M[i+1]) digit, whose low bytes go out while the
 * combined range is at least 2^14; the halved list is encoded after them. R
 * and M are overwritten. How many bytes are written depends on M only. */
static uint8_t *radix_encode(uint8_t *out, uint32_t *R, uint32_t *M, size_t len)
{
    while (len > 1) {
        size_t half = 0;
        for (size_t i = 0; i + 1 < len; i += 2) {
            uint32_t m = M[i] * M[i + 1];
            uint32_t r = R[i] + M[i] * R[i + 1];
            while (m >= 16384) {
                *out++ = (uint8_t)r;
                r >>= 8;
                m = (m + 255) >> 8;
            }
            R[half] = r;
            M[half] = m;
            half++;
        }
        if (len & 1) {
            R[half] = R[len - 1];
            M[half] = M[len - 1];
            half++;
        }
        len = half;
    }
    if (len == 1) {
        uint32_t r = R[0], m = M[0];
        while (m > 1) {
            *out++ = (uint8_t)r;
            r >>= 8;
            m = (m + 255) >> 8;
        }
    }
    return out;
}

/* Decode(S, M): the inverse walk. s holds exactly the bytes radix_encode
 * writes for M (the count depends on M only, so reads stay inside it); every
 * byte string decodes, each R[i] reduced into [0, M[i]). scratch holds at
 * least 2*len + 2 words for this level plus what the levels below need
 * (4*len + 64 words in all is ample). Public data only: uses '/' and '%'. */
static void radix_decode(uint32_t *R, const uint8_t *s, const uint32_t *M, size_t len,
                         uint32_t *scratch)
{
    if (len == 0)
        return;
    if (len == 1) {
        uint32_t r = 0, t = 1, m = M[0];
        while (m > 1) {
            r += (uint32_t)*s++ * t;
            t <<= 8;
            m = (m + 255) >> 8;
        }
        R[0] = r % M[0];
        return;
    }
    size_t pairs = len / 2, half = (len + 1) / 2;
    uint32_t *bottom_r = scratch, *bottom_t = bottom_r + pairs, *M2 = bottom_t + pairs,
             *R2 = M2 + half;
    for (size_t i = 0; i < pairs; i++) {
        uint32_t m = M[2 * i] * M[2 * i + 1], r = 0, t = 1;
        while (m >= 16384) {
            r += (uint32_t)*s++ * t;
            t <<= 8;
            m = (m + 255) >> 8;
        }
        bottom_r[i] = r;
        bottom_t[i] = t;
        M2[i] = m;
    }
    if (len & 1)
        M2[half - 1] = M[len - 1];
    radix_decode(R2, s, M2, half, R2 + half);
    for (size_t i = 0; i < pairs; i++) {
        uint32_t r = bottom_r[i] + bottom_t[i] * R2[i];
        R[2 * i] = r % M[2 * i];
        R[2 * i + 1] = (r / M[2 * i]) % M[2 * i + 1];
    }
    if (len & 1)
        R[len - 1] = R2[half - 1];
}

static void rq_encode(uint8_t s[RQ_BYTES], const int16_t h[P])
{
    uint32_t R[P], M[P];
    for (size_t i = 0; i < P; i++) {
        R[i] = (uint32_t)(h[i] + Q12);
        M[i] = Q;
    }
    radix_encode(s, R, M, P);
}

static void rq_decode(int16_t h[P], const uint8_t s[RQ_BYTES])
{
    uint32_t R[P], M[P], scratch[4 * P + 64];
    for (size_t i = 0; i < P; i++)
        M[i] = Q;
    radix_decode(R, s, M, P, scratch);
    for (size_t i = 0; i < P; i++)
        h[i] = (int16_t)((int32_t)R[i] - Q12);
}

/* c has coefficients 3k - Q12 (multiples of 3, since 3 | Q12); k is found by
 * multiplication: x * 10923 >> 15 = floor(x / 3) for multiples of 3 below q
 * (the error x * (10923/32768 - 1/3) stays under 0.05). */
static void rounded_encode(uint8_t s[ROUNDED_BYTES], const int16_t c[P])
{
    uint32_t R[P], M[P];
    for (size_t i = 0; i < P; i++) {
        R[i] = ((uint32_t)(c[i] + Q12) * 10923u) >> 15;
        M[i] = ROUNDED_M;
    }
    radix_encode(s, R, M, P);
    sx_wipe(R, sizeof R);
}

static void rounded_decode(int16_t c[P], const uint8_t s[ROUNDED_BYTES])
{
    uint32_t R[P], M[P], scratch[4 * P + 64];
    for (size_t i = 0; i < P; i++)
        M[i] = ROUNDED_M;
    radix_decode(R, s, M, P, scratch);
    for (size_t i = 0; i < P; i++)
        c[i] = (int16_t)(3 * (int32_t)R[i] - Q12);
}

/* Round: each coefficient to the nearest multiple of 3. */
static void round3(int16_t c[P])
{
    for (size_t i = 0; i < P; i++)
        c[i] = (int16_t)(c[i] - f3_freeze(c[i]));
}

/* ---- hashes -------------------------------------------------------------- */

/* Hash_prefix(b, a || c) = first 32 bytes of SHA-512(b || a || c). */
static void hash_prefix(uint8_t out[HASH_BYTES], uint8_t b, const uint8_t *a, size_t alen,
                        const uint8_t *c, size_t clen)
{
    crypto_hash_sha512_state st;
    uint8_t full[crypto_hash_sha512_BYTES];
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, &b, 1);
    crypto_hash_sha512_update(&st, a, alen);
    if (clen > 0)
        crypto_hash_sha512_update(&st, c, clen);
    crypto_hash_sha512_final(&st, full);
    memcpy(out, full, HASH_BYTES);
    sx_wipe(full, sizeof full);
    sx_wipe(&st, sizeof st);
}

/* HashConfirm(r, pk) = Hash_prefix(2, Hash_prefix(3, r) || Hash_prefix(4, pk)),
 * with Hash_prefix(4, pk) the cache kept in the secret key. */
static void hash_confirm(uint8_t out[HASH_BYTES], const uint8_t r_enc[SMALL_BYTES],
                         const uint8_t cache[HASH_BYTES])
{
    uint8_t x[HASH_BYTES];
    hash_prefix(x, 3, r_enc, SMALL_BYTES, NULL, 0);
    hash_prefix(out, 2, x, HASH_BYTES, cache, HASH_BYTES);
    sx_wipe(x, sizeof x);
}

/* HashSession(b, y, C) = Hash_prefix(b, Hash_prefix(3, y) || C): b = 1 with
 * y = r after a good decapsulation, b = 0 with y = rho after a bad one. */
static void hash_session(uint8_t out[HASH_BYTES], uint8_t b, const uint8_t y[SMALL_BYTES],
                         const uint8_t ct[SX_SNTRUP761_CT_LEN])
{
    uint8_t x[HASH_BYTES];
    hash_prefix(x, 3, y, SMALL_BYTES, NULL, 0);
    hash_prefix(out, b, x, HASH_BYTES, ct, SX_SNTRUP761_CT_LEN);
    sx_wipe(x, sizeof x);
}

/* ---- the KEM ------------------------------------------------------------- */

/* Hide: ct = Rounded_encode(Round(h r)) || HashConfirm(r, pk). */
static void hide(uint8_t ct[SX_SNTRUP761_CT_LEN], const int16_t h[P], const int8_t r[P],
                 const uint8_t r_enc[SMALL_BYTES], const uint8_t cache[HASH_BYTES])
{
    int16_t c[P];
    rq_mul_small(c, h, r);
    round3(c);
    rounded_encode(ct, c);
    hash_confirm(ct + ROUNDED_BYTES, r_enc, cache);
    sx_wipe(c, sizeof c);
}

/* Decrypt: e = 3 f c lifted from R/q to R/3, r = e v; if r does not have
 * weight w the result is (1,...,1,0,...,0) with w ones instead (re-encryption
 * then fails and rejection follows). */
static void decrypt(int8_t r[P], const int16_t c[P], const int8_t f[P], const int8_t v[P])
{
    int16_t cf[P];
    int8_t e[P], ev[P];
    rq_mul_small(cf, c, f);
    for (size_t i = 0; i < P; i++)
        e[i] = f3_freeze(fq_freeze(3 * (int32_t)cf[i]));
    r3_mul(ev, e, v);

    int32_t weight = 0;
    for (size_t i = 0; i < P; i++)
        weight += ev[i] & 1;
    int8_t bad = (int8_t)nonzero_mask(weight - W);
    for (size_t i = 0; i < W; i++)
        r[i] = (int8_t)((ev[i] & ~bad) | (1 & bad));
    for (size_t i = W; i < P; i++)
        r[i] = (int8_t)(ev[i] & ~bad);
    sx_wipe(cf, sizeof cf);
    sx_wipe(e, sizeof e);
    sx_wipe(ev, sizeof ev);
}

sx_status sx_sntrup761_keypair(uint8_t pk[SX_SNTRUP761_PK_LEN], uint8_t sk[SX_SNTRUP761_SK_LEN],
                               const sx_sntrup761_rng *rng)
{
    if (!pk || !sk)
        return SX_E_USAGE;
    int8_t g[P], v[P], f[P];
    int16_t s[P], finv[P], h[P];

    /* Whether a rejected g was invertible says nothing about the kept one. */
    do
        small_random(g, rng);
    while (r3_recip(v, g) != 0);
    short_random(f, rng);
    for (size_t i = 0; i < P; i++)
        s[i] = (int16_t)(3 * f[i]);
    /* R/q is a field and 3f != 0, so this cannot fail. */
    int32_t rc = rq_recip(finv, s);
    (void)rc;
    rq_mul_small(h, finv, g); /* h = g / (3f) */

    rq_encode(pk, h);
    small_encode(sk + SK_F, f);
    small_encode(sk + SK_V, v);
    memcpy(sk + SK_PK, pk, RQ_BYTES);
    rng_fill(rng, sk + SK_RHO, SMALL_BYTES);
    hash_prefix(sk + SK_CACHE, 4, pk, RQ_BYTES, NULL, 0);

    sx_wipe(g, sizeof g);
    sx_wipe(v, sizeof v);
    sx_wipe(f, sizeof f);
    sx_wipe(s, sizeof s);
    sx_wipe(finv, sizeof finv);
    return SX_OK;
}

sx_status sx_sntrup761_enc(uint8_t ct[SX_SNTRUP761_CT_LEN], uint8_t ss[SX_SNTRUP761_SS_LEN],
                           const uint8_t pk[SX_SNTRUP761_PK_LEN], const sx_sntrup761_rng *rng)
{
    if (!ct || !ss || !pk)
        return SX_E_USAGE;
    int16_t h[P];
    int8_t r[P];
    uint8_t r_enc[SMALL_BYTES], cache[HASH_BYTES];

    rq_decode(h, pk);
    short_random(r, rng);
    small_encode(r_enc, r);
    hash_prefix(cache, 4, pk, RQ_BYTES, NULL, 0);
    hide(ct, h, r, r_enc, cache);
    hash_session(ss, 1, r_enc, ct);

    sx_wipe(r, sizeof r);
    sx_wipe(r_enc, sizeof r_enc);
    return SX_OK;
}

sx_status sx_sntrup761_dec(uint8_t ss[SX_SNTRUP761_SS_LEN], const uint8_t ct[SX_SNTRUP761_CT_LEN],
                           const uint8_t sk[SX_SNTRUP761_SK_LEN])
{
    if (!ss || !ct || !sk)
        return SX_E_USAGE;
    int8_t f[P], v[P], r[P];
    int16_t c[P], h[P];
    uint8_t r_enc[SMALL_BYTES], ct2[SX_SNTRUP761_CT_LEN];

    small_decode(f, sk + SK_F);
    small_decode(v, sk + SK_V);
    rounded_decode(c, ct);
    decrypt(r, c, f, v);
    small_encode(r_enc, r);
    rq_decode(h, sk + SK_PK);
    hide(ct2, h, r, r_enc, sk + SK_CACHE);

    /* mask = 0 when ct2 == ct, all ones otherwise. */
    uint32_t diff = 0;
    for (size_t i = 0; i < SX_SNTRUP761_CT_LEN; i++)
        diff |= (uint32_t)(ct[i] ^ ct2[i]);
    uint8_t mask = (uint8_t)nonzero_mask((int32_t)diff);
    for (size_t i = 0; i < SMALL_BYTES; i++)
        r_enc[i] ^= mask & (r_enc[i] ^ sk[SK_RHO + i]);
    hash_session(ss, (uint8_t)(1 + (int8_t)mask), r_enc, ct);

    sx_wipe(f, sizeof f);
    sx_wipe(v, sizeof v);
    sx_wipe(r, sizeof r);
    sx_wipe(r_enc, sizeof r_enc);
    sx_wipe(ct2, sizeof ct2);
    return SX_OK;
}

/* ---- key check ----------------------------------------------------------- */

/* Decodes a small element strictly: no field may be 3 and the unused high
 * bits of the last byte must be zero. Returns the weight, or -1. */
static int small_decode_strict(int8_t f[P], const uint8_t s[SMALL_BYTES])
{
    if (s[SMALL_BYTES - 1] > 2)
        return -1;
    int weight = 0;
    for (size_t i = 0; i < P; i++) {
        int x = (s[i / 4] >> (2 * (i % 4))) & 3;
        if (x == 3)
            return -1;
        f[i] = (int8_t)(x - 1);
        weight += x != 1;
    }
    return weight;
}

sx_status sx_sntrup761_sk_check(const uint8_t sk[SX_SNTRUP761_SK_LEN])
{
    if (!sk)
        return SX_E_USAGE;
    int8_t f[P], v[P], g[P], gv[P];
    int16_t h[P], fh[P];
    uint8_t buf[RQ_BYTES];
    sx_status st = SX_E_PROTOCOL;

    if (small_decode_strict(f, sk + SK_F) != W || small_decode_strict(v, sk + SK_V) < 0)
        goto cleanup;
    rq_decode(h, sk + SK_PK);
    rq_encode(buf, h);
    if (memcmp(buf, sk + SK_PK, RQ_BYTES) != 0)
        goto cleanup;
    hash_prefix(buf, 4, sk + SK_PK, RQ_BYTES, NULL, 0);
    if (memcmp(buf, sk + SK_CACHE, HASH_BYTES) != 0)
        goto cleanup;
    rq_mul_small(fh, h, f);
    for (size_t i = 0; i < P; i++) {
        int16_t x = fq_freeze(3 * (int32_t)fh[i]);
        if (x < -1 || x > 1)
            goto cleanup;
        g[i] = (int8_t)x;
    }
    r3_mul(gv, g, v);
    for (size_t i = 0; i < P; i++)
        if (gv[i] != (i == 0))
            goto cleanup;
    st = SX_OK;

cleanup:
    sx_wipe(f, sizeof f);
    sx_wipe(v, sizeof v);
    sx_wipe(g, sizeof g);
    sx_wipe(gv, sizeof gv);
    sx_wipe(fh, sizeof fh);
    return st;
}

/* ---- deterministic generator --------------------------------------------- */

void sx_sntrup761_drbg_init(sx_sntrup761_drbg *d, const uint8_t seed[32])
{
    memcpy(d->key, seed, sizeof d->key);
    memset(d->block, 0, sizeof d->block);
    d->counter = 0;
    d->used = sizeof d->block; /* nothing buffered yet */
}

void sx_sntrup761_drbg_fill(sx_sntrup761_drbg *d, uint8_t *out, size_t n)
{
    static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    sx_status st = sx_crypto_init();
    (void)st; /* the ChaCha20 reference code runs without sodium_init too */
    while (n > 0) {
        if (d->used == sizeof d->block) {
            memset(d->block, 0, sizeof d->block);
            crypto_stream_chacha20_ietf_xor_ic(d->block, d->block, sizeof d->block, nonce,
                                               d->counter, d->key);
            d->counter++;
            d->used = 0;
        }
        size_t take = sizeof d->block - d->used;
        if (take > n)
            take = n;
        memcpy(out, d->block + d->used, take);
        d->used += take;
        out += take;
        n -= take;
    }
}

static void drbg_fill_cb(void *ctx, uint8_t *out, size_t n)
{
    sx_sntrup761_drbg_fill(ctx, out, n);
}

sx_sntrup761_rng sx_sntrup761_drbg_rng(sx_sntrup761_drbg *d)
{
    sx_sntrup761_rng rng = {drbg_fill_cb, d};
    return rng;
}

void sx_sntrup761_drbg_cleanup(sx_sntrup761_drbg *d)
{
    sx_wipe(d, sizeof *d);
}
