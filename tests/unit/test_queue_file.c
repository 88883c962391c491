/* Unit tests of the `smp` client's queue files (client/queue_file.h):
 * round trips of both roles, strict refusal of truncated and garbled text
 * at every offset, file modes and replacement, and the address without
 * its password. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "smp_client/queue_file.h"
#include "smp_client/smp_client.h"
#include "crypto/util.h"

#define FP "61IzAcHN8VQiujDI4nt3_floch7Qz8jpB9nTHnsDpRs="
#define ADDR_PW "smp://" FP ":s3cret-Pass=@127.0.0.1,backup.example.com:45123"
#define ADDR "smp://" FP "@127.0.0.1,backup.example.com:45123"

static void make_recipient(sx_queue_file *q, sx_key_alg alg)
{
    sx_queue_file_init(q);
    q->role = SX_QUEUE_RECIPIENT;
    snprintf(q->server, sizeof q->server, "%s", ADDR_PW);
    tu_bytes_seq(q->rcv_id, SX_QUEUE_ID_LEN, 1);
    tu_bytes_seq(q->snd_id, SX_QUEUE_ID_LEN, 101);
    tu_bytes_seq(q->dh_secret, SX_CB_KEY_LEN, 201);
    assert_ok(sx_key_generate(alg, &q->rcv_key));
}

static char *format(const sx_queue_file *q, size_t *len)
{
    char *text = NULL;
    assert_ok(sx_queue_file_format(q, &text, len));
    assert_non_null(text);
    assert_int_equal(strlen(text), *len);
    return text;
}

static void assert_same(const sx_queue_file *a, const sx_queue_file *b)
{
    assert_int_equal(a->role, b->role);
    assert_string_equal(a->server, b->server);
    assert_memory_equal(a->snd_id, b->snd_id, SX_QUEUE_ID_LEN);
    if (a->role == SX_QUEUE_RECIPIENT) {
        assert_memory_equal(a->rcv_id, b->rcv_id, SX_QUEUE_ID_LEN);
        assert_memory_equal(a->dh_secret, b->dh_secret, SX_CB_KEY_LEN);
        assert_true(sx_key_is_private(b->rcv_key));
        assert_true(sx_key_public_equal(a->rcv_key, b->rcv_key));
    }
    assert_int_equal(a->snd_key == NULL, b->snd_key == NULL);
    if (a->snd_key) {
        assert_true(sx_key_is_private(b->snd_key));
        assert_true(sx_key_public_equal(a->snd_key, b->snd_key));
    }
}

static void round_trip(const sx_queue_file *q)
{
    size_t len;
    char *text = format(q, &len);
    sx_queue_file back;
    char err[256] = "";
    if (sx_queue_file_parse(text, len, &back, err, sizeof err) != SX_OK)
        fail_msg("parse: %s\n%s", err, text);
    assert_same(q, &back);
    /* Formatting again gives the same text. */
    size_t len2;
    char *text2 = format(&back, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(text, text2, len);
    sx_queue_file_cleanup(&back);
    free(text);
    free(text2);
}

static void test_round_trip(void **state)
{
    (void)state;
    const sx_key_alg algs[] = {SX_KEY_ED25519, SX_KEY_ED448, SX_KEY_X25519};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        sx_queue_file q;
        make_recipient(&q, algs[i]);
        round_trip(&q);
        sx_queue_file s;
        assert_ok(sx_queue_file_sender_of(&q, &s));
        assert_int_equal(s.role, SX_QUEUE_SENDER);
        assert_string_equal(s.server, ADDR); /* no password */
        assert_memory_equal(s.snd_id, q.snd_id, SX_QUEUE_ID_LEN);
        assert_null(s.snd_key);
        round_trip(&s);
        assert_ok(sx_key_generate(algs[i], &s.snd_key));
        round_trip(&s);
        sx_queue_file_cleanup(&s);
        sx_queue_file_cleanup(&q);
    }
}

static void test_format_refuses_incomplete(void **state)
{
    (void)state;
    sx_queue_file q;
    make_recipient(&q, SX_KEY_ED25519);
    char *text = NULL;
    size_t len = 0;
    q.role = 0;
    assert_int_equal(sx_queue_file_format(&q, &text, &len), SX_E_USAGE);
    q.role = SX_QUEUE_RECIPIENT;
    snprintf(q.server, sizeof q.server, "smp://nope@host");
    assert_int_equal(sx_queue_file_format(&q, &text, &len), SX_E_USAGE);
    snprintf(q.server, sizeof q.server, "smp://" FP "@host\n");
    assert_int_equal(sx_queue_file_format(&q, &text, &len), SX_E_USAGE);
    snprintf(q.server, sizeof q.server, "%s", ADDR);
    sx_key *pub = NULL;
    assert_ok(sx_key_public_copy(q.rcv_key, &pub));
    sx_key_free(q.rcv_key);
    q.rcv_key = pub;
    assert_int_equal(sx_queue_file_format(&q, &text, &len), SX_E_USAGE);
    assert_null(text);
    sx_queue_file_cleanup(&q);
}

static void parse_fails(const char *text, size_t len, sx_status want, const char *msg_part)
{
    sx_queue_file q;
    char err[256] = "";
    sx_status st = sx_queue_file_parse(text, len, &q, err, sizeof err);
    if (st == SX_OK)
        fail_msg("accepted:\n%.*s", (int)len, text);
    assert_int_equal(st, want);
    assert_true(err[0] != 0);
    if (msg_part && !strstr(err, msg_part))
        fail_msg("message '%s' lacks '%s'", err, msg_part);
    /* Nothing is left in out. */
    assert_null(q.rcv_key);
    assert_null(q.snd_key);
}

static void test_truncation(void **state)
{
    (void)state;
    sx_queue_file q, s;
    make_recipient(&q, SX_KEY_ED25519);
    assert_ok(sx_queue_file_sender_of(&q, &s));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &s.snd_key));
    const sx_queue_file *files[] = {&q, &s};
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *text = format(files[f], &len);
        for (size_t k = 0; k < len; k++)
            parse_fails(text, k, SX_E_PROTOCOL, NULL);
        sx_queue_file back;
        assert_ok(sx_queue_file_parse(text, len, &back, NULL, 0));
        sx_queue_file_cleanup(&back);
        free(text);
    }
    /* Unsecured sender file too. */
    sx_key_free(s.snd_key);
    s.snd_key = NULL;
    size_t len;
    char *text = format(&s, &len);
    for (size_t k = 0; k < len; k++)
        parse_fails(text, k, SX_E_PROTOCOL, NULL);
    free(text);
    sx_queue_file_cleanup(&q);
    sx_queue_file_cleanup(&s);
}

/* text with the line starting with `prefix` replaced by `line` (which may
 * be empty, or several lines); heap string. */
static char *edit(const char *text, const char *prefix, const char *line)
{
    size_t pl = strlen(prefix);
    const char *p = text;
    while (strncmp(p, prefix, pl) != 0) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    const char *end = strchr(p, '\n') + 1;
    size_t n = strlen(text) - (size_t)(end - p) + strlen(line) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(p - text), text, line, end);
    return out;
}

static void edited_fails(const char *text, const char *prefix, const char *line, const char *msg_part)
{
    char *t = edit(text, prefix, line);
    parse_fails(t, strlen(t), SX_E_PROTOCOL, msg_part);
    free(t);
}

static void edited_ok(const char *text, const char *prefix, const char *line)
{
    char *t = edit(text, prefix, line);
    sx_queue_file q;
    char err[256] = "";
    if (sx_queue_file_parse(t, strlen(t), &q, err, sizeof err) != SX_OK)
        fail_msg("refused (%s):\n%s", err, t);
    sx_queue_file_cleanup(&q);
    free(t);
}

static void test_garbled(void **state)
{
    (void)state;
    sx_queue_file q, s;
    make_recipient(&q, SX_KEY_ED25519);
    assert_ok(sx_queue_file_sender_of(&q, &s));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &s.snd_key));
    size_t len;
    char *r = format(&q, &len);
    char *t = format(&s, &len);
    char pub[SX_KEY_TEXT_MAX], line[256];

    /* Sanity of the editing helper: an unchanged line parses. */
    edited_ok(r, "version:", "version: 1\n");
    /* Tolerated: blanks around values, CRLF, comments and blank lines. */
    edited_ok(r, "role:", "  role:   recipient \r\n\n# a comment\n");

    edited_fails(r, "version:", "version: 2\n", "version");
    edited_fails(r, "version:", "", "version");
    edited_fails(r, "role:", "role: owner\n", "role");
    edited_fails(r, "role:", "", "role");
    edited_fails(r, "role:", "role: sender\n", "does not belong");
    edited_fails(t, "role:", "role: recipient\n", "does not belong");
    edited_fails(r, "server:", "server: smp://short@127.0.0.1\n", "server");
    edited_fails(r, "server:", "server: http://" FP "@127.0.0.1\n", "server");
    edited_fails(r, "server:", "server:\n", "no value");
    edited_fails(r, "server:", "", "server");
    /* The address parser takes any host text; the file takes no spaces or
     * controls in a value (found by the fuzz target). */
    edited_fails(r, "server:", "server: smp://" FP "@h\rx\n", "control");
    edited_fails(r, "server:", "server: smp://" FP "@ho st\n", "space");
    edited_fails(r, "role:", "role: recip\001ient\n", "control");
    edited_ok(r, "server:", "server: smp://" FP "@host\r \t\r\n");
    edited_fails(r, "recipient_id:", "recipient_id: AAAA\n", "recipient_id");
    /* 23 and 25 bytes. */
    edited_fails(r, "recipient_id:", "recipient_id: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", "recipient_id");
    edited_fails(r, "recipient_id:", "recipient_id: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", "recipient_id");
    edited_fails(r, "recipient_id:", "recipient_id: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!\n", "recipient_id");
    edited_fails(r, "sender_id:", "sender_id: +AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", "sender_id");
    edited_fails(r, "dh_secret:", "dh_secret: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", "dh_secret");
    edited_fails(r, "dh_secret:", "", "dh_secret");
    /* A public key where the private one belongs, and a key of an algorithm
     * that cannot authorize. */
    assert_ok(sx_key_public_to_text(q.rcv_key, pub, sizeof pub));
    snprintf(line, sizeof line, "recipient_key: %s\n", pub);
    edited_fails(r, "recipient_key:", line, "recipient_key");
    sx_key *x448 = NULL;
    assert_ok(sx_key_generate(SX_KEY_X448, &x448));
    assert_ok(sx_key_private_to_text(x448, pub, sizeof pub));
    snprintf(line, sizeof line, "recipient_key: %s\n", pub);
    edited_fails(r, "recipient_key:", line, "recipient_key");
    snprintf(line, sizeof line, "sender_key: %s\n", pub);
    edited_fails(t, "sender_key:", line, "sender_key");
    sx_key_free(x448);
    edited_fails(r, "recipient_key:", "recipient_key: none\n", "recipient_key");
    edited_fails(t, "sender_key:", "sender_key: nothing\n", "sender_key");
    edited_fails(t, "sender_key:", "", "sender_key");
    /* Keys of the other role, unknown and repeated keys, bad lines. */
    edited_fails(r, "dh_secret:", "dh_secret: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nsender_key: none\n",
                 "does not belong");
    edited_fails(t, "sender_key:", "sender_key: none\nrecipient_id: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
                 "does not belong");
    edited_fails(r, "role:", "role: recipient\ncolour: blue\n", "unknown key");
    edited_fails(r, "role:", "role: recipient\nrole: recipient\n", "twice");
    edited_fails(r, "role:", "role recipient\n", "key: value");
    edited_fails(r, "role:", "Role: recipient\n", "unknown key");

    /* A NUL byte, an empty file, a file over the limit. */
    char *nul = strdup(r);
    assert_non_null(nul);
    nul[strlen(nul) / 2] = 0;
    parse_fails(nul, strlen(r), SX_E_PROTOCOL, "NUL");
    free(nul);
    parse_fails("", 0, SX_E_PROTOCOL, "empty");
    char *big = calloc(1, SX_QUEUE_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, '#', SX_QUEUE_FILE_MAX + 1);
    big[SX_QUEUE_FILE_MAX] = '\n';
    parse_fails(big, SX_QUEUE_FILE_MAX + 1, SX_E_LIMIT, "larger");
    free(big);
    parse_fails("hello\n", 6, SX_E_PROTOCOL, NULL);

    free(r);
    free(t);
    sx_queue_file_cleanup(&q);
    sx_queue_file_cleanup(&s);
}

/* A fresh folder under /tmp; removed by rm_dir. */
static void make_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/sx_queue_file.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_save_load(void **state)
{
    (void)state;
    char dir[64], rpath[128], spath[128], err[512];
    make_dir(dir, sizeof dir);
    snprintf(rpath, sizeof rpath, "%s/r.queue", dir);
    snprintf(spath, sizeof spath, "%s/s.queue", dir);
    sx_queue_file q, s, back;
    make_recipient(&q, SX_KEY_ED25519);
    assert_ok(sx_queue_file_sender_of(&q, &s));

    /* Mode 0600 whatever the umask. */
    mode_t old = umask(0);
    assert_ok(sx_queue_file_save(rpath, &q, false, err, sizeof err));
    assert_int_equal(mode_of(rpath), 0600);
    umask(022);
    assert_ok(sx_queue_file_save(spath, &s, false, err, sizeof err));
    assert_int_equal(mode_of(spath), 0600);
    umask(old);

    assert_ok(sx_queue_file_load(rpath, &back, err, sizeof err));
    assert_same(&q, &back);
    sx_queue_file_cleanup(&back);

    /* Without replace an existing file is left alone. */
    assert_int_equal(sx_queue_file_save(rpath, &s, false, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "exists"));
    assert_ok(sx_queue_file_load(rpath, &back, err, sizeof err));
    assert_same(&q, &back);
    sx_queue_file_cleanup(&back);

    /* Replacing keeps 0600 (even over a looser file) and leaves no
     * temporary file behind. */
    assert_int_equal(chmod(spath, 0644), 0);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &s.snd_key));
    assert_ok(sx_queue_file_save(spath, &s, true, err, sizeof err));
    assert_int_equal(mode_of(spath), 0600);
    assert_int_equal(dir_entries(dir), 2);
    assert_ok(sx_queue_file_load(spath, &back, err, sizeof err));
    assert_same(&s, &back);
    sx_queue_file_cleanup(&back);

    /* Errors name the file. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.queue", dir);
    assert_int_equal(sx_queue_file_load(missing, &back, err, sizeof err), SX_E_IO);
    assert_non_null(strstr(err, "missing.queue"));
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/no/such.queue", dir);
    assert_int_equal(sx_queue_file_save(nodir, &s, false, err, sizeof err), SX_E_IO);
    assert_int_equal(sx_queue_file_save(nodir, &s, true, err, sizeof err), SX_E_IO);

    /* A truncated file on disk is refused with its name. */
    FILE *f = fopen(spath, "r+");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 200), 0);
    fclose(f);
    assert_int_equal(sx_queue_file_load(spath, &back, err, sizeof err), SX_E_PROTOCOL);
    assert_non_null(strstr(err, "s.queue"));
    /* And one over the size limit. */
    f = fopen(spath, "w");
    assert_non_null(f);
    for (int i = 0; i < SX_QUEUE_FILE_MAX + 10; i++)
        fputc('\n', f);
    fclose(f);
    assert_int_equal(sx_queue_file_load(spath, &back, err, sizeof err), SX_E_LIMIT);

    sx_queue_file_cleanup(&q);
    sx_queue_file_cleanup(&s);
    rm_dir(dir);
}

static void test_address_public(void **state)
{
    (void)state;
    char out[SX_QUEUE_ADDR_MAX];
    assert_ok(sx_queue_address_public(ADDR_PW, out, sizeof out));
    assert_string_equal(out, ADDR);
    assert_ok(sx_queue_address_public(ADDR, out, sizeof out));
    assert_string_equal(out, ADDR);
    assert_ok(sx_queue_address_public("smp://" FP ":pw@h", out, sizeof out));
    assert_string_equal(out, "smp://" FP "@h");
    assert_int_equal(sx_queue_address_public("smp://" FP ":pw@h", out, strlen("smp://" FP "@h")), SX_E_LIMIT);
    assert_int_equal(sx_queue_address_public("smp://nothing", out, sizeof out), SX_E_PROTOCOL);
    assert_int_equal(sx_queue_address_public("", out, sizeof out), SX_E_PROTOCOL);
    /* Only a recipient has a sender side. */
    sx_queue_file q, s, s2;
    make_recipient(&q, SX_KEY_ED25519);
    assert_ok(sx_queue_file_sender_of(&q, &s));
    assert_int_equal(sx_queue_file_sender_of(&s, &s2), SX_E_USAGE);
    sx_queue_file_cleanup(&q);
    sx_queue_file_cleanup(&s);
    sx_queue_file_cleanup(&s2);
    sx_queue_file_cleanup(NULL);
}

/* sx_smp_address_parse, the client's view of an smp:// address (the common
 * parser in smp/address.h, plus a 32-byte key hash). */
static void test_smp_address(void **state)
{
    (void)state;
    sx_smp_address a;
    assert_ok(sx_smp_address_parse(ADDR_PW, &a));
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 45123);
    assert_true(a.has_password);
    assert_string_equal(a.password, "s3cret-Pass=");
    assert_ok(sx_smp_address_parse("smp://" FP "@smp.example.com", &a));
    assert_int_equal(a.port, 5223);
    assert_false(a.has_password);
    assert_string_equal(a.password, "");
    /* the port list a router prints: the first port */
    assert_ok(sx_smp_address_parse("smp://" FP ":pw@smp.example.com:5224,443", &a));
    assert_int_equal(a.port, 5224);
    assert_string_equal(a.host, "smp.example.com");
    /* an IPv6 host without brackets, to connect to */
    assert_int_equal(sx_smp_address_parse("smp://" FP "@[::1]:7001,backup.example.com", &a),
                     SX_E_PROTOCOL); /* hosts come before the port */
    assert_ok(sx_smp_address_parse("smp://" FP "@[::1],backup.example.com:7001", &a));
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 7001);
    /* refused: another scheme, a key hash that is not 32 bytes, a password a
     * router cannot accept, garbage */
    assert_int_equal(sx_smp_address_parse("xftp://" FP "@h", &a), SX_E_PROTOCOL);
    assert_int_equal(sx_smp_address_parse("smp://AQ==@h", &a), SX_E_PROTOCOL);
    assert_int_equal(sx_smp_address_parse("smp://" FP ":p/w@h", &a), SX_E_PROTOCOL);
    assert_int_equal(a.port, 0); /* zeroed on error */
    assert_int_equal(sx_smp_address_parse("smp://" FP "@h:0", &a), SX_E_PROTOCOL);
    assert_int_equal(sx_smp_address_parse("smp://" FP "@h/", &a), SX_E_PROTOCOL);
    assert_int_equal(sx_smp_address_parse(NULL, &a), SX_E_USAGE);
    char big[400];
    snprintf(big, sizeof big, "smp://" FP "@%0300d", 1);
    assert_int_equal(sx_smp_address_parse(big, &a), SX_E_LIMIT); /* host over 255 bytes */
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_format_refuses_incomplete),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_garbled),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_address_public),
        cmocka_unit_test(test_smp_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
