/* Unit tests of the offline parts of the XFTP client: whole-file encryption
 * into chunks and decryption back through temporary files (sizes 0, 1 and
 * every chunk-size boundary), tampering, output naming, description
 * generation and web links, server addresses, the PROTOCOL-NOTES F8 checks
 * of a server hello, and a cancel flag stopping encryption and decryption. */
#include "testutil.h"

#include <fcntl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "transport/net.h"
#include "xftp_client/client.h"
#include "xftp_client/transfer.h"
#include "xftp_client/transfer_int.h"

#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/sx_xftp_client_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rm_rf(g_dir);
    return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len >= 0);
    rewind(f);
    uint8_t *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* The header of "f.bin": shortString name || Maybe Nothing. */
static size_t header_len(const char *name)
{
    uint8_t b[600];
    sx_writer w;
    sx_writer_init_fixed(&w, b, sizeof b);
    sx_xftp_file_header h = {.name = sx_slice_str(name)};
    assert_true(sx_xftp_file_header_write(&w, &h));
    return w.len;
}

/* Encrypts a file of n bytes, splits the result into chunk files, checks the
 * digests, decrypts into a directory and compares. */
static void round_trip(size_t n)
{
    char src[512], enc[512], out_dir[512];
    snprintf(src, sizeof src, "%s/f.bin", g_dir);
    snprintf(enc, sizeof enc, "%s/enc", g_dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", g_dir);
    uint8_t *data = malloc(n ? n : 1);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 9));
    write_file(src, data, n);

    sx_xftp_encrypted e;
    assert_ok(sx_xftp_encrypt_file(src, "f.bin", enc, &e));
    size_t enc_len;
    uint8_t *encb = read_file(enc, &enc_len);
    assert_int_equal((int64_t)enc_len, e.enc_size);
    /* sizes as prepareChunkSizes of the payload */
    uint32_t sizes[SX_XFTP_MAX_CHUNKS];
    size_t cnt = 0;
    assert_ok(sx_xftp_chunk_sizes(sx_xftp_payload_size((int64_t)(n + header_len("f.bin"))), sizes,
                                  SX_XFTP_MAX_CHUNKS, &cnt));
    assert_int_equal(cnt, e.chunk_count);
    uint8_t d512[64];
    assert_ok(sx_sha512(sx_slice_of(encb, enc_len), d512));
    assert_bytes_equal(d512, e.digest, 64);

    assert_int_equal(mkdir(out_dir, 0700), 0);
    char(*paths)[512] = calloc(e.chunk_count, sizeof *paths);
    const char **pp = calloc(e.chunk_count, sizeof *pp);
    assert_non_null(paths);
    assert_non_null(pp);
    size_t off = 0;
    for (size_t i = 0; i < e.chunk_count; i++) {
        assert_int_equal(e.chunk_sizes[i], sizes[i]);
        assert_true(sx_xftp_chunk_size_allowed(e.chunk_sizes[i]));
        uint8_t d[32];
        assert_ok(sx_sha256(sx_slice_of(encb + off, e.chunk_sizes[i]), d));
        assert_bytes_equal(d, e.chunk_digests[i], 32);
        snprintf(paths[i], sizeof paths[i], "%s/chunk%zu", g_dir, i + 1);
        write_file(paths[i], encb + off, e.chunk_sizes[i]);
        pp[i] = paths[i];
        off += e.chunk_sizes[i];
    }
    char got[1024];
    assert_ok(sx_xftp_decrypt_chunks(pp, e.chunk_count, e.enc_size, e.key, e.nonce, out_dir, got,
                                     sizeof got));
    char want[1024];
    snprintf(want, sizeof want, "%s/f.bin", out_dir);
    assert_string_equal(got, want);
    size_t dn;
    uint8_t *dec = read_file(got, &dn);
    assert_int_equal(dn, n);
    if (n)
        assert_bytes_equal(dec, data, n);
    free(dec);

    /* a second receive into the same folder gets a new name */
    assert_ok(sx_xftp_decrypt_chunks(pp, e.chunk_count, e.enc_size, e.key, e.nonce, out_dir, got,
                                     sizeof got));
    snprintf(want, sizeof want, "%s/f_1.bin", out_dir);
    assert_string_equal(got, want);

    /* one flipped bit in the last chunk: tag failure, nothing left behind */
    size_t last = e.chunk_count - 1;
    size_t lpos = enc_len - e.chunk_sizes[last];
    encb[lpos + e.chunk_sizes[last] / 2] ^= 0x10;
    write_file(paths[last], encb + lpos, e.chunk_sizes[last]);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad", g_dir);
    assert_int_equal(sx_xftp_decrypt_chunks(pp, e.chunk_count, e.enc_size, e.key, e.nonce, bad,
                                            got, sizeof got),
                     SX_E_AUTH);
    struct stat st;
    assert_int_not_equal(stat(bad, &st), 0);
    /* a truncated chunk */
    write_file(paths[last], encb + lpos, e.chunk_sizes[last] - 1);
    assert_int_equal(sx_xftp_decrypt_chunks(pp, e.chunk_count, e.enc_size, e.key, e.nonce, bad,
                                            got, sizeof got),
                     SX_E_PROTOCOL);
    assert_int_not_equal(stat(bad, &st), 0);
    /* an existing file as destination */
    assert_int_equal(sx_xftp_decrypt_chunks(pp, e.chunk_count, e.enc_size, e.key, e.nonce, src,
                                            got, sizeof got),
                     SX_E_USAGE);

    for (size_t i = 0; i < e.chunk_count; i++)
        unlink(paths[i]);
    tu_rm_rf(out_dir);
    unlink(enc);
    unlink(src);
    free(paths);
    free(pp);
    free(encb);
    free(data);
    sx_xftp_encrypted_cleanup(&e);
}

static void test_round_trip_small(void **state)
{
    (void)state;
    round_trip(0);
    round_trip(1);
    round_trip(1000);
}

/* File sizes whose payload (content + 8 + 16) sits on each boundary of
 * prepareChunkSizes: a full 64 KiB chunk, one byte more, 3/4 of 256 KiB
 * (the switch to 256 KiB / 1 MiB chunks), 256 KiB, and several 1 MiB
 * chunks plus a remainder. */
static void test_round_trip_boundaries(void **state)
{
    (void)state;
    size_t over = header_len("f.bin") + SX_XFTP_FILE_LEN_HEADER + SX_XFTP_SB_TAG_LEN;
    const size_t payloads[] = {
        SX_XFTP_CHUNK_64K - 1,       SX_XFTP_CHUNK_64K,     SX_XFTP_CHUNK_64K + 1,
        SX_XFTP_CHUNK_256K * 3 / 4,  SX_XFTP_CHUNK_256K * 3 / 4 + 1,
        SX_XFTP_CHUNK_256K,          SX_XFTP_CHUNK_1M * 3 / 4 + 1,
        SX_XFTP_CHUNK_1M,            3 * SX_XFTP_CHUNK_1M + 5,
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++)
        round_trip(payloads[i] - over);
}

static void test_unique_path(void **state)
{
    (void)state;
    char p[512], q[512];
    assert_ok(sx_xftp_unique_path(g_dir, "a.tar.gz", p, sizeof p));
    snprintf(q, sizeof q, "%s/a.tar.gz", g_dir);
    assert_string_equal(p, q);
    write_file(p, (const uint8_t *)"x", 1);
    assert_ok(sx_xftp_unique_path(g_dir, "a.tar.gz", p, sizeof p));
    snprintf(q, sizeof q, "%s/a_1.tar.gz", g_dir);
    assert_string_equal(p, q);
    write_file(p, (const uint8_t *)"x", 1);
    assert_ok(sx_xftp_unique_path(g_dir, "a.tar.gz", p, sizeof p));
    snprintf(q, sizeof q, "%s/a_2.tar.gz", g_dir);
    assert_string_equal(p, q);
    assert_ok(sx_xftp_unique_path(g_dir, "noext", p, sizeof p));
    char small[8];
    assert_int_equal(sx_xftp_unique_path(g_dir, "noext", small, sizeof small), SX_E_LIMIT);
}

/* A header naming a path outside the destination is refused. */
static void test_bad_header_name(void **state)
{
    (void)state;
    char src[512], enc[512], got[512];
    snprintf(src, sizeof src, "%s/x", g_dir);
    snprintf(enc, sizeof enc, "%s/x.enc", g_dir);
    write_file(src, (const uint8_t *)"abc", 3);
    sx_xftp_encrypted e;
    assert_ok(sx_xftp_encrypt_file(src, "../evil", enc, &e));
    const char *pp[] = {enc};
    assert_int_equal(sx_xftp_decrypt_chunks(pp, 1, e.enc_size, e.key, e.nonce, g_dir, got,
                                            sizeof got),
                     SX_E_PROTOCOL);
    /* A fixed destination path ignores the header's name (the redirect
     * description; xftp-web writes those with an empty name). */
    char fixed[600];
    snprintf(fixed, sizeof fixed, "%s/fixed.out", g_dir);
    assert_ok(sx_xftp_decrypt_chunks(pp, 1, e.enc_size, e.key, e.nonce, fixed, got, sizeof got));
    assert_string_equal(got, fixed);
    unlink(fixed);
    sx_xftp_encrypted_cleanup(&e);
    unlink(enc);
    assert_ok(sx_xftp_encrypt_file(src, "", enc, &e));
    assert_int_equal(sx_xftp_decrypt_chunks(pp, 1, e.enc_size, e.key, e.nonce, g_dir, got,
                                            sizeof got),
                     SX_E_PROTOCOL);
    assert_ok(sx_xftp_decrypt_chunks(pp, 1, e.enc_size, e.key, e.nonce, fixed, got, sizeof got));
    {
        FILE *f = fopen(fixed, "rb");
        assert_non_null(f);
        char buf[8] = {0};
        assert_int_equal(fread(buf, 1, sizeof buf, f), 3);
        fclose(f);
        assert_memory_equal(buf, "abc", 3);
    }
    unlink(fixed);
    sx_xftp_encrypted_cleanup(&e);
    unlink(enc);
    assert_int_equal(sx_xftp_encrypt_file(src, "y", "/nonexistent-dir/z", &e), SX_E_IO);
    assert_int_equal(sx_xftp_encrypt_file("/nonexistent-file", "y", enc, &e), SX_E_IO);
    unlink(src);
}

/* A cancel flag stops encryption and decryption; neither leaves its output
 * behind. */
static void test_cancel(void **state)
{
    (void)state;
    char src[512], enc[512], chunk[512], out_dir[512];
    snprintf(src, sizeof src, "%s/c.bin", g_dir);
    snprintf(enc, sizeof enc, "%s/c.enc", g_dir);
    snprintf(chunk, sizeof chunk, "%s/c.chunk", g_dir);
    snprintf(out_dir, sizeof out_dir, "%s/cout", g_dir);
    size_t n = 300000;
    uint8_t *data = calloc(1, n);
    assert_non_null(data);
    write_file(src, data, n);
    volatile sig_atomic_t stop = 1;
    sx_xftp_encrypted e;
    assert_int_equal(xt_encrypt_file(src, "c.bin", enc, &e, &stop), SX_E_IO);
    assert_int_not_equal(access(enc, F_OK), 0);
    stop = 0;
    assert_ok(xt_encrypt_file(src, "c.bin", enc, &e, &stop));
    size_t len;
    uint8_t *encb = read_file(enc, &len);
    assert_int_equal((int64_t)len, e.enc_size);
    write_file(chunk, encb, len); /* one file holding every chunk */
    assert_int_equal(mkdir(out_dir, 0700), 0);
    const char *pp[] = {chunk};
    char got[1024];
    stop = 1;
    assert_int_equal(xt_decrypt_chunks(pp, 1, e.enc_size, e.key, e.nonce, out_dir, got, sizeof got, &stop),
                     SX_E_IO);
    char out[600];
    snprintf(out, sizeof out, "%s/c.bin", out_dir);
    assert_int_not_equal(access(out, F_OK), 0);
    stop = 0;
    assert_ok(xt_decrypt_chunks(pp, 1, e.enc_size, e.key, e.nonce, out_dir, got, sizeof got, &stop));
    assert_string_equal(got, out);
    sx_xftp_encrypted_cleanup(&e);
    free(encb);
    free(data);
    unlink(out);
    rmdir(out_dir);
    unlink(chunk);
    unlink(enc);
    unlink(src);
}

static void test_server_address(void **state)
{
    (void)state;
    const char *a = "xftp://" FIXTURE_FP "@127.0.0.1:5443";
    sx_xftp_fd_server s;
    assert_ok(sx_xftp_fd_server_parse(a, strlen(a), &s));
    X509 *ca = NULL;
    assert_ok(sx_x509_read_cert_file(tu_data_path("fixtures/ca.crt"), &ca));
    uint8_t fp[32];
    assert_ok(sx_x509_fingerprint(ca, fp));
    X509_free(ca);
    assert_int_equal(s.key_hash_len, 32);
    assert_bytes_equal(s.key_hash, fp, 32);
    assert_int_equal(s.host_count, 1);
    assert_int_equal(s.port_len, 4);
    /* nothing listens on a port we just closed: connect fails with IO */
    int lfd = -1;
    uint16_t port = 0;
    assert_ok(sx_net_listen("127.0.0.1", 0, 1, &lfd, &port));
    sx_net_close(lfd);
    char b[256];
    snprintf(b, sizeof b, "xftp://" FIXTURE_FP "@127.0.0.1:%u", port);
    assert_ok(sx_xftp_fd_server_parse(b, strlen(b), &s));
    sx_xftp_client *c = NULL;
    sx_xftp_client_opts o = {.timeout_ms = 2000};
    assert_int_equal(sx_xftp_client_connect(&s, &o, &c), SX_E_IO);
    assert_null(c);
    /* only an onion host: no way to connect without a proxy */
    const char *onion = "xftp://" FIXTURE_FP
                        "@jk6jybnel5hin2am5omd7g3hyvb4tfkyl7ea4vx5ldi7gpvz5ogqtcqd.onion";
    assert_ok(sx_xftp_fd_server_parse(onion, strlen(onion), &s));
    assert_int_equal(sx_xftp_client_connect(&s, &o, &c), SX_E_USAGE);
    /* a wrong key hash length is refused before connecting */
    const char *shorthash = "xftp://AAAA@127.0.0.1:1";
    assert_ok(sx_xftp_fd_server_parse(shorthash, strlen(shorthash), &s));
    assert_int_equal(sx_xftp_client_connect(&s, &o, &c), SX_E_USAGE);
}

/* Descriptions of two recipients and the sender for a 3-chunk file spread
 * over two servers: printed, parsed back and checked; web link round trip. */
static void test_descriptions(void **state)
{
    (void)state;
    char src[512], enc[512];
    snprintf(src, sizeof src, "%s/d.bin", g_dir);
    snprintf(enc, sizeof enc, "%s/d.enc", g_dir);
    size_t n = 2 * SX_XFTP_CHUNK_1M + 100;
    uint8_t *data = calloc(1, n);
    assert_non_null(data);
    write_file(src, data, n);
    free(data);
    sx_xftp_encrypted e;
    assert_ok(sx_xftp_encrypt_file(src, "d.bin", enc, &e));
    assert_true(e.chunk_count >= 3);
    const char *addrs[] = {"xftp://" FIXTURE_FP "@localhost:7001",
                           "xftp://" FIXTURE_FP "@127.0.0.1:7002"};
    sx_xftp_fd_server servers[2];
    for (int i = 0; i < 2; i++)
        assert_ok(sx_xftp_fd_server_parse(addrs[i], strlen(addrs[i]), &servers[i]));
    sx_xftp_sent_chunk *sc = calloc(e.chunk_count, sizeof *sc);
    assert_non_null(sc);
    for (size_t i = 0; i < e.chunk_count; i++) {
        sc[i].server = i % 2;
        assert_ok(sx_key_generate(SX_KEY_ED25519, &sc[i].snd_key));
        sc[i].snd_id.len = 16;
        memset(sc[i].snd_id.bytes, (int)(0x10 + i), 16);
        sc[i].rcv_keys = calloc(2, sizeof *sc[i].rcv_keys);
        sc[i].rcv_ids = calloc(2, sizeof *sc[i].rcv_ids);
        for (int j = 0; j < 2; j++) {
            assert_ok(sx_key_generate(SX_KEY_ED25519, &sc[i].rcv_keys[j]));
            sc[i].rcv_ids[j].len = 16;
            memset(sc[i].rcv_ids[j].bytes, (int)(0x40 + 16 * j + i), 16);
        }
    }
    for (int party = -1; party < 2; party++) {
        sx_xftp_fd fd;
        assert_ok(sx_xftp_make_description(&e, servers, 2, sc, party, &fd));
        char *text = NULL;
        size_t len = 0;
        assert_ok(sx_xftp_fd_print(&fd, &text, &len));
        assert_non_null(strstr(text, party < 0 ? "party: sender" : "party: recipient"));
        assert_non_null(strstr(text, "chunkSize: 1mb"));
        sx_xftp_fd back;
        assert_ok(sx_xftp_fd_parse(text, len, &back));
        assert_int_equal(back.size, e.enc_size);
        assert_int_equal(back.chunk_count, e.chunk_count);
        assert_bytes_equal(back.digest, e.digest, 64);
        assert_bytes_equal(back.key, e.key, 32);
        assert_bytes_equal(back.nonce, e.nonce, 24);
        for (size_t i = 0; i < back.chunk_count; i++) {
            const sx_xftp_fd_chunk *ch = &back.chunks[i];
            assert_int_equal(ch->size, e.chunk_sizes[i]);
            assert_bytes_equal(ch->digest, e.chunk_digests[i], 32);
            assert_int_equal(ch->replica_count, 1);
            const sx_xftp_id *id = party < 0 ? &sc[i].snd_id : &sc[i].rcv_ids[party];
            assert_int_equal(ch->replicas[0].id_len, id->len);
            assert_bytes_equal(ch->replicas[0].id, id->bytes, id->len);
            sx_key *k = NULL;
            assert_ok(sx_key_decode_private(sx_slice_of(ch->replicas[0].key,
                                                        ch->replicas[0].key_len),
                                            SX_KEY_SIGN_ALGS, &k));
            assert_true(sx_key_public_equal(k, party < 0 ? sc[i].snd_key
                                                         : sc[i].rcv_keys[party]));
            sx_key_free(k);
            assert_string_equal(back.servers[ch->replicas[0].server].text, addrs[i % 2]);
        }
        if (party >= 0) {
            char *link = NULL;
            assert_ok(sx_xftp_web_link(&fd, &link));
            assert_non_null(link);
            assert_true(strncmp(link, "https://localhost/#", 19) == 0);
            sx_xftp_fd w;
            char err[256];
            assert_ok(sx_xftp_read_description(link, &w, err, sizeof err));
            char *t2 = NULL;
            size_t l2 = 0;
            assert_ok(sx_xftp_fd_print(&w, &t2, &l2));
            assert_int_equal(l2, len);
            assert_memory_equal(t2, text, len);
            free(t2);
            sx_xftp_fd_cleanup(&w);
            link[strlen(link) - 3] ^= 1; /* corrupt the deflate stream */
            assert_int_not_equal(sx_xftp_read_description(link, &w, err, sizeof err), SX_OK);
            free(link);
            /* info text */
            char ip[512];
            snprintf(ip, sizeof ip, "%s/info.txt", g_dir);
            FILE *f = fopen(ip, "w");
            assert_non_null(f);
            assert_ok(sx_xftp_print_info(&back, f));
            fclose(f);
            size_t il;
            uint8_t *it = read_file(ip, &il);
            it[il] = 0;
            /* IPv4 hosts sort before domain names */
            assert_non_null(strstr((char *)it, "Recipient file description\nFile download size: "));
            char *p1 = strstr((char *)it, addrs[1]), *p0 = strstr((char *)it, addrs[0]);
            assert_non_null(p0);
            assert_non_null(p1);
            assert_true(p1 < p0);
            free(it);
            unlink(ip);
        }
        free(text);
        sx_xftp_fd_cleanup(&back);
        sx_xftp_fd_cleanup(&fd);
    }
    /* the file written by read_description from disk */
    char dp[512];
    snprintf(dp, sizeof dp, "%s/nonexistent.xftp", g_dir);
    sx_xftp_fd x;
    char err[256];
    assert_int_equal(sx_xftp_read_description(dp, &x, err, sizeof err), SX_E_IO);
    assert_ok(sx_xftp_read_description(tu_data_path("fixtures/file_description.yaml"), &x, err,
                                       sizeof err));
    sx_xftp_fd_cleanup(&x);

    for (size_t i = 0; i < e.chunk_count; i++) {
        sx_key_free(sc[i].snd_key);
        for (int j = 0; j < 2; j++)
            sx_key_free(sc[i].rcv_keys[j]);
        free(sc[i].rcv_keys);
        free(sc[i].rcv_ids);
    }
    free(sc);
    sx_xftp_encrypted_cleanup(&e);
    unlink(enc);
    unlink(src);
}

/* PROTOCOL-NOTES F8: the checks on a server hello built from the fixtures. */
static void test_check_hello(void **state)
{
    (void)state;
    X509 *srv = NULL, *ca = NULL;
    assert_ok(sx_x509_read_cert_file(tu_data_path("fixtures/server.crt"), &srv));
    assert_ok(sx_x509_read_cert_file(tu_data_path("fixtures/ca.crt"), &ca));
    uint8_t *srv_der = NULL, *ca_der = NULL;
    size_t srv_len = 0, ca_len = 0;
    assert_ok(sx_x509_to_der(srv, &srv_der, &srv_len));
    assert_ok(sx_x509_to_der(ca, &ca_der, &ca_len));
    uint8_t fp[32];
    assert_ok(sx_x509_fingerprint(ca, fp));
    sx_key *signer = NULL, *other = NULL, *dh = NULL, *ed = NULL;
    assert_ok(sx_x509_read_key_file(tu_data_path("fixtures/server.key"), SX_KEY_SIGN_ALGS,
                                    &signer));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other));
    assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ed));
    uint8_t sk[512], sk_other[512], sk_ed[512];
    sx_writer w;
    sx_writer_init_fixed(&w, sk, sizeof sk);
    assert_true(sx_x509_write_signed_key(&w, signer, dh));
    sx_slice good_sk = sx_writer_slice(&w);
    sx_writer_init_fixed(&w, sk_other, sizeof sk_other);
    assert_true(sx_x509_write_signed_key(&w, other, dh));
    sx_slice other_sk = sx_writer_slice(&w);
    sx_writer_init_fixed(&w, sk_ed, sizeof sk_ed);
    assert_true(sx_x509_write_signed_key(&w, signer, ed));
    sx_slice ed_sk = sx_writer_slice(&w);

    uint8_t sid[32];
    memset(sid, 7, sizeof sid);
    sx_xftp_server_hello h;
    memset(&h, 0, sizeof h);
    h.range = sx_xftp_vrange();
    h.session_id = sx_slice_of(sid, sizeof sid);
    h.cert_key.chain_len = 2;
    h.cert_key.chain[0] = sx_slice_of(srv_der, srv_len);
    h.cert_key.chain[1] = sx_slice_of(ca_der, ca_len);
    h.cert_key.signed_key = good_sk;
    sx_slice kh = sx_slice_of(fp, sizeof fp);
    uint16_t v = 0;
    sx_key *k = NULL;
    assert_ok(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, &k));
    assert_int_equal(v, SX_XFTP_VERSION_MAX);
    assert_true(sx_key_public_equal(k, dh));
    sx_key_free(k);
    /* an older router: the highest common version */
    h.range.min = 1;
    h.range.max = 2;
    assert_ok(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, NULL));
    assert_int_equal(v, 2);
    h.range.min = 4;
    h.range.max = 9;
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, NULL),
                     SX_E_PROTOCOL);
    h.range = sx_xftp_vrange();
    /* another session */
    uint8_t sid2[32];
    memset(sid2, 8, sizeof sid2);
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid2, sizeof sid2), kh, &v, NULL),
                     SX_E_PROTOCOL);
    /* wrong identity */
    uint8_t fp2[32];
    memcpy(fp2, fp, 32);
    fp2[0] ^= 1;
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid),
                                                sx_slice_of(fp2, 32), &v, NULL),
                     SX_E_AUTH);
    /* chains of 1 and 3 certificates */
    h.cert_key.chain_len = 1;
    h.cert_key.chain[0] = sx_slice_of(ca_der, ca_len);
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, NULL),
                     SX_E_AUTH);
    h.cert_key.chain_len = 3;
    h.cert_key.chain[0] = sx_slice_of(srv_der, srv_len);
    h.cert_key.chain[2] = sx_slice_of(ca_der, ca_len);
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, NULL),
                     SX_E_AUTH);
    h.cert_key.chain_len = 2;
    /* signed by another key; a signed Ed25519 key */
    h.cert_key.signed_key = other_sk;
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, NULL),
                     SX_E_AUTH);
    h.cert_key.signed_key = ed_sk;
    assert_int_equal(sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid), kh, &v, NULL),
                     SX_E_AUTH);

    sx_key_free(signer);
    sx_key_free(other);
    sx_key_free(dh);
    sx_key_free(ed);
    OPENSSL_free(srv_der);
    OPENSSL_free(ca_der);
    X509_free(srv);
    X509_free(ca);
}

static void test_error_status(void **state)
{
    (void)state;
    sx_xftp_error e = sx_xftp_error_of(SX_XFTP_ERR_AUTH);
    assert_int_equal(sx_xftp_error_status(&e), SX_E_AUTH);
    e = sx_xftp_error_of(SX_XFTP_ERR_QUOTA);
    assert_int_equal(sx_xftp_error_status(&e), SX_E_LIMIT);
    e = sx_xftp_error_of(SX_XFTP_ERR_SIZE);
    assert_int_equal(sx_xftp_error_status(&e), SX_E_LIMIT);
    e = sx_xftp_error_of(SX_XFTP_ERR_DIGEST);
    assert_int_equal(sx_xftp_error_status(&e), SX_E_AUTH);
    e = sx_xftp_error_of(SX_XFTP_ERR_NO_FILE);
    assert_int_equal(sx_xftp_error_status(&e), SX_E_PROTOCOL);
    e = sx_xftp_error_of(SX_XFTP_ERR_TIMEOUT);
    assert_int_equal(sx_xftp_error_status(&e), SX_E_IO);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptions, setup, teardown),
        cmocka_unit_test(test_check_hello),
        cmocka_unit_test(test_error_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
