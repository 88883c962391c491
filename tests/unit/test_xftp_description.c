/* Unit tests of XFTP file descriptions (PROTOCOL-NOTES F30-F33): the
 * reference's fixture parses and prints back byte for byte, descriptions built
 * in memory print in the reference's grouping and order, and malformed YAML
 * (missing fields, indentation, base64, keys, inconsistent chunks) is
 * refused. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "xftp/description.h"

#define FIXTURE "fixtures/file_description.yaml"

static char *fixture(size_t *len)
{
    uint8_t *b = tu_read_data(FIXTURE, len);
    char *s = malloc(*len + 1);
    assert_non_null(s);
    memcpy(s, b, *len);
    s[*len] = '\0';
    free(b);
    return s;
}

static sx_status parse_str(const char *s)
{
    sx_xftp_fd fd;
    sx_status st = sx_xftp_fd_parse(s, strlen(s), &fd);
    sx_xftp_fd_cleanup(&fd);
    return st;
}

/* The fixture with the first occurrence of `from` replaced by `to`. */
static char *edit(const char *from, const char *to)
{
    size_t len;
    char *s = fixture(&len);
    char *at = strstr(s, from);
    assert_non_null(at);
    char *out = malloc(len + strlen(to) + 1);
    assert_non_null(out);
    size_t pre = (size_t)(at - s);
    memcpy(out, s, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    free(s);
    return out;
}

static void expect_edit(const char *from, const char *to, sx_status want)
{
    char *s = edit(from, to);
    sx_status st = parse_str(s);
    if (st != want)
        print_error("edit '%s' -> '%s': %d, want %d\n", from, to, st, want);
    assert_int_equal(st, want);
    free(s);
}

static void test_fixture_roundtrip(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture(&len);
    sx_xftp_fd fd;
    assert_ok(sx_xftp_fd_parse(text, len, &fd));
    assert_int_equal(fd.party, SX_XFTP_PARTY_RECIPIENT);
    assert_int_equal(fd.size, 26 * 1024 * 1024);
    assert_int_equal(fd.chunk_size, 8 * 1024 * 1024);
    assert_int_equal(fd.digest_len, 3);
    assert_memory_equal(fd.digest, "abc", 3);
    assert_false(fd.has_redirect);
    assert_int_equal(fd.chunk_count, 4);
    assert_int_equal(fd.server_count, 4);
    assert_string_equal(fd.servers[0].text, "xftp://abc=@example1.com");
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(fd.chunks[i].number, i + 1);
        assert_int_equal(fd.chunks[i].replica_count, 2);
        assert_int_equal(fd.chunks[i].digest_len, 3);
        assert_memory_equal(fd.chunks[i].digest, "ghi", 3);
        assert_int_equal(fd.chunks[i].size, i == 3 ? 2 * 1024 * 1024 : 8 * 1024 * 1024);
        assert_int_equal(fd.chunks[i].replicas[0].key_alg, SX_KEY_ED25519);
        assert_int_equal(fd.chunks[i].replicas[0].id_len, 3);
    }
    /* replicas keep their order within a chunk: chunk 1 on servers 1 then 3 */
    assert_string_equal(fd.servers[fd.chunks[0].replicas[0].server].text, "xftp://abc=@example1.com");
    assert_string_equal(fd.servers[fd.chunks[0].replicas[1].server].text, "xftp://abc=@example3.com");
    assert_string_equal(fd.servers[fd.chunks[3].replicas[1].server].text, "xftp://abc=@example3.com");

    char *out;
    size_t out_len;
    assert_ok(sx_xftp_fd_print(&fd, &out, &out_len));
    assert_int_equal(out_len, len);
    assert_string_equal(out, text);
    free(out);
    sx_xftp_fd_cleanup(&fd);
    free(text);
}

static void test_truncation(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture(&len);
    for (size_t cut = 0; cut < len; cut++) {
        sx_xftp_fd fd;
        sx_status st = sx_xftp_fd_parse(text, cut, &fd);
        /* only the final newline may go */
        if (cut == len - 1)
            assert_ok(st);
        else
            assert_int_not_equal(st, SX_OK);
        sx_xftp_fd_cleanup(&fd);
    }
    /* trailing content */
    char *more = malloc(len + 32);
    memcpy(more, text, len);
    strcpy(more + len, "extra: x\n");
    assert_int_equal(parse_str(more), SX_E_PROTOCOL);
    strcpy(more + len, "\n");
    assert_int_equal(parse_str(more), SX_E_PROTOCOL);
    strcpy(more + len, "  size: 1kb\n");
    assert_int_equal(parse_str(more), SX_E_PROTOCOL);
    free(more);
    free(text);
}

static void test_missing_fields(void **state)
{
    (void)state;
    static const char *const lines[] = {"chunkSize: 8mb\n", "digest: YWJj\n", "party: recipient\n",
                                        "size: 26mb\n"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_edit(lines[i], "", SX_E_PROTOCOL);
    expect_edit("key: 00n8p1tJq5E-SGnHcYTOrS4A9I07gTA_WFD6MTFFFOY=\n", "", SX_E_PROTOCOL);
    expect_edit("nonce: dPSF-wrQpDiK_K6sYv0BDBZ9S4dg-jmu\n", "", SX_E_PROTOCOL);
    expect_edit("  server: xftp://abc=@example2.com\n", "", SX_E_PROTOCOL);
    /* a replica group without chunks */
    expect_edit("- chunks:\n  - 2:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hp\n"
                "  - 4:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hp:2mb\n",
                "- ", SX_E_PROTOCOL);
    /* unknown and duplicate keys */
    expect_edit("party: recipient\n", "party: recipient\nparty: sender\n", SX_E_PROTOCOL);
    expect_edit("party: recipient\n", "party: recipient\nowner: me\n", SX_E_PROTOCOL);
    expect_edit("party: recipient\n", "party: owner\n", SX_E_PROTOCOL);
    expect_edit("  server: xftp://abc=@example2.com\n",
                "  server: xftp://abc=@example2.com\n  note: x\n", SX_E_PROTOCOL);
    /* sender party parses */
    expect_edit("party: recipient\n", "party: sender\n", SX_OK);
}

static void test_indentation(void **state)
{
    (void)state;
    expect_edit("\n  - 3:", "\n   - 3:", SX_E_PROTOCOL);
    expect_edit("\n  server: xftp://abc=@example1.com", "\n   server: xftp://abc=@example1.com",
                SX_E_PROTOCOL);
    expect_edit("\n  server: xftp://abc=@example1.com", "\n server: xftp://abc=@example1.com",
                SX_E_PROTOCOL);
    expect_edit("\nsize: 26mb", "\n size: 26mb", SX_E_PROTOCOL);
    expect_edit("chunkSize: 8mb", "  chunkSize: 8mb", SX_E_PROTOCOL);
    expect_edit("\n- chunks:\n  - 2:", "\n- chunks:\n- 2:", SX_E_PROTOCOL);
    expect_edit("\n  - 3:", "\n  -3:", SX_E_PROTOCOL);
    expect_edit("\n  - 3:", "\n\t- 3:", SX_E_PROTOCOL);
    expect_edit("party: recipient", "party:  recipient", SX_E_PROTOCOL);
    expect_edit("party: recipient", "party:recipient", SX_E_PROTOCOL);
    expect_edit("party: recipient", "party: recipient # comment", SX_E_PROTOCOL);
    expect_edit("party: recipient\n", "party: recipient\n# comment\n", SX_E_PROTOCOL);
    expect_edit("party: recipient\n", "---\nparty: recipient\n", SX_E_PROTOCOL);
    /* sequences indented under their key are read too (other emitters),
     * and print back in the reference's layout */
    size_t len;
    char *text = fixture(&len);
    char *deep = malloc(2 * len);
    assert_non_null(deep);
    size_t o = 0;
    bool in = false;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = (size_t)(nl - line) + 1;
        if (!strncmp(line, "size:", 5))
            in = false;
        if (in)
            deep[o++] = ' ', deep[o++] = ' ';
        memcpy(deep + o, line, n);
        o += n;
        if (!strncmp(line, "replicas:", 9))
            in = true;
        line += n;
    }
    sx_xftp_fd fd;
    assert_ok(sx_xftp_fd_parse(deep, o, &fd));
    char *out;
    size_t out_len;
    assert_ok(sx_xftp_fd_print(&fd, &out, &out_len));
    assert_string_equal(out, text);
    free(out);
    sx_xftp_fd_cleanup(&fd);
    free(deep);
    free(text);
    expect_edit("party: recipient", "party: 'recipient'", SX_OK);
    expect_edit("party: recipient", "party: \"recipient\"", SX_E_PROTOCOL);
    expect_edit("party: recipient", "party: 'recip'ient'", SX_E_PROTOCOL);
}

static void test_bad_values(void **state)
{
    (void)state;
    /* base64 */
    expect_edit("digest: YWJj", "digest: YW*j", SX_E_PROTOCOL);
    expect_edit("digest: YWJj", "digest: 'YW Jj'", SX_E_PROTOCOL);
    expect_edit("1:YWJj:", "1:Y!Jj:", SX_E_PROTOCOL);
    expect_edit("1:YWJj:", "1::", SX_E_PROTOCOL);
    expect_edit(":Z2hp\n", ":Z2h$\n", SX_E_PROTOCOL);
    /* the key must be 32 bytes; the nonce is cut or padded like cbNonce */
    expect_edit("key: 00n8p1tJq5E-SGnHcYTOrS4A9I07gTA_WFD6MTFFFOY=", "key: 00n8p1tJq5E", SX_E_PROTOCOL);
    expect_edit("nonce: dPSF-wrQpDiK_K6sYv0BDBZ9S4dg-jmu", "nonce: dPSF", SX_OK);
    /* replica keys must be PKCS#8 private keys */
    expect_edit("MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hp\n",
                "MCowBQYDK2VwAyEAO9Uuj0Jx2TiiVpw3qtAivDzLGMLyGNWf0jAT4bx3ND0=:Z2hp\n", SX_E_PROTOCOL);
    /* sizes */
    expect_edit("size: 26mb", "size: 27mb", SX_E_PROTOCOL);
    expect_edit("size: 26mb", "size: 26MB", SX_E_PROTOCOL);
    expect_edit("size: 26mb", "size: 27262976", SX_E_PROTOCOL); /* a YAML number, not text */
    expect_edit("size: 26mb", "size: '27262976'", SX_OK);
    expect_edit("size: 26mb", "size: 99999999999999999999", SX_E_PROTOCOL);
    expect_edit("chunkSize: 8mb", "chunkSize: 8gb", SX_E_PROTOCOL);
    expect_edit(":Z2hp:2mb", ":Z2hp:3mb", SX_E_PROTOCOL);
    expect_edit(":Z2hp:2mb", ":Z2hp:2xb", SX_E_PROTOCOL);
    /* chunk numbers: a gap, zero, a 5th chunk without digest */
    expect_edit("- 3:YWJj", "- 5:YWJj", SX_E_PROTOCOL);
    expect_edit("- 1:YWJj", "- 0:YWJj", SX_E_PROTOCOL);
    expect_edit("- 1:YWJj", "- x:YWJj", SX_E_PROTOCOL);
    /* replicas of one chunk disagree on digest / size, or none has a digest */
    expect_edit("- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe\n",
                "- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hq\n",
                SX_E_PROTOCOL);
    expect_edit("- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe\n",
                "- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hp\n",
                SX_OK);
    expect_edit("- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe\n",
                "- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hp:1mb\n",
                SX_E_PROTOCOL);
    expect_edit("- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe:Z2hp\n",
                "- 1:YWJj:MC4CAQAwBQYDK2VwBCIEIDfEfevydXXfKajz3sRkcQ7RPvfWUPoq6pu1TYHV1DEe\n",
                SX_E_PROTOCOL);
    expect_edit(":Z2hp:2mb\n", ":Z2hp:2mb:1\n", SX_E_PROTOCOL);
    /* servers */
    expect_edit("xftp://abc=@example1.com", "smp://abc=@example1.com", SX_E_PROTOCOL);
    expect_edit("xftp://abc=@example1.com", "xftp://abc=:pass@example1.com", SX_E_PROTOCOL);
    expect_edit("xftp://abc=@example1.com", "xftp://abc=@example1.com:x", SX_E_PROTOCOL);
    expect_edit("xftp://abc=@example1.com", "xftp://abc=@b-d.onion", SX_E_PROTOCOL);
    expect_edit("xftp://abc=@example1.com", "xftp://abc=@bad2.onion", SX_OK);
    expect_edit("xftp://abc=@example1.com", "xftp://@example1.com", SX_E_PROTOCOL);
    expect_edit("xftp://abc=@example1.com", "xftp://abc=@example1.com:5443", SX_OK);
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        int64_t n;
        const char *s;
    } cases[] = {{0, "0"},          {1000, "1000"},         {1024, "1kb"},      {65536, "64kb"},
                 {1025 * 1024, "1025kb"}, {8 << 20, "8mb"}, {1LL << 30, "1gb"}, {5LL << 30, "5gb"},
                 {(1LL << 40), "1024gb"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_ok(sx_xftp_size_to_text(cases[i].n, buf, sizeof buf));
        assert_string_equal(buf, cases[i].s);
        int64_t back;
        assert_ok(sx_xftp_size_from_text(buf, strlen(buf), INT64_MAX, &back));
        assert_int_equal(back, cases[i].n);
    }
    int64_t v;
    assert_int_equal(sx_xftp_size_from_text("4gb", 3, UINT32_MAX, &v), SX_E_PROTOCOL);
    assert_ok(sx_xftp_size_from_text("4095mb", 6, UINT32_MAX, &v));
    assert_int_equal(sx_xftp_size_from_text("", 0, INT64_MAX, &v), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_size_from_text("kb", 2, INT64_MAX, &v), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_size_from_text("-1", 2, INT64_MAX, &v), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_size_to_text(1 << 20, buf, 3), SX_E_LIMIT);
}

static void test_server_order(void **state)
{
    (void)state;
    static const char *const sorted[] = {
        "xftp://AQ==@1.2.3.4",       "xftp://AQ==@10.0.0.1",  "xftp://AQ==@[::1]",
        "xftp://AQ==@[fe80::1]",     "xftp://AQ==@abc.onion", "xftp://AQ==@a.com",
        "xftp://AQ==@a.com:443",     "xftp://Ag==@a.com:443", "xftp://AQ==@a.com,b.com",
        "xftp://AQ==@b.com",
    };
    size_t n = sizeof sorted / sizeof sorted[0];
    sx_xftp_fd_server *s = calloc(n, sizeof *s);
    for (size_t i = 0; i < n; i++)
        assert_ok(sx_xftp_fd_server_parse(sorted[i], strlen(sorted[i]), &s[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = sx_xftp_fd_server_compare(&s[i], &s[j]);
            if (!(i < j ? c < 0 : (i == j ? c == 0 : c > 0)))
                print_error("%s vs %s: %d\n", sorted[i], sorted[j], c);
            assert_true(i < j ? c < 0 : (i == j ? c == 0 : c > 0));
        }
    sx_xftp_fd_server x;
    assert_int_equal(sx_xftp_fd_server_parse("xftp://AQ==@", 12, &x), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_fd_server_parse("xftp://AQ==@a.com,", 18, &x), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_fd_server_parse("xftp://AQ==@a.com:", 18, &x), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_fd_server_parse("xftp://AQ==@[::1", 16, &x), SX_E_PROTOCOL);
    /* the common parser takes a basic auth (the CLI's -s), a description not */
    assert_ok(sx_server_address_parse("xftp://AQ==:pw@a.com", 20, &x));
    assert_true(x.has_auth);
    assert_int_equal(sx_xftp_fd_server_parse("xftp://AQ==:pw@a.com", 20, &x), SX_E_PROTOCOL);
    assert_int_equal(x.host_count, 0);
    assert_int_equal(sx_xftp_fd_server_parse("smp://AQ==@a.com", 16, &x), SX_E_PROTOCOL);
    assert_int_equal(sx_xftp_fd_server_parse("xftp://AQ==@a.com:0", 19, &x), SX_E_PROTOCOL);
    free(s);
}

/* A description built in memory: groups come out sorted by server, each
 * chunk's first replica carries digest and non-default size, and special
 * strings are quoted; the result parses back to the same text. */
static void test_build_and_print(void **state)
{
    (void)state;
    sx_xftp_fd fd;
    memset(&fd, 0, sizeof fd);
    fd.party = SX_XFTP_PARTY_SENDER;
    fd.size = 65536 + 1000;
    fd.digest_len = 64;
    tu_bytes_seq(fd.digest, 64, 1);
    tu_bytes_seq(fd.key, 32, 2);
    tu_bytes_seq(fd.nonce, 24, 3);
    fd.chunk_size = 65536;
    fd.has_redirect = true;
    fd.redirect_size = 1000;
    fd.redirect_digest_len = 64;
    tu_bytes_seq(fd.redirect_digest, 64, 4);
    fd.server_count = 2;
    fd.servers = calloc(2, sizeof *fd.servers);
    assert_ok(sx_xftp_fd_server_parse("xftp://AQ==@z.com", 17, &fd.servers[0]));
    assert_ok(sx_xftp_fd_server_parse("xftp://AQ==@a.com", 17, &fd.servers[1]));
    fd.chunk_count = 2;
    fd.chunks = calloc(2, sizeof *fd.chunks);
    size_t kl;
    uint8_t *pk = tu_hex("302e020100300506032b657004220420"
                         "0101010101010101010101010101010101010101010101010101010101010101",
                         &kl);
    for (size_t i = 0; i < 2; i++) {
        sx_xftp_fd_chunk *c = &fd.chunks[i];
        c->number = (uint32_t)i + 1;
        c->size = i == 0 ? 65536 : 1000;
        c->digest_len = 32;
        tu_bytes_seq(c->digest, 32, (uint8_t)(10 + i));
        c->replica_count = 2;
        c->replicas = calloc(2, sizeof *c->replicas);
        for (size_t j = 0; j < 2; j++) {
            sx_xftp_fd_replica *r = &c->replicas[j];
            r->server = j; /* first replica on z.com, second on a.com */
            r->id_len = 16;
            tu_bytes_seq(r->id, 16, (uint8_t)(20 + 2 * i + j));
            memcpy(r->key, pk, kl);
            r->key_len = kl;
            r->key_alg = SX_KEY_ED25519;
        }
    }
    free(pk);
    assert_ok(sx_xftp_fd_validate(&fd));
    char *out;
    size_t len;
    assert_ok(sx_xftp_fd_print(&fd, &out, &len));
    /* a.com's group first; digests on z.com's (first) replicas; size 1000 quoted */
    char *a = strstr(out, "server: xftp://AQ==@a.com"), *z = strstr(out, "server: xftp://AQ==@z.com");
    assert_non_null(a);
    assert_non_null(z);
    assert_true(a < z);
    assert_non_null(strstr(out, "redirect:\n  digest: "));
    /* the redirect size is a JSON number (RedirectFileInfo), not FileSize text */
    assert_non_null(strstr(out, "\n  size: 1000\nreplicas:\n- chunks:\n  - 1:"));
    assert_non_null(strstr(out, "party: sender\n"));
    assert_non_null(strstr(out, ":1000\n  server: xftp://AQ==@z.com\nsize: '66536'\n"));
    sx_xftp_fd back;
    assert_ok(sx_xftp_fd_parse(out, len, &back));
    assert_int_equal(back.size, fd.size);
    assert_int_equal(back.redirect_size, 1000);
    {
        /* The reference reads only a number there: text, a quoted number or a
         * fraction is refused; and a number where text is expected (the
         * top-level size) is refused too. */
        static const char *const bad_redirect[] = {"  size: '1000'\n", "  size: 1kb\n",
                                                   "  size: 1000.5\n", "  size: -1\n"};
        const char *at = strstr(out, "  size: 1000\n");
        assert_non_null(at);
        size_t pre = (size_t)(at - out), old_len = strlen("  size: 1000\n");
        for (size_t i = 0; i < sizeof bad_redirect / sizeof bad_redirect[0]; i++) {
            char *t = malloc(len + 32);
            assert_non_null(t);
            memcpy(t, out, pre);
            size_t bl = strlen(bad_redirect[i]);
            memcpy(t + pre, bad_redirect[i], bl);
            memcpy(t + pre + bl, out + pre + old_len, len - pre - old_len);
            sx_xftp_fd bad;
            assert_int_not_equal(sx_xftp_fd_parse(t, len - old_len + bl, &bad), SX_OK);
            free(t);
        }
        char *t = strdup(out);
        assert_non_null(t);
        char *top = strstr(t, "\nsize: '66536'\n");
        assert_non_null(top);
        /* "\nsize: '66536'\n" -> "\nsize: 66536\n": a plain number */
        memmove(top + 7, top + 8, 5);
        memmove(top + 12, top + 14, strlen(top + 14) + 1);
        assert_non_null(strstr(t, "\nsize: 66536\n"));
        sx_xftp_fd bad;
        assert_int_not_equal(sx_xftp_fd_parse(t, strlen(t), &bad), SX_OK);
        /* and back in quotes it parses, so the refusal above is the number's */
        sx_xftp_fd good;
        assert_ok(sx_xftp_fd_parse(out, len, &good));
        sx_xftp_fd_cleanup(&good);
        free(t);
    }
    assert_int_equal(back.chunks[1].size, 1000);
    assert_int_equal(back.chunks[0].replica_count, 2);
    /* as in the reference, replicas are read back in group order, so a.com's
     * replica is now each chunk's first; from there printing is stable */
    assert_memory_equal(back.chunks[1].replicas[0].id, fd.chunks[1].replicas[1].id, 16);
    assert_memory_equal(back.chunks[1].replicas[1].id, fd.chunks[1].replicas[0].id, 16);
    char *out2, *out3;
    size_t len2, len3;
    assert_ok(sx_xftp_fd_print(&back, &out2, &len2));
    sx_xftp_fd_cleanup(&back);
    assert_ok(sx_xftp_fd_parse(out2, len2, &back));
    assert_ok(sx_xftp_fd_print(&back, &out3, &len3));
    assert_string_equal(out2, out3);
    free(out);
    free(out2);
    free(out3);
    sx_xftp_fd_cleanup(&back);

    /* an empty description: size 0, no chunks */
    sx_xftp_fd empty = fd;
    empty.chunk_count = 0;
    empty.size = 0;
    empty.has_redirect = false;
    assert_ok(sx_xftp_fd_print(&empty, &out, &len));
    assert_non_null(strstr(out, "replicas: []\nsize: '0'\n"));
    assert_ok(sx_xftp_fd_parse(out, len, &back));
    assert_int_equal(back.chunk_count, 0);
    sx_xftp_fd_cleanup(&back);
    free(out);

    /* invalid descriptions are refused by validate, print needs sane refs */
    fd.chunks[1].number = 3;
    assert_int_equal(sx_xftp_fd_validate(&fd), SX_E_PROTOCOL);
    fd.chunks[1].number = 2;
    fd.size += 1;
    assert_int_equal(sx_xftp_fd_validate(&fd), SX_E_PROTOCOL);
    fd.chunks[0].replicas[0].server = 7;
    assert_int_equal(sx_xftp_fd_print(&fd, &out, &len), SX_E_USAGE);
    fd.party = 0;
    assert_int_equal(sx_xftp_fd_print(&fd, &out, &len), SX_E_USAGE);
    sx_xftp_fd_cleanup(&fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_roundtrip), cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_missing_fields),    cmocka_unit_test(test_indentation),
        cmocka_unit_test(test_bad_values),        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_server_order),      cmocka_unit_test(test_build_and_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
