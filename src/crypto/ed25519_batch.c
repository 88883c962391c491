/* Batch verification of Ed25519 (see ed25519_batch.h), written from the
 * mathematics:
 * - the field GF(p), p = 2^255 - 19, in five 51-bit limbs multiplied with
 *   unsigned __int128 (a limb holds a little more than 51 bits between
 *   operations; every result is carried back below 2^52);
 * - the curve -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates
 *   (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z, with the addition and doubling
 *   of Hisil, Wong, Carter and Dawson (2008) for a = -1;
 * - decoding as RFC 8032 section 5.1.3;
 * - a Straus multi-scalar multiplication over width-w NAF digits;
 * - scalars mod L through libsodium's crypto_core_ed25519_scalar_*.
 * The constants d, sqrt(-1) and the base point are computed at start-up from
 * their definitions (d = -121665/121666, sqrt(-1) = 2^((p-1)/4), B has
 * y = 4/5 and an even x). All of it is variable-time: only public values. */
#include "crypto/ed25519_batch.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* The field operations are small and called in tight loops. */
#define FE_INLINE inline __attribute__((always_inline))

#define MASK51 ((UINT64_C(1) << 51) - 1)

typedef struct fe {
    uint64_t v[5];
} fe;

/* ---- field ---------------------------------------------------------- */

static FE_INLINE void fe_carry(fe *h)
{
    uint64_t c;
    c = h->v[0] >> 51, h->v[0] &= MASK51, h->v[1] += c;
    c = h->v[1] >> 51, h->v[1] &= MASK51, h->v[2] += c;
    c = h->v[2] >> 51, h->v[2] &= MASK51, h->v[3] += c;
    c = h->v[3] >> 51, h->v[3] &= MASK51, h->v[4] += c;
    c = h->v[4] >> 51, h->v[4] &= MASK51, h->v[0] += 19 * c;
}

static void fe_set(fe *h, uint64_t small)
{
    memset(h, 0, sizeof *h);
    h->v[0] = small;
}

/* No carry: a sum feeds only a multiplication or the left side of a
 * subtraction, both of which take limbs up to 2^54. */
static FE_INLINE void fe_add(fe *h, const fe *f, const fe *g)
{
    for (int i = 0; i < 5; i++)
        h->v[i] = f->v[i] + g->v[i];
}

/* f - g + 4p keeps every limb positive while g's limbs stay below 2^53
 * (g is always a carried result). */
static FE_INLINE void fe_sub(fe *h, const fe *f, const fe *g)
{
    h->v[0] = f->v[0] + (4 * (MASK51 - 18)) - g->v[0];
    for (int i = 1; i < 5; i++)
        h->v[i] = f->v[i] + 4 * MASK51 - g->v[i];
    fe_carry(h);
}

/* f - g without the carry: only for a result that feeds a multiplication
 * (limbs below 2^54, which fe_mul and fe_sq take). */
static FE_INLINE void fe_sub_nc(fe *h, const fe *f, const fe *g)
{
    h->v[0] = f->v[0] + (4 * (MASK51 - 18)) - g->v[0];
    for (int i = 1; i < 5; i++)
        h->v[i] = f->v[i] + 4 * MASK51 - g->v[i];
}

static void fe_neg(fe *h, const fe *f)
{
    fe z;
    fe_set(&z, 0);
    fe_sub(h, &z, f);
}

static FE_INLINE void fe_reduce_product(fe *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    uint64_t c4 = (uint64_t)(r4 >> 51);
    u128 t = (u128)((uint64_t)r0 & MASK51) + (u128)c4 * 19;
    h->v[0] = (uint64_t)t & MASK51;
    h->v[1] = ((uint64_t)r1 & MASK51) + (uint64_t)(t >> 51);
    h->v[2] = (uint64_t)r2 & MASK51;
    h->v[3] = (uint64_t)r3 & MASK51;
    h->v[4] = (uint64_t)r4 & MASK51;
}

static FE_INLINE void fe_mul(fe *h, const fe *f, const fe *g)
{
    uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    uint64_t g1n = 19 * g1, g2n = 19 * g2, g3n = 19 * g3, g4n = 19 * g4;
    u128 r0 = (u128)f0 * g0 + (u128)f1 * g4n + (u128)f2 * g3n + (u128)f3 * g2n + (u128)f4 * g1n;
    u128 r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4n + (u128)f3 * g3n + (u128)f4 * g2n;
    u128 r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4n + (u128)f4 * g3n;
    u128 r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 + (u128)f4 * g4n;
    u128 r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
    fe_reduce_product(h, r0, r1, r2, r3, r4);
}

static FE_INLINE void fe_sq(fe *h, const fe *f)
{
    uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    uint64_t d0 = 2 * f0, d1 = 2 * f1, d2 = 2 * f2, d3 = 2 * f3;
    uint64_t f3n = 19 * f3, f4n = 19 * f4;
    u128 r0 = (u128)f0 * f0 + (u128)d1 * f4n + (u128)d2 * f3n;
    u128 r1 = (u128)d0 * f1 + (u128)d2 * f4n + (u128)f3 * f3n;
    u128 r2 = (u128)d0 * f2 + (u128)f1 * f1 + (u128)d3 * f4n;
    u128 r3 = (u128)d0 * f3 + (u128)d1 * f2 + (u128)f4 * f4n;
    u128 r4 = (u128)d0 * f4 + (u128)d1 * f3 + (u128)f2 * f2;
    fe_reduce_product(h, r0, r1, r2, r3, r4);
}

static void fe_sqn(fe *h, const fe *f, int n)
{
    fe_sq(h, f);
    for (int i = 1; i < n; i++)
        fe_sq(h, h);
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = (w << 8) | p[i];
    return w;
}

static void store64(uint8_t *p, uint64_t w)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(w >> (8 * i));
}

/* The low 255 bits of s (bit 255 is the sign of x in a point encoding). */
static void fe_frombytes(fe *h, const uint8_t s[32])
{
    uint64_t w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24);
    h->v[0] = w0 & MASK51;
    h->v[1] = ((w0 >> 51) | (w1 << 13)) & MASK51;
    h->v[2] = ((w1 >> 38) | (w2 << 26)) & MASK51;
    h->v[3] = ((w2 >> 25) | (w3 << 39)) & MASK51;
    h->v[4] = (w3 >> 12) & MASK51;
}

/* The unique representative in [0, p), little-endian. */
static void fe_tobytes(uint8_t s[32], const fe *f)
{
    fe h = *f;
    fe_carry(&h);
    fe_carry(&h);
    /* Now h < 2p: q = 1 exactly when h >= p, i.e. when h + 19 reaches 2^255. */
    uint64_t q = (h.v[0] + 19) >> 51;
    q = (h.v[1] + q) >> 51;
    q = (h.v[2] + q) >> 51;
    q = (h.v[3] + q) >> 51;
    q = (h.v[4] + q) >> 51;
    h.v[0] += 19 * q;
    uint64_t c;
    c = h.v[0] >> 51, h.v[0] &= MASK51, h.v[1] += c;
    c = h.v[1] >> 51, h.v[1] &= MASK51, h.v[2] += c;
    c = h.v[2] >> 51, h.v[2] &= MASK51, h.v[3] += c;
    c = h.v[3] >> 51, h.v[3] &= MASK51, h.v[4] += c;
    h.v[4] &= MASK51; /* subtracting 2^255 finishes the subtraction of p */
    store64(s, h.v[0] | (h.v[1] << 51));
    store64(s + 8, (h.v[1] >> 13) | (h.v[2] << 38));
    store64(s + 16, (h.v[2] >> 26) | (h.v[3] << 25));
    store64(s + 24, (h.v[3] >> 39) | (h.v[4] << 12));
}

static int fe_iszero(const fe *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= s[i];
    return acc == 0;
}

static int fe_equal(const fe *f, const fe *g)
{
    fe d;
    fe_sub(&d, f, g);
    return fe_iszero(&d);
}

static int fe_isodd(const fe *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

/* z^(2^250 - 1), the common head of the inversion and square-root chains;
 * also returns z^11 in z11. */
static void fe_pow250(fe *out, fe *z11, const fe *z)
{
    fe t0, t1, t2, t3;
    fe_sq(&t0, z);         /* z^2 */
    fe_sqn(&t1, &t0, 2);   /* z^8 */
    fe_mul(&t1, &t1, z);   /* z^9 */
    fe_mul(z11, &t0, &t1); /* z^11 */
    fe_sq(&t0, z11);       /* z^22 */
    fe_mul(&t1, &t1, &t0); /* z^31 = z^(2^5-1) */
    fe_sqn(&t2, &t1, 5);
    fe_mul(&t1, &t2, &t1); /* 2^10-1 */
    fe_sqn(&t2, &t1, 10);
    fe_mul(&t2, &t2, &t1); /* 2^20-1 */
    fe_sqn(&t3, &t2, 20);
    fe_mul(&t2, &t3, &t2); /* 2^40-1 */
    fe_sqn(&t2, &t2, 10);
    fe_mul(&t1, &t2, &t1); /* 2^50-1 */
    fe_sqn(&t2, &t1, 50);
    fe_mul(&t2, &t2, &t1); /* 2^100-1 */
    fe_sqn(&t3, &t2, 100);
    fe_mul(&t2, &t3, &t2); /* 2^200-1 */
    fe_sqn(&t2, &t2, 50);
    fe_mul(out, &t2, &t1); /* 2^250-1 */
}

/* z^(p-2) = z^((2^250-1) * 2^5 + 11) */
static void fe_invert(fe *out, const fe *z)
{
    fe t, z11;
    fe_pow250(&t, &z11, z);
    fe_sqn(&t, &t, 5);
    fe_mul(out, &t, &z11);
}

/* z^((p-5)/8) = z^((2^250-1) * 4 + 1) */
static void fe_pow_p58(fe *out, const fe *z)
{
    fe t, z11;
    fe_pow250(&t, &z11, z);
    fe_sqn(&t, &t, 2);
    fe_mul(out, &t, z);
}

/* ---- points --------------------------------------------------------- */

typedef struct ge {
    fe X, Y, Z, T;
} ge;

/* A point ready to be added: (Y+X, Y-X, 2Z, 2dT). */
typedef struct ge_cached {
    fe ypx, ymx, z2, t2d;
} ge_cached;

static struct {
    fe d, d2, sqrtm1;
    ge base;
    ge_cached base_odd[64]; /* B, 3B, ..., 127B for width-8 NAF digits */
} K;

static pthread_once_t k_once = PTHREAD_ONCE_INIT;

static void ge_identity(ge *p)
{
    fe_set(&p->X, 0);
    fe_set(&p->Y, 1);
    fe_set(&p->Z, 1);
    fe_set(&p->T, 0);
}

static void ge_to_cached(ge_cached *c, const ge *p)
{
    fe_add(&c->ypx, &p->Y, &p->X);
    fe_sub(&c->ymx, &p->Y, &p->X);
    fe_add(&c->z2, &p->Z, &p->Z);
    fe_mul(&c->t2d, &p->T, &K.d2);
}

/* r = p + q (sign +1) or p - q (sign -1); r may alias p. */
static void ge_addsub(ge *r, const ge *p, const ge_cached *q, int sign)
{
    fe a, b, c, d, e, f, g, h;
    fe_sub_nc(&a, &p->Y, &p->X);
    fe_add(&b, &p->Y, &p->X);
    fe_mul(&a, &a, sign > 0 ? &q->ymx : &q->ypx);
    fe_mul(&b, &b, sign > 0 ? &q->ypx : &q->ymx);
    fe_mul(&c, &p->T, &q->t2d);
    fe_mul(&d, &p->Z, &q->z2);
    fe_sub_nc(&e, &b, &a);
    fe_add(&h, &b, &a);
    if (sign > 0) {
        fe_sub_nc(&f, &d, &c);
        fe_add(&g, &d, &c);
    } else {
        fe_add(&f, &d, &c);
        fe_sub_nc(&g, &d, &c);
    }
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

static void ge_dbl(ge *r, const ge *p)
{
    fe a, b, c, e, f, g, h, xy;
    fe_sq(&a, &p->X);
    fe_sq(&b, &p->Y);
    fe_sq(&c, &p->Z);
    fe_add(&c, &c, &c);
    fe_add(&h, &a, &b);
    fe_add(&xy, &p->X, &p->Y);
    fe_sq(&xy, &xy);
    fe_sub(&e, &h, &xy);
    fe_sub(&g, &a, &b);
    fe_add(&f, &c, &g);
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

static int ge_is_identity(const ge *p)
{
    return fe_iszero(&p->X) && fe_equal(&p->Y, &p->Z);
}

/* Small order: [8]P is the identity. */
static int ge_small_order(const ge *p)
{
    ge q;
    ge_dbl(&q, p);
    ge_dbl(&q, &q);
    ge_dbl(&q, &q);
    return ge_is_identity(&q);
}

static void ge_encode(uint8_t s[32], const ge *p)
{
    fe zi, x, y;
    fe_invert(&zi, &p->Z);
    fe_mul(&x, &p->X, &zi);
    fe_mul(&y, &p->Y, &zi);
    fe_tobytes(s, &y);
    s[31] |= (uint8_t)(fe_isodd(&x) << 7);
}

/* y < p for the low 255 bits of s. */
static int y_canonical(const uint8_t s[32])
{
    if ((s[31] & 0x7f) != 0x7f)
        return 1;
    for (int i = 30; i > 0; i--)
        if (s[i] != 0xff)
            return 1;
    return s[0] < 0xed;
}

/* RFC 8032 5.1.3: 0, or -1 when s is not the encoding of a point. */
static int ge_decode(ge *p, const uint8_t s[32])
{
    if (!y_canonical(s))
        return -1;
    fe y, u, v, v3, t, x, vx2, one;
    fe_frombytes(&y, s);
    fe_set(&one, 1);
    fe_sq(&u, &y);
    fe_mul(&v, &u, &K.d);
    fe_sub(&u, &u, &one); /* u = y^2 - 1 */
    fe_add(&v, &v, &one); /* v = d y^2 + 1 */
    fe_sq(&v3, &v);
    fe_mul(&v3, &v3, &v); /* v^3 */
    fe_sq(&t, &v3);
    fe_mul(&t, &t, &v);
    fe_mul(&t, &t, &u); /* u v^7 */
    fe_pow_p58(&t, &t);
    fe_mul(&x, &t, &v3);
    fe_mul(&x, &x, &u); /* u v^3 (u v^7)^((p-5)/8) */
    fe_sq(&vx2, &x);
    fe_mul(&vx2, &vx2, &v);
    if (!fe_equal(&vx2, &u)) {
        fe nu;
        fe_neg(&nu, &u);
        if (!fe_equal(&vx2, &nu))
            return -1;
        fe_mul(&x, &x, &K.sqrtm1);
    }
    int sign = s[31] >> 7;
    if (sign && fe_iszero(&x))
        return -1;
    if (fe_isodd(&x) != sign)
        fe_neg(&x, &x);
    p->X = x;
    p->Y = y;
    fe_set(&p->Z, 1);
    fe_mul(&p->T, &x, &y);
    return 0;
}

/* Odd multiples P, 3P, ..., (2*count-1)P. */
static void ge_odd_multiples(ge_cached *tbl, const ge *p, int count)
{
    ge p2, acc = *p;
    ge_cached c2;
    ge_dbl(&p2, p);
    ge_to_cached(&c2, &p2);
    ge_to_cached(&tbl[0], &acc);
    for (int i = 1; i < count; i++) {
        ge_addsub(&acc, &acc, &c2, 1);
        ge_to_cached(&tbl[i], &acc);
    }
}

static void k_init(void)
{
    fe a, b, e;
    /* d = -121665 / 121666, 2d */
    fe_set(&a, 121665);
    fe_set(&b, 121666);
    fe_invert(&b, &b);
    fe_mul(&a, &a, &b);
    fe_neg(&K.d, &a);
    fe_add(&K.d2, &K.d, &K.d);
    /* sqrt(-1) = 2^((p-1)/4); (p-1)/4 = 2^253 - 5 = ((p-5)/8) * 2 + 1 */
    fe_set(&a, 2);
    fe_pow_p58(&e, &a);
    fe_sq(&e, &e);
    fe_mul(&K.sqrtm1, &e, &a);
    /* B: y = 4/5, x even */
    uint8_t enc[32];
    fe_set(&a, 4);
    fe_set(&b, 5);
    fe_invert(&b, &b);
    fe_mul(&a, &a, &b);
    fe_tobytes(enc, &a);
    if (ge_decode(&K.base, enc) != 0)
        abort(); /* impossible: the constants above are wrong */
    ge_odd_multiples(K.base_odd, &K.base, 64);
}

static void k_ready(void)
{
    pthread_once(&k_once, k_init);
}

/* ---- multi-scalar multiplication -------------------------------------- */

#define NAF_LEN 257 /* scalars below 8L < 2^256 */
#define W_VAR 5     /* digits of the variable points: odd |d| <= 15, 8 table entries */
#define W_BASE 8    /* digits of B: odd |d| <= 127, 64 table entries */

/* w bits of s from bit i on (bits past 255 read as 0), w <= 32. */
static uint32_t scalar_bits(const uint64_t s[5], int i, int w)
{
    uint64_t lo = s[i >> 6] >> (i & 63);
    if ((i & 63) + w > 64)
        lo |= s[(i >> 6) + 1] << (64 - (i & 63));
    return (uint32_t)(lo & ((UINT64_C(1) << w) - 1));
}

/* Width-w NAF of s (s < 2^256): naf[i] odd in (-2^(w-1), 2^(w-1)) or 0, at
 * least w-1 zeros after each non-zero digit. Returns 1 + the highest
 * non-zero position, 0 for s = 0. */
static int wnaf(int8_t naf[NAF_LEN], const uint8_t s[32], int w)
{
    uint64_t sw[5] = {load64(s), load64(s + 8), load64(s + 16), load64(s + 24), 0};
    memset(naf, 0, NAF_LEN);
    int carry = 0, top = 0;
    for (int i = 0; i < NAF_LEN;) {
        if ((int)scalar_bits(sw, i, 1) == carry) {
            i++;
            continue;
        }
        int word = carry + (int)scalar_bits(sw, i, w);
        carry = (word >> (w - 1)) & 1;
        word -= carry << w;
        naf[i] = (int8_t)word;
        top = i + 1;
        i += w;
    }
    return top;
}

typedef struct msm_term {
    int8_t naf[NAF_LEN];
    ge_cached tbl[1 << (W_VAR - 2)];
} msm_term;

static void add_digit(ge *acc, const ge_cached *tbl, int d)
{
    if (d > 0)
        ge_addsub(acc, acc, &tbl[d >> 1], 1);
    else if (d < 0)
        ge_addsub(acc, acc, &tbl[(-d) >> 1], -1);
}

/* out = [bs]B + sum [s_i]P_i for the prepared terms (Straus: one shared
 * chain of doublings, one addition per non-zero digit). */
static void msm_run(ge *out, const msm_term *terms, size_t n, const uint8_t *bs, int top)
{
    int8_t bnaf[NAF_LEN];
    int btop = bs ? wnaf(bnaf, bs, W_BASE) : 0;
    if (btop > top)
        top = btop;
    ge_identity(out);
    for (int i = top - 1; i >= 0; i--) {
        ge_dbl(out, out);
        if (bs)
            add_digit(out, K.base_odd, bnaf[i]);
        for (size_t j = 0; j < n; j++)
            add_digit(out, terms[j].tbl, terms[j].naf[i]);
    }
}

static int msm_prepare(msm_term *t, const ge *p, const uint8_t s[32])
{
    ge_odd_multiples(t->tbl, p, 1 << (W_VAR - 2));
    return wnaf(t->naf, s, W_VAR);
}

/* ---- verification ----------------------------------------------------- */

/* S < L, the group order 2^252 + 27742317777372353535851937790883648493. */
static const uint8_t L_BYTES[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                    0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

static int scalar_canonical(const uint8_t s[32])
{
    for (int i = 31; i >= 0; i--) {
        if (s[i] != L_BYTES[i])
            return s[i] < L_BYTES[i];
    }
    return 0;
}

/* c (= z h mod L) becomes c + k L with k in [0, 8) such that c = z h mod 8
 * too (zh_low: the low bits of z h). The torsion part of A is then
 * multiplied by z h, as libsodium multiplies it by h, not by the reduced
 * product (L is odd, L = 5 mod 8, 5 * 5 = 1 mod 8). */
static void lift_mod_8l(uint8_t c[32], unsigned zh_low)
{
    unsigned k = ((zh_low - c[0]) * 5u) & 7u;
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = c[i] + k * L_BYTES[i] + carry;
        c[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

static int verify_one(const sx_ed25519_item *it)
{
    static const uint8_t empty[1];
    return crypto_sign_verify_detached(it->sig, it->msg_len ? it->msg : empty, it->msg_len,
                                       it->pk) == 0;
}

/* The checks libsodium makes before its equation: S < L; A canonical, on
 * the curve and not of small order; R's bytes not those of a small-order
 * point. R must also decode here (libsodium compares it with a canonical
 * encoding, which a string that does not decode never equals). */
static int precheck(const sx_ed25519_item *it, ge *r, ge *a, uint8_t h[32])
{
    if (!scalar_canonical(it->sig + 32))
        return 0;
    if (ge_decode(a, it->pk) != 0 || ge_small_order(a))
        return 0;
    if (ge_decode(r, it->sig) != 0 || ge_small_order(r))
        return 0;
    static const uint8_t empty[1];
    uint8_t hash[64];
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, it->sig, 32);
    crypto_hash_sha512_update(&st, it->pk, 32);
    crypto_hash_sha512_update(&st, it->msg_len ? it->msg : empty, it->msg_len);
    crypto_hash_sha512_final(&st, hash);
    crypto_core_ed25519_scalar_reduce(h, hash);
    return 1;
}

#define CHUNK 256 /* signatures per equation: memory ~ 2.8 KB each */

/* Prechecks items, writes ok[i] = 1 for those that pass and 0 for the
 * rest, and evaluates the equation over those that pass: 1 when it holds
 * (or nothing passed), 0 when not, -1 when memory is short. */
static int batch_chunk(const sx_ed25519_item *items, size_t n, uint8_t *ok)
{
    msm_term *terms = malloc(2 * n * sizeof *terms);
    if (!terms)
        return -1;
    uint8_t bs[32] = {0};
    size_t m = 0;
    int top = 0;
    uint8_t zbuf[CHUNK][16];
    randombytes_buf(zbuf, n * 16);
    for (size_t i = 0; i < n; i++) {
        ge r, a;
        uint8_t h[32];
        ok[i] = (uint8_t)precheck(&items[i], &r, &a, h);
        if (!ok[i])
            continue;
        /* z: 128 random bits, odd so that a torsion-only defect in one
         * signature alone can never vanish from the sum. */
        uint8_t z[32] = {0}, zh[32], zs[32];
        memcpy(z, zbuf[i], 16);
        z[0] |= 1;
        crypto_core_ed25519_scalar_mul(zh, z, h);
        lift_mod_8l(zh, (unsigned)(z[0] * h[0]));
        crypto_core_ed25519_scalar_mul(zs, z, items[i].sig + 32);
        crypto_core_ed25519_scalar_add(bs, bs, zs);
        /* sum [z]R + [zh]A - [sum zS]B must be the identity */
        int t1 = msm_prepare(&terms[m++], &r, z);
        int t2 = msm_prepare(&terms[m++], &a, zh);
        if (t1 > top)
            top = t1;
        if (t2 > top)
            top = t2;
    }
    int holds = 1;
    if (m > 0) {
        uint8_t nbs[32];
        crypto_core_ed25519_scalar_negate(nbs, bs);
        ge sum;
        msm_run(&sum, terms, m, nbs, top);
        holds = ge_is_identity(&sum);
    }
    free(terms);
    return holds;
}

size_t sx_ed25519_verify_batch(const sx_ed25519_item *items, size_t n, uint8_t *ok)
{
    if (sodium_init() < 0)
        abort();
    k_ready();
    size_t valid = 0;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t c = n - off < CHUNK ? n - off : CHUNK;
        int holds = c == 1 ? -1 : batch_chunk(items + off, c, ok + off);
        for (size_t i = off; i < off + c; i++) {
            if (holds < 0 || (holds == 0 && ok[i]))
                ok[i] = (uint8_t)verify_one(&items[i]);
            valid += ok[i];
        }
    }
    return valid;
}

int sx_ed25519_batch_equation(const sx_ed25519_item *items, size_t n)
{
    if (sodium_init() < 0)
        abort();
    k_ready();
    uint8_t *ok = malloc(n ? n : 1);
    if (!ok)
        return 0;
    int all = 1;
    for (size_t off = 0; off < n && all; off += CHUNK) {
        size_t c = n - off < CHUNK ? n - off : CHUNK;
        if (batch_chunk(items + off, c, ok + off) != 1)
            all = 0;
        for (size_t i = off; i < off + c; i++)
            all &= ok[i];
    }
    free(ok);
    return all;
}

/* ---- test hooks ------------------------------------------------------- */

int sx_ed25519_test_decode(const uint8_t p[32], int *small_order)
{
    k_ready();
    ge g;
    if (ge_decode(&g, p) != 0)
        return -1;
    *small_order = ge_small_order(&g);
    return 0;
}

int sx_ed25519_test_add(uint8_t out[32], const uint8_t p[32], const uint8_t q[32])
{
    k_ready();
    ge a, b;
    ge_cached c;
    if (ge_decode(&a, p) != 0 || ge_decode(&b, q) != 0)
        return -1;
    ge_to_cached(&c, &b);
    ge_addsub(&a, &a, &c, 1);
    ge_encode(out, &a);
    return 0;
}

int sx_ed25519_test_dbl(uint8_t out[32], const uint8_t p[32])
{
    k_ready();
    ge a;
    if (ge_decode(&a, p) != 0)
        return -1;
    ge_dbl(&a, &a);
    ge_encode(out, &a);
    return 0;
}

int sx_ed25519_test_msm(uint8_t out[32], const uint8_t (*s)[32], const uint8_t (*p)[32], size_t n)
{
    k_ready();
    msm_term *terms = malloc((n ? n : 1) * sizeof *terms);
    if (!terms)
        return -1;
    int top = 0;
    for (size_t i = 0; i < n; i++) {
        ge g;
        if (ge_decode(&g, p[i]) != 0) {
            free(terms);
            return -1;
        }
        int t = msm_prepare(&terms[i], &g, s[i]);
        if (t > top)
            top = t;
    }
    ge sum;
    msm_run(&sum, terms, n, NULL, top);
    ge_encode(out, &sum);
    free(terms);
    return 0;
}

void sx_ed25519_test_base(uint8_t out[32], const uint8_t s[32])
{
    k_ready();
    ge sum;
    msm_run(&sum, NULL, 0, s, 0);
    ge_encode(out, &sum);
}
