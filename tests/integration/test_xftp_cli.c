/* The XFTP client library against two routers started in process on
 * loopback (fixture certificates): the connection and raw commands, then
 * whole-file send / recv / del as the xftp program runs them for files of
 * 0 and 1 bytes, on each chunk-size boundary and over many chunks spread
 * across both routers; tampering detected by the receiver (a chunk edited
 * in the router's folder, a wrong digest in the description) and receiving
 * after deletion (AUTH); chunks moved to both routers at the same time
 * (through a gating proxy) and one router lost mid-transfer failing the
 * whole send / receive cleanly; an answer that comes before the body
 * (QUOTA) ends the request at once and leaves the connection usable. */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "xftp_client/client.h"
#include "xftp_router/server.h"
#include "xftp_client/transfer.h"

#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="
#define BIG_FILE (100u * 1024 * 1024)

static char g_dir[256];

/* Nothing of a transfer is left in the temporary folder (g_dir): no
 * xftp_<random>.encrypted file or folder. */
static void assert_no_tmp_left(void)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        bool tmp = strncmp(e->d_name, "xftp_", 5) == 0 && n > 10 &&
                   strcmp(e->d_name + n - 10, ".encrypted") == 0;
        if (tmp)
            fail_msg("left in the temporary folder: %s", e->d_name);
    }
    closedir(d);
}
static char g_files[2][300];
static sx_xftp_server *g_srv[2];
static char g_addr[2][256];

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (sx_crypto_init() != SX_OK)
        return -1;
    snprintf(g_dir, sizeof g_dir, "/tmp/sx_xftp_cli_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    for (int i = 0; i < 2; i++) {
        snprintf(g_files[i], sizeof g_files[i], "%s/files%d", g_dir, i);
        if (mkdir(g_files[i], 0700) != 0)
            return -1;
        static char cert[512], ca[512], key[512];
        snprintf(cert, sizeof cert, "%s", tu_data_path("fixtures/server.crt"));
        snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
        snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
        sx_xftp_server_opts o;
        memset(&o, 0, sizeof o);
        o.cert_file = cert;
        o.ca_file = ca;
        o.key_file = key;
        o.host = "127.0.0.1";
        o.port = 0;
        o.workers = 1;
        o.files_dir = g_files[i];
        o.new_files = true;
        o.quiet = true;
        if (sx_xftp_server_start(&o, &g_srv[i]) != SX_OK)
            return -1;
        snprintf(g_addr[i], sizeof g_addr[i], "xftp://" FIXTURE_FP "@127.0.0.1:%u",
                 sx_xftp_server_port(g_srv[i]));
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        sx_xftp_server_stop(g_srv[i]);
    tu_rm_rf(g_dir);
    return 0;
}

static void make_file(const char *path, size_t n, uint8_t seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t buf[65536];
    size_t done = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (done < n) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        assert_int_equal(fwrite(buf, 1, k, f), k);
        done += k;
    }
    assert_int_equal(fclose(f), 0);
}

static void assert_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    assert_non_null(fa);
    assert_non_null(fb);
    static uint8_t ba[65536], bb[65536];
    for (;;) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        assert_int_equal(na, nb);
        if (na == 0)
            break;
        assert_memory_equal(ba, bb, na);
    }
    fclose(fa);
    fclose(fb);
}

static void opts_init(sx_xftp_transfer_opts *o, char *err, size_t errlen, size_t nservers)
{
    static const char *servers[2];
    servers[0] = g_addr[0];
    servers[1] = g_addr[1];
    memset(o, 0, sizeof *o);
    o->servers = servers;
    o->server_count = nservers;
    o->recipients = 2;
    o->tmp_dir = g_dir;
    o->client.timeout_ms = 10000;
    o->errbuf = err;
    o->errbuf_len = errlen;
    err[0] = '\0';
}

/* ---- raw connection ---- */

static void test_connect_commands(void **state)
{
    (void)state;
    sx_xftp_fd_server s;
    assert_ok(sx_xftp_fd_server_parse(g_addr[0], strlen(g_addr[0]), &s));
    sx_xftp_client *c = NULL;
    assert_ok(sx_xftp_client_connect(&s, NULL, &c));
    assert_int_equal(sx_xftp_client_version(c), SX_XFTP_VERSION_MAX);
    assert_true(sx_xftp_client_session_id(c).len >= 32);
    assert_ok(sx_xftp_client_ping(c));

    /* a 64 KiB chunk with a wrong digest: ERR DIGEST on FPUT */
    char path[512];
    snprintf(path, sizeof path, "%s/raw", g_dir);
    make_file(path, SX_XFTP_CHUNK_64K, 3);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    sx_key *snd = NULL, *rcv = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &snd));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &rcv));
    uint8_t digest[32] = {0};
    sx_xftp_id sid, rid;
    const sx_key *rk[] = {rcv};
    assert_ok(sx_xftp_client_fnew(c, snd, SX_XFTP_CHUNK_64K, sx_slice_of(digest, 32), rk, 1, NULL,
                                  &sid, &rid));
    assert_int_equal(sid.len, SX_XFTP_FILE_ID_LEN);
    assert_int_equal(sx_xftp_client_fput(c, snd, sx_slice_of(sid.bytes, sid.len), fd, 0,
                                         SX_XFTP_CHUNK_64K),
                     SX_E_AUTH);
    assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_DIGEST);
    /* the right digest: FPUT, FADD, FGET by both recipients, FACK, FDEL */
    uint8_t *buf = malloc(SX_XFTP_CHUNK_64K);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, SX_XFTP_CHUNK_64K, 0), SX_XFTP_CHUNK_64K);
    assert_ok(sx_sha256(sx_slice_of(buf, SX_XFTP_CHUNK_64K), digest));
    assert_ok(sx_xftp_client_fnew(c, snd, SX_XFTP_CHUNK_64K, sx_slice_of(digest, 32), rk, 1, NULL,
                                  &sid, &rid));
    sx_slice sids = sx_slice_of(sid.bytes, sid.len);
    /* not uploaded yet */
    char out[512];
    snprintf(out, sizeof out, "%s/raw.out", g_dir);
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(ofd >= 0);
    assert_int_equal(sx_xftp_client_fget(c, rcv, sx_slice_of(rid.bytes, rid.len),
                                         SX_XFTP_CHUNK_64K, sx_slice_of(digest, 32), ofd),
                     SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_NO_FILE);
    assert_ok(sx_xftp_client_fput(c, snd, sids, fd, 0, SX_XFTP_CHUNK_64K));
    assert_ok(sx_xftp_client_fput(c, snd, sids, fd, 0, SX_XFTP_CHUNK_64K)); /* idempotent */
    sx_key *rcv2 = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &rcv2));
    const sx_key *rk2[] = {rcv2};
    sx_xftp_id rid2;
    assert_ok(sx_xftp_client_fadd(c, snd, sids, rk2, 1, &rid2));
    assert_int_equal(ftruncate(ofd, 0), 0);
    assert_ok(sx_xftp_client_fget(c, rcv, sx_slice_of(rid.bytes, rid.len), SX_XFTP_CHUNK_64K,
                                  sx_slice_of(digest, 32), ofd));
    close(ofd);
    assert_same_file(path, out);
    /* the wrong expected digest on the client side */
    ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    uint8_t wrong[32];
    memcpy(wrong, digest, 32);
    wrong[5] ^= 1;
    assert_int_equal(sx_xftp_client_fget(c, rcv2, sx_slice_of(rid2.bytes, rid2.len),
                                         SX_XFTP_CHUNK_64K, sx_slice_of(wrong, 32), ofd),
                     SX_E_AUTH);
    assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_DIGEST);
    /* the wrong size: fewer bytes than the stream carries */
    assert_int_equal(sx_xftp_client_fget(c, rcv2, sx_slice_of(rid2.bytes, rid2.len),
                                         SX_XFTP_CHUNK_64K - 1, sx_slice_of(digest, 32), ofd),
                     SX_E_LIMIT);
    assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_SIZE);
    close(ofd);
    /* a recipient key signing for another recipient id */
    assert_int_equal(sx_xftp_client_fack(c, rcv, sx_slice_of(rid2.bytes, rid2.len)), SX_E_AUTH);
    assert_ok(sx_xftp_client_fack(c, rcv, sx_slice_of(rid.bytes, rid.len)));
    assert_int_equal(sx_xftp_client_fack(c, rcv, sx_slice_of(rid.bytes, rid.len)), SX_E_AUTH);
    assert_ok(sx_xftp_client_fdel(c, snd, sids));
    ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(sx_xftp_client_fget(c, rcv2, sx_slice_of(rid2.bytes, rid2.len),
                                         SX_XFTP_CHUNK_64K, sx_slice_of(digest, 32), ofd),
                     SX_E_AUTH);
    assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_AUTH);
    close(ofd);
    /* a size that is not a chunk size */
    assert_int_equal(sx_xftp_client_fnew(c, snd, 1000, sx_slice_of(digest, 32), rk, 1, NULL, &sid,
                                         &rid),
                     SX_E_LIMIT);
    assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_SIZE);
    assert_true(sx_xftp_client_usable(c));
    assert_ok(sx_xftp_client_ping(c));
    close(fd);
    free(buf);
    sx_key_free(snd);
    sx_key_free(rcv);
    sx_key_free(rcv2);
    sx_xftp_client_free(c);

    /* the wrong identity: the TLS check fails */
    char bad[256];
    snprintf(bad, sizeof bad, "xftp://AAAAMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@127.0.0.1:%u",
             sx_xftp_server_port(g_srv[0]));
    assert_ok(sx_xftp_fd_server_parse(bad, strlen(bad), &s));
    assert_int_equal(sx_xftp_client_connect(&s, NULL, &c), SX_E_AUTH);
    assert_null(c);
}

/* ---- whole files ---- */

/* Sends a file of n bytes, receives it with both recipient descriptions,
 * deletes it, and checks that a receive after deletion fails with AUTH. */
static void send_recv_del(size_t n, size_t nservers, bool check_after_delete)
{
    char src[512], out[512], err[512];
    snprintf(src, sizeof src, "%s/file %zu.dat", g_dir, n);
    snprintf(out, sizeof out, "%s/out", g_dir);
    mkdir(out, 0700);
    make_file(src, n, (uint8_t)n);
    sx_xftp_transfer_opts o;
    opts_init(&o, err, sizeof err, nservers);
    sx_xftp_send_result res;
    sx_status st = sx_xftp_send(src, g_dir, &o, &res);
    if (st != SX_OK)
        fail_msg("send %zu: %s (%s)", n, sx_status_str(st), err);
    assert_int_equal(res.rcv_count, 2);
    char want[600];
    snprintf(want, sizeof want, "%s/file %zu.dat.xftp/snd.xftp.private", g_dir, n);
    assert_string_equal(res.snd_path, want);
    snprintf(want, sizeof want, "%s/file %zu.dat.xftp/rcv2.xftp", g_dir, n);
    assert_string_equal(res.rcv_paths[1], want);
    assert_non_null(res.web_link);

    for (int r = 0; r < 2; r++) {
        sx_xftp_fd fd;
        /* the first recipient through the web link, the second from the file */
        const char *src_desc = r == 0 ? res.web_link : res.rcv_paths[1];
        assert_ok(sx_xftp_read_description(src_desc, &fd, err, sizeof err));
        char got[1024];
        st = sx_xftp_recv(&fd, out, &o, got, sizeof got);
        if (st != SX_OK)
            fail_msg("recv %zu: %s (%s)", n, sx_status_str(st), err);
        snprintf(want, sizeof want, "%s/file %zu%s.dat", out, n, r == 0 ? "" : "_1");
        assert_string_equal(got, want);
        assert_same_file(src, got);
        sx_xftp_fd_cleanup(&fd);
    }
    /* the temporary files are gone */
    assert_no_tmp_left();

    sx_xftp_fd sfd;
    assert_ok(sx_xftp_read_description(res.snd_path, &sfd, err, sizeof err));
    assert_ok(sx_xftp_delete(&sfd, &o));
    sx_xftp_fd_cleanup(&sfd);
    if (check_after_delete) {
        sx_xftp_fd fd;
        assert_ok(sx_xftp_read_description(res.rcv_paths[0], &fd, err, sizeof err));
        char got[1024];
        assert_int_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_E_AUTH);
        assert_non_null(strstr(err, "AUTH"));
        sx_xftp_fd_cleanup(&fd);
    }
    sx_xftp_send_result_cleanup(&res);
    unlink(src);
    tu_rm_rf(out);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/file %zu.dat.xftp", g_dir, n);
    tu_rm_rf(tmp);
}

static void test_small_files(void **state)
{
    (void)state;
    send_recv_del(0, 1, true);
    send_recv_del(1, 2, true);
}

static void test_chunk_boundaries(void **state)
{
    (void)state;
    /* header of "file <n>.dat" + length + tag */
    const size_t payloads[] = {
        SX_XFTP_CHUNK_64K,          SX_XFTP_CHUNK_64K + 1,
        SX_XFTP_CHUNK_256K * 3 / 4, SX_XFTP_CHUNK_256K * 3 / 4 + 1,
        SX_XFTP_CHUNK_256K,         SX_XFTP_CHUNK_1M * 3 / 4 + 1,
        SX_XFTP_CHUNK_1M,           SX_XFTP_CHUNK_4M * 3 / 4 + 1,
        SX_XFTP_CHUNK_4M,
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char name[64];
        /* the file name depends on n; solve n + header(n) + 24 = payload */
        size_t n = payloads[i] - 24;
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "file %zu.dat", n);
            n = payloads[i] - 24 - (strlen(name) + 2);
        }
        send_recv_del(n, 2, i == 0);
    }
}

static void test_multi_chunk(void **state)
{
    (void)state;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_recv_del(BIG_FILE, 2, true);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("multi-chunk %u MiB: send + 2 recv + del in %.2f s\n", BIG_FILE >> 20, s);
}

/* Flips one byte in the middle of chunk 1's file in the router's folder
 * (<files_dir>/<base64url(sender id)>), found with the sender description. */
static void corrupt_chunk(const char *snd_desc, const char *files_dir)
{
    sx_xftp_fd fd;
    char err[256];
    assert_ok(sx_xftp_read_description(snd_desc, &fd, err, sizeof err));
    const sx_xftp_fd_replica *r = &fd.chunks[0].replicas[0];
    char id[64];
    assert_ok(sx_b64_encode(sx_slice_of(r->id, r->id_len), SX_B64_URL, id, sizeof id));
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", files_dir, id);
    sx_xftp_fd_cleanup(&fd);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    int f = open(p, O_RDWR);
    assert_true(f >= 0);
    uint8_t b;
    assert_int_equal(pread(f, &b, 1, st.st_size / 2), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(f, &b, 1, st.st_size / 2), 1);
    close(f);
}

static void test_tampering(void **state)
{
    (void)state;
    char src[512], out[512], err[512], got[1024];
    snprintf(src, sizeof src, "%s/t.dat", g_dir);
    snprintf(out, sizeof out, "%s/tout", g_dir);
    mkdir(out, 0700);
    make_file(src, 100000, 9);
    sx_xftp_transfer_opts o;
    opts_init(&o, err, sizeof err, 1);

    /* a wrong file digest in the description */
    sx_xftp_send_result res;
    assert_ok(sx_xftp_send(src, g_dir, &o, &res));
    sx_xftp_fd fd;
    assert_ok(sx_xftp_read_description(res.rcv_paths[0], &fd, err, sizeof err));
    fd.digest[0] ^= 1;
    assert_int_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_E_AUTH);
    assert_non_null(strstr(err, "File digest mismatch (DIGEST)"));
    fd.digest[0] ^= 1;
    /* a wrong chunk digest */
    fd.chunks[0].digest[3] ^= 1;
    assert_int_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_E_AUTH);
    assert_non_null(strstr(err, "DIGEST"));
    fd.chunks[0].digest[3] ^= 1;
    /* the original still works (nothing was acknowledged) */
    assert_ok(sx_xftp_recv(&fd, out, &o, got, sizeof got));
    assert_same_file(src, got);
    sx_xftp_fd_cleanup(&fd);
    sx_xftp_send_result_cleanup(&res);

    /* a chunk edited in the router's folder */
    assert_ok(sx_xftp_send(src, g_dir, &o, &res));
    corrupt_chunk(res.snd_path, g_files[0]);
    assert_ok(sx_xftp_read_description(res.rcv_paths[1], &fd, err, sizeof err));
    assert_int_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_E_AUTH);
    assert_non_null(strstr(err, "DIGEST"));
    sx_xftp_fd_cleanup(&fd);
    /* a sender description cannot receive, a recipient one cannot delete */
    assert_ok(sx_xftp_read_description(res.snd_path, &fd, err, sizeof err));
    assert_int_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_E_USAGE);
    sx_xftp_fd_cleanup(&fd);
    assert_ok(sx_xftp_read_description(res.rcv_paths[0], &fd, err, sizeof err));
    assert_int_equal(sx_xftp_delete(&fd, &o), SX_E_USAGE);
    sx_xftp_fd_cleanup(&fd);
    sx_xftp_send_result_cleanup(&res);
    unlink(src);
    tu_rm_rf(out);
}

/* A redirect description (as the agent makes for long descriptions): the
 * outer file's content is the YAML of the real description. */
static void test_redirect(void **state)
{
    (void)state;
    char src[512], out[512], err[512], got[1024];
    snprintf(src, sizeof src, "%s/r.dat", g_dir);
    snprintf(out, sizeof out, "%s/rout", g_dir);
    mkdir(out, 0700);
    make_file(src, 300000, 4);
    sx_xftp_transfer_opts o;
    opts_init(&o, err, sizeof err, 2);
    sx_xftp_send_result inner, outer;
    assert_ok(sx_xftp_send(src, g_dir, &o, &inner));
    assert_ok(sx_xftp_send(inner.rcv_paths[0], g_dir, &o, &outer));
    sx_xftp_fd in, fd;
    assert_ok(sx_xftp_read_description(inner.rcv_paths[0], &in, err, sizeof err));
    assert_ok(sx_xftp_read_description(outer.rcv_paths[0], &fd, err, sizeof err));
    fd.has_redirect = true;
    fd.redirect_size = in.size;
    memcpy(fd.redirect_digest, in.digest, in.digest_len);
    fd.redirect_digest_len = in.digest_len;
    assert_ok(sx_xftp_recv(&fd, out, &o, got, sizeof got));
    char want[600];
    snprintf(want, sizeof want, "%s/r.dat", out);
    assert_string_equal(got, want);
    assert_same_file(src, got);
    /* both levels were acknowledged */
    assert_int_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_E_AUTH);
    assert_int_equal(sx_xftp_recv(&in, out, &o, got, sizeof got), SX_E_AUTH);
    /* a redirect whose target is a redirect again is refused */
    char ypath[600];
    snprintf(ypath, sizeof ypath, "%s/inner2.yaml", g_dir);
    sx_xftp_fd in2;
    assert_ok(sx_xftp_read_description(inner.rcv_paths[1], &in2, err, sizeof err));
    in2.has_redirect = true;
    in2.redirect_size = in.size;
    memcpy(in2.redirect_digest, in.digest, in.digest_len);
    in2.redirect_digest_len = in.digest_len;
    char *text = NULL;
    size_t tl = 0;
    assert_ok(sx_xftp_fd_print(&in2, &text, &tl));
    FILE *f = fopen(ypath, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, tl, f), tl);
    fclose(f);
    free(text);
    sx_xftp_send_result chain;
    assert_ok(sx_xftp_send(ypath, g_dir, &o, &chain));
    sx_xftp_fd fd3;
    assert_ok(sx_xftp_read_description(chain.rcv_paths[0], &fd3, err, sizeof err));
    fd3.has_redirect = true;
    fd3.redirect_size = in.size;
    memcpy(fd3.redirect_digest, in.digest, in.digest_len);
    fd3.redirect_digest_len = in.digest_len;
    assert_int_equal(sx_xftp_recv(&fd3, out, &o, got, sizeof got), SX_E_PROTOCOL);
    assert_string_equal(err, "Redirect chain too long");
    sx_xftp_fd_cleanup(&fd3);
    sx_xftp_fd_cleanup(&in2);
    sx_xftp_send_result_cleanup(&chain);
    sx_xftp_fd_cleanup(&fd);
    sx_xftp_fd_cleanup(&in);
    sx_xftp_send_result_cleanup(&inner);
    sx_xftp_send_result_cleanup(&outer);
    unlink(src);
    tu_rm_rf(out);
}

/* ---- parallel transfers through a gating proxy ---- */

/* A TCP proxy in front of each router (one thread, poll). It counts the
 * bytes each router's connections move per direction (0: to the router,
 * 1: from it). With a gate on direction d, a router that has moved
 * GATE_BYTES while the other has not yet stops being forwarded until the
 * other one catches up: a client that moves one chunk at a time stalls
 * there, and after GATE_WAIT_MS the proxy gives up and records it. With a
 * cut, router i's connections are closed once it has moved cut_after bytes
 * in direction d and new ones are closed on accept (a router gone mid-way). */
#define GATE_BYTES (384 * 1024)
#define GATE_WAIT_MS 3000
#define PX_PAIRS 64

typedef struct px_pair {
    int fd[2]; /* 0: client side, 1: router side */
    int router;
} px_pair;

static struct {
    pthread_t tid;
    pthread_mutex_t mu;
    int lfd[2];
    uint16_t port[2];
    px_pair pairs[PX_PAIRS];
    size_t n_pairs;
    /* under mu */
    bool stop;
    int gate_dir;          /* -1: no gate */
    int cut_router, cut_dir; /* -1: no cut */
    int64_t cut_after;
    bool cut_done;
    int64_t bytes[2][2];
    int64_t stalled_since; /* ms, 0: not stalled */
    bool gate_gave_up;
    bool gate_opened;      /* both routers passed GATE_BYTES */
} g_px;

static char g_paddr[2][256];

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void px_reset(int gate_dir, int cut_router, int cut_dir, int64_t cut_after)
{
    pthread_mutex_lock(&g_px.mu);
    memset(g_px.bytes, 0, sizeof g_px.bytes);
    g_px.gate_dir = gate_dir;
    g_px.cut_router = cut_router;
    g_px.cut_dir = cut_dir;
    g_px.cut_after = cut_after;
    g_px.cut_done = false;
    g_px.stalled_since = 0;
    g_px.gate_gave_up = false;
    g_px.gate_opened = false;
    pthread_mutex_unlock(&g_px.mu);
}

static void px_close_pair(size_t i)
{
    close(g_px.pairs[i].fd[0]);
    close(g_px.pairs[i].fd[1]);
    g_px.pairs[i] = g_px.pairs[--g_px.n_pairs];
}

/* Whether side `from` of pair p may be read now (under mu). */
static bool px_may_read(const px_pair *p, int from)
{
    int dir = from == 0 ? 0 : 1;
    if (g_px.gate_dir != dir || g_px.gate_gave_up || g_px.gate_opened)
        return true;
    int me = p->router, other = 1 - me;
    return g_px.bytes[me][dir] < GATE_BYTES || g_px.bytes[other][dir] >= GATE_BYTES;
}

static void *px_thread(void *arg)
{
    (void)arg;
    static uint8_t buf[65536];
    for (;;) {
        struct pollfd pf[2 + 2 * PX_PAIRS];
        size_t np = 0;
        pthread_mutex_lock(&g_px.mu);
        if (g_px.stop) {
            pthread_mutex_unlock(&g_px.mu);
            break;
        }
        if (g_px.gate_dir >= 0 && !g_px.gate_opened &&
            g_px.bytes[0][g_px.gate_dir] >= GATE_BYTES && g_px.bytes[1][g_px.gate_dir] >= GATE_BYTES)
            g_px.gate_opened = true;
        bool stalled = false;
        for (int k = 0; k < 2; k++)
            pf[np++] = (struct pollfd){.fd = g_px.lfd[k], .events = POLLIN};
        for (size_t i = 0; i < g_px.n_pairs; i++)
            for (int s = 0; s < 2; s++) {
                bool ok = px_may_read(&g_px.pairs[i], s);
                stalled |= !ok;
                pf[np++] = (struct pollfd){.fd = g_px.pairs[i].fd[s], .events = ok ? POLLIN : 0};
            }
        if (stalled && g_px.stalled_since == 0)
            g_px.stalled_since = now_ms();
        if (!stalled)
            g_px.stalled_since = 0;
        if (stalled && now_ms() - g_px.stalled_since > GATE_WAIT_MS)
            g_px.gate_gave_up = true;
        pthread_mutex_unlock(&g_px.mu);
        if (poll(pf, np, 50) <= 0)
            continue;
        pthread_mutex_lock(&g_px.mu);
        for (int k = 0; k < 2; k++) {
            if (!(pf[k].revents & POLLIN))
                continue;
            int c = accept(g_px.lfd[k], NULL, NULL);
            if (c < 0)
                continue;
            if ((g_px.cut_done && g_px.cut_router == k) || g_px.n_pairs == PX_PAIRS) {
                close(c);
                continue;
            }
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons(sx_xftp_server_port(g_srv[k])),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
                if (s >= 0)
                    close(s);
                close(c);
                continue;
            }
            g_px.pairs[g_px.n_pairs++] = (px_pair){.fd = {c, s}, .router = k};
        }
        /* pairs added above are not in pf; only the first n polled are looked at */
        size_t polled = (np - 2) / 2;
        for (size_t i = polled; i-- > 0;) {
            bool dead = false;
            for (int s = 0; s < 2 && !dead; s++) {
                if (!(pf[2 + 2 * i + (size_t)s].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t n = read(g_px.pairs[i].fd[s], buf, sizeof buf);
                if (n <= 0) {
                    dead = true;
                    break;
                }
                int r = g_px.pairs[i].router, dir = s == 0 ? 0 : 1;
                for (ssize_t off = 0; off < n && !dead;) {
                    ssize_t w = write(g_px.pairs[i].fd[1 - s], buf + off, (size_t)(n - off));
                    if (w <= 0)
                        dead = true;
                    else
                        off += w;
                }
                g_px.bytes[r][dir] += n;
            }
            if (dead)
                px_close_pair(i);
        }
        if (g_px.cut_router >= 0 && !g_px.cut_done &&
            g_px.bytes[g_px.cut_router][g_px.cut_dir] >= g_px.cut_after) {
            g_px.cut_done = true;
            for (size_t i = g_px.n_pairs; i-- > 0;)
                if (g_px.pairs[i].router == g_px.cut_router)
                    px_close_pair(i);
        }
        pthread_mutex_unlock(&g_px.mu);
    }
    while (g_px.n_pairs > 0)
        px_close_pair(g_px.n_pairs - 1);
    return NULL;
}

static void px_start(void)
{
    memset(&g_px, 0, sizeof g_px);
    assert_int_equal(pthread_mutex_init(&g_px.mu, NULL), 0);
    g_px.gate_dir = -1;
    g_px.cut_router = -1;
    for (int k = 0; k < 2; k++) {
        g_px.lfd[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(g_px.lfd[k] >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(g_px.lfd[k], (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(g_px.lfd[k], 16), 0);
        socklen_t al = sizeof a;
        assert_int_equal(getsockname(g_px.lfd[k], (struct sockaddr *)&a, &al), 0);
        g_px.port[k] = ntohs(a.sin_port);
        snprintf(g_paddr[k], sizeof g_paddr[k], "xftp://" FIXTURE_FP "@127.0.0.1:%u", g_px.port[k]);
    }
    assert_int_equal(pthread_create(&g_px.tid, NULL, px_thread, NULL), 0);
}

static void px_stop(void)
{
    pthread_mutex_lock(&g_px.mu);
    g_px.stop = true;
    pthread_mutex_unlock(&g_px.mu);
    pthread_join(g_px.tid, NULL);
    close(g_px.lfd[0]);
    close(g_px.lfd[1]);
    pthread_mutex_destroy(&g_px.mu);
}

static void px_opts(sx_xftp_transfer_opts *o, char *err, size_t errlen)
{
    static const char *servers[2];
    servers[0] = g_paddr[0];
    servers[1] = g_paddr[1];
    memset(o, 0, sizeof *o);
    o->servers = servers;
    o->server_count = 2;
    o->recipients = 2;
    o->tmp_dir = g_dir;
    o->retry = 2;
    o->client.timeout_ms = 10000;
    o->errbuf = err;
    o->errbuf_len = errlen;
    err[0] = '\0';
}

/* How many different routers the chunks of a description use. */
static int routers_used(const char *desc)
{
    sx_xftp_fd fd;
    char err[256];
    assert_ok(sx_xftp_read_description(desc, &fd, err, sizeof err));
    bool used[2] = {false, false};
    for (size_t i = 0; i < fd.chunk_count; i++) {
        const char *t = fd.servers[fd.chunks[i].replicas[0].server].text;
        used[strstr(t, g_paddr[1] + strlen("xftp://" FIXTURE_FP "@")) != NULL] = true;
    }
    sx_xftp_fd_cleanup(&fd);
    return (int)used[0] + (int)used[1];
}


static void progress_check(void *ud, const char *phase, int64_t done, int64_t total)
{
    /* the bytes moved grow chunk by chunk up to the total */
    int64_t *last = ud;
    if (strcmp(phase, "Uploaded") && strcmp(phase, "Downloaded"))
        return;
    assert_true(done > *last || done == 0);
    assert_true(done <= total);
    *last = done;
}

/* A 3-chunk file over two routers: uploads and downloads go to both at the
 * same time (the gate above would stall a client moving one chunk at a
 * time), and the result is intact. */
static void test_parallel(void **state)
{
    (void)state;
    char src[512], out[512], err[512], got[1024];
    snprintf(src, sizeof src, "%s/par.dat", g_dir);
    snprintf(out, sizeof out, "%s/pout", g_dir);
    mkdir(out, 0700);
    make_file(src, 2900 * 1024, 21); /* 3 chunks of 1 MiB */
    px_start();
    sx_xftp_transfer_opts o;
    px_opts(&o, err, sizeof err);
    int64_t last = 0;
    o.progress = progress_check;
    o.progress_ud = &last;
    sx_xftp_send_result res;
    memset(&res, 0, sizeof res);
    /* chunks go to random routers: retry until both have some */
    bool both = false;
    for (int attempt = 0; attempt < 12 && !both; attempt++) {
        px_reset(0, -1, 0, 0);
        last = 0;
        sx_status st = sx_xftp_send(src, g_dir, &o, &res);
        if (st != SX_OK)
            fail_msg("send: %s (%s)", sx_status_str(st), err);
        both = routers_used(res.rcv_paths[0]) == 2;
        if (!both) {
            char d[600];
            snprintf(d, sizeof d, "%s/par.dat.xftp", g_dir);
            tu_rm_rf(d);
            sx_xftp_send_result_cleanup(&res);
        }
    }
    assert_true(both);
    sx_xftp_fd fd;
    assert_ok(sx_xftp_read_description(res.rcv_paths[0], &fd, err, sizeof err));
    assert_int_equal(last, fd.size);
    pthread_mutex_lock(&g_px.mu);
    bool gave_up = g_px.gate_gave_up, opened = g_px.gate_opened;
    pthread_mutex_unlock(&g_px.mu);
    assert_false(gave_up);
    assert_true(opened);

    /* download with the gate on the routers' side */
    px_reset(1, -1, 0, 0);
    last = 0;
    sx_status st = sx_xftp_recv(&fd, out, &o, got, sizeof got);
    if (st != SX_OK)
        fail_msg("recv: %s (%s)", sx_status_str(st), err);
    assert_int_equal(last, fd.size);
    assert_same_file(src, got);
    sx_xftp_fd_cleanup(&fd);
    pthread_mutex_lock(&g_px.mu);
    gave_up = g_px.gate_gave_up;
    opened = g_px.gate_opened;
    pthread_mutex_unlock(&g_px.mu);
    assert_false(gave_up);
    assert_true(opened);
    unlink(got);

    /* router 2 goes away in the middle of the download: the whole receive
     * fails, nothing is written or left behind, no chunk is acknowledged */
    assert_ok(sx_xftp_read_description(res.rcv_paths[1], &fd, err, sizeof err));
    px_reset(-1, 1, 1, 200 * 1024);
    assert_int_not_equal(sx_xftp_recv(&fd, out, &o, got, sizeof got), SX_OK);
    assert_non_null(strstr(err, "Error downloading chunk"));
    DIR *d = opendir(out);
    assert_non_null(d);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)) != NULL)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    assert_int_equal(entries, 0);
    assert_no_tmp_left();
    /* with the router back, the same description still works */
    px_reset(-1, -1, 0, 0);
    assert_ok(sx_xftp_recv(&fd, out, &o, got, sizeof got));
    assert_same_file(src, got);
    sx_xftp_fd_cleanup(&fd);
    sx_xftp_send_result_cleanup(&res);

    /* router 2 goes away in the middle of an upload: send fails as a whole */
    bool failed = false;
    for (int attempt = 0; attempt < 12 && !failed; attempt++) {
        px_reset(-1, 1, 0, 200 * 1024);
        err[0] = '\0';
        st = sx_xftp_send(src, out, &o, &res);
        failed = st != SX_OK;
        if (!failed) {
            /* every chunk went to router 1 this time */
            assert_int_equal(routers_used(res.rcv_paths[0]), 1);
            tu_rm_rf(res.dir);
            sx_xftp_send_result_cleanup(&res);
        }
    }
    assert_true(failed);
    assert_non_null(strstr(err, "Error uploading chunk "));
    assert_non_null(strstr(err, g_paddr[1]));
    assert_null(res.rcv_paths);
    assert_null(res.web_link);
    char dd[600];
    struct stat sb;
    snprintf(dd, sizeof dd, "%s/par.dat.xftp", out);
    assert_int_not_equal(stat(dd, &sb), 0);
    assert_no_tmp_left();
    px_stop();
    unlink(src);
    tu_rm_rf(out);
    snprintf(dd, sizeof dd, "%s/par.dat.xftp", g_dir);
    tu_rm_rf(dd);
}

/* A router with room for 1 MiB answers QUOTA to the upload of a 4 MiB chunk
 * as soon as it has the command, before the body: the client takes the
 * answer, cancels the rest of its upload, and the connection goes on
 * working for a chunk that fits. */
static void test_early_answer(void **state)
{
    (void)state;
    char files[300], addr[256], path[512];
    snprintf(files, sizeof files, "%s/qfiles", g_dir);
    assert_int_equal(mkdir(files, 0700), 0);
    static char cert[512], ca[512], key[512];
    snprintf(cert, sizeof cert, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    sx_xftp_server_opts so;
    memset(&so, 0, sizeof so);
    so.cert_file = cert;
    so.ca_file = ca;
    so.key_file = key;
    so.host = "127.0.0.1";
    so.workers = 1;
    so.files_dir = files;
    so.new_files = true;
    so.quiet = true;
    so.quota = SX_XFTP_CHUNK_1M;
    sx_xftp_server *srv = NULL;
    assert_ok(sx_xftp_server_start(&so, &srv));
    snprintf(addr, sizeof addr, "xftp://" FIXTURE_FP "@127.0.0.1:%u", sx_xftp_server_port(srv));
    sx_xftp_fd_server s;
    assert_ok(sx_xftp_fd_server_parse(addr, strlen(addr), &s));
    sx_xftp_client *c = NULL;
    assert_ok(sx_xftp_client_connect(&s, NULL, &c));

    snprintf(path, sizeof path, "%s/q4m", g_dir);
    make_file(path, SX_XFTP_CHUNK_4M, 8);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t *buf = malloc(SX_XFTP_CHUNK_4M);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, SX_XFTP_CHUNK_4M, 0), SX_XFTP_CHUNK_4M);
    uint8_t digest[32];
    sx_key *snd = NULL, *rcv = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &snd));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &rcv));
    const sx_key *rk[] = {rcv};
    sx_xftp_id sid, rid;
    for (int round = 0; round < 3; round++) {
        assert_ok(sx_sha256(sx_slice_of(buf, SX_XFTP_CHUNK_4M), digest));
        assert_ok(sx_xftp_client_fnew(c, snd, SX_XFTP_CHUNK_4M, sx_slice_of(digest, 32), rk, 1, NULL, &sid, &rid));
        assert_int_equal(sx_xftp_client_fput(c, snd, sx_slice_of(sid.bytes, sid.len), fd, 0, SX_XFTP_CHUNK_4M),
                         SX_E_LIMIT);
        assert_int_equal(sx_xftp_client_error(c).type, SX_XFTP_ERR_QUOTA);
        assert_true(sx_xftp_client_usable(c));
        assert_ok(sx_xftp_client_ping(c));
    }
    /* a chunk that fits goes through on the same connection */
    assert_ok(sx_sha256(sx_slice_of(buf, SX_XFTP_CHUNK_64K), digest));
    assert_ok(sx_xftp_client_fnew(c, snd, SX_XFTP_CHUNK_64K, sx_slice_of(digest, 32), rk, 1, NULL, &sid, &rid));
    assert_ok(sx_xftp_client_fput(c, snd, sx_slice_of(sid.bytes, sid.len), fd, 0, SX_XFTP_CHUNK_64K));
    assert_ok(sx_xftp_client_ping(c));
    sx_xftp_client_free(c);
    sx_key_free(snd);
    sx_key_free(rcv);
    free(buf);
    close(fd);
    unlink(path);
    sx_xftp_server_stop(srv);
    tu_rm_rf(files);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_commands),
        cmocka_unit_test(test_small_files),
        cmocka_unit_test(test_chunk_boundaries),
        cmocka_unit_test(test_multi_chunk),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_early_answer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
