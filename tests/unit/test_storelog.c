/* Unit tests of the store log (PROTOCOL-NOTES E25, E26): exact lines as the
 * reference's encoders write them, round trips, parser robustness, replay,
 * compaction with backups, and concurrent appends (directly and through the
 * writer thread). The message and notification logs are test_msglog.c. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "kit/backups.h"
#include "kit/lines.h"
#include "kit/logsum.h"
#include "kit/paths.h"
#include "smp_router/sltext.h"
#include "smp_router/storelog.h"

#include "storelog_util.h"

/* ---- exact lines (PROTOCOL-NOTES E25) ---- */

static void test_key_text_matches_keys_module(void **state)
{
    (void)state;
    /* Our compact key encoding gives the same text as the keys module. */
    const sx_key_alg algs[] = {SX_KEY_ED25519, SX_KEY_ED448, SX_KEY_X25519};
    for (size_t i = 0; i < 3; i++) {
        sx_key *k;
        assert_ok(sx_key_generate(algs[i], &k));
        char text[SX_KEY_TEXT_MAX];
        assert_ok(sx_key_public_to_text(k, text, sizeof text));
        sx_slrec r = {0};
        r.type = SX_SLREC_SECURE;
        tu_bytes_seq(r.rid, SX_ID_LEN, 1);
        assert_ok(sx_qkey_from_key(k, &r.q.skey));
        char expected[256];
        snprintf(expected, sizeof expected, "SECURE " RID " %s", text);
        assert_encodes(&r, expected);
        sx_key_free(k);
    }
    /* X448 keys are not queue authorization keys. */
    sx_key *k;
    assert_ok(sx_key_generate(SX_KEY_X448, &k));
    char text[SX_KEY_TEXT_MAX], line[256];
    assert_ok(sx_key_public_to_text(k, text, sizeof text));
    snprintf(line, sizeof line, "SECURE " RID " %s", text);
    sx_slrec r;
    assert_int_equal(sx_slrec_parse(sx_slice_str(line), &r), SX_E_PROTOCOL);
    sx_key_free(k);
}

static void test_create_exact(void **state)
{
    (void)state;
    sx_slrec r;
    /* An unsecured messaging queue: "sk=" followed by nothing. */
    fill_queue(&r);
    r.q.mode = 'M';
    r.q.has_updated_at = true;
    r.q.updated_at = DAY0;
    assert_encodes(&r, "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= queue_mode=M updated_at=1718928000");

    /* A legacy queue (no mode), secured, nothing optional. */
    fill_queue(&r);
    r.q.skey = qkey(SX_KEY_X25519, 0xb0);
    assert_encodes(&r, "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk=" SK);

    /* Every optional field, in the reference's order. */
    fill_queue(&r);
    r.q.n_rkeys = 2;
    r.q.rkeys[1] = qkey(SX_KEY_ED448, 0x10);
    r.q.skey = qkey(SX_KEY_X25519, 0xb0);
    r.q.mode = 'C';
    r.q.has_link = true;
    tu_bytes_seq(r.q.link_id, SX_ID_LEN, 0x61);
    r.q.link_fixed = sx_slice_str("fixed data");
    r.q.link_user = sx_slice_str("user data");
    r.q.has_notifier = true;
    tu_bytes_seq(r.q.ntf.id, SX_ID_LEN, 0x41);
    r.q.ntf.key = qkey(SX_KEY_X25519, 0x70);
    tu_bytes_seq(r.q.ntf.dh_secret, 32, 0xe0);
    uint8_t svc[24], svc2[24];
    tu_bytes_seq(svc, 24, 0x90);
    tu_bytes_seq(svc2, 24, 0x30);
    r.q.ntf.service = sx_slice_of(svc, 24);
    r.q.has_updated_at = true;
    r.q.updated_at = DAY0;
    r.q.status = SX_QUEUE_OFF;
    r.q.rcv_service = sx_slice_of(svc2, 24);
    assert_encodes(&r, "CREATE rid=" RID " rk=" K1 "," K2 " rdh=" DH " sid=" SID " sk=" SK
                       " queue_mode=C link_id=" LID " queue_data=" FIXED " " USER " notifier=" NID " " NK " " NDH
                       " nsrv=" SVC " updated_at=1718928000 status=off rsrv=" SVC2);

    /* Blocked, with a client notice (JSON to the end of the line). */
    fill_queue(&r);
    r.q.status = SX_QUEUE_BLOCKED;
    r.q.block_info = sx_slice_str("reason=content,notice={\"ttl\":86400}");
    assert_encodes(&r, "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID
                       " sk= status=blocked,reason=content,notice={\"ttl\":86400}");
    r.q.block_info = sx_slice_str("reason=spam");
    assert_encodes(&r, "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=blocked,reason=spam");

    /* Parsed fields of the full line. */
    sx_slrec p;
    assert_ok(sx_slrec_parse(sx_slice_str("CREATE rid=" RID " rk=" K1 "," K2 " rdh=" DH " sid=" SID " sk=" SK
                                          " queue_mode=C link_id=" LID " queue_data=" FIXED " " USER
                                          " notifier=" NID " " NK " " NDH " nsrv=" SVC
                                          " updated_at=1718928000 status=off rsrv=" SVC2),
                             &p));
    assert_int_equal(p.type, SX_SLREC_CREATE);
    assert_memory_equal(p.rid, r.rid, SX_ID_LEN);
    assert_int_equal(p.q.n_rkeys, 2);
    assert_int_equal(p.q.rkeys[1].alg, SX_KEY_ED448);
    assert_int_equal(p.q.skey.alg, SX_KEY_X25519);
    assert_int_equal(p.q.mode, 'C');
    assert_true(p.q.has_link);
    assert_int_equal(p.q.link_fixed.len, 10);
    assert_memory_equal(p.q.link_fixed.ptr, "fixed data", 10);
    assert_memory_equal(p.q.link_user.ptr, "user data", 9);
    assert_true(p.q.has_notifier);
    assert_memory_equal(p.q.ntf.service.ptr, svc, 24);
    assert_int_equal(p.q.updated_at, DAY0);
    assert_int_equal(p.q.status, SX_QUEUE_OFF);
    assert_memory_equal(p.q.rcv_service.ptr, svc2, 24);
    sx_slrec_cleanup(&p);
}

static void test_update_records_exact(void **state)
{
    (void)state;
    sx_slrec r = {0};
    tu_bytes_seq(r.rid, SX_ID_LEN, 0x01);
    uint8_t svc[24];
    tu_bytes_seq(svc, 24, 0x90);

    r.type = SX_SLREC_LINK;
    tu_bytes_seq(r.q.link_id, SX_ID_LEN, 0x61);
    r.q.link_fixed = sx_slice_str("fixed data");
    r.q.link_user = sx_slice_str("user data");
    assert_encodes(&r, "LINK " RID " " LID " " FIXED " " USER);

    r.type = SX_SLREC_LDELETE;
    assert_encodes(&r, "LDELETE " RID);
    r.type = SX_SLREC_SECURE;
    r.q.skey = qkey(SX_KEY_X25519, 0xb0);
    assert_encodes(&r, "SECURE " RID " " SK);
    r.type = SX_SLREC_KEYS;
    r.q.n_rkeys = 2;
    r.q.rkeys[0] = qkey(SX_KEY_ED25519, 0xa0);
    r.q.rkeys[1] = qkey(SX_KEY_ED448, 0x10);
    assert_encodes(&r, "KEYS " RID " " K1 "," K2);
    r.q.n_rkeys = 1;
    assert_encodes(&r, "KEYS " RID " " K1);

    r.type = SX_SLREC_NOTIFIER;
    tu_bytes_seq(r.q.ntf.id, SX_ID_LEN, 0x41);
    r.q.ntf.key = qkey(SX_KEY_X25519, 0x70);
    tu_bytes_seq(r.q.ntf.dh_secret, 32, 0xe0);
    assert_encodes(&r, "NOTIFIER " RID " " NID " " NK " " NDH);
    r.q.ntf.service = sx_slice_of(svc, 24);
    assert_encodes(&r, "NOTIFIER " RID " " NID " " NK " " NDH " nsrv=" SVC);

    r.type = SX_SLREC_SUSPEND;
    assert_encodes(&r, "SUSPEND " RID);
    r.type = SX_SLREC_BLOCK;
    r.q.block_info = sx_slice_str("reason=spam");
    assert_encodes(&r, "BLOCK " RID " reason=spam");
    r.q.block_info = sx_slice_str("reason=content,notice={\"ttl\":3600}");
    assert_encodes(&r, "BLOCK " RID " reason=content,notice={\"ttl\":3600}");
    r.type = SX_SLREC_UNBLOCK;
    assert_encodes(&r, "UNBLOCK " RID);
    r.type = SX_SLREC_DELETE;
    assert_encodes(&r, "DELETE " RID);
    r.type = SX_SLREC_NDELETE;
    assert_encodes(&r, "NDELETE " RID);
    r.type = SX_SLREC_TIME;
    r.q.updated_at = DAY0;
    assert_encodes(&r, "TIME " RID " 1718928000");
    r.q.updated_at = -86400;
    assert_encodes(&r, "TIME " RID " -86400");

    /* A missing service id leaves a trailing space. */
    r.type = SX_SLREC_QUEUE_SERVICE;
    r.party = 'N';
    r.service = sx_slice_of(svc, 24);
    assert_encodes(&r, "QUEUE_SERVICE " RID " N " SVC);
    r.party = 'R';
    r.service = sx_slice_of(NULL, 0);
    assert_encodes(&r, "QUEUE_SERVICE " RID " R ");
}

static char *cert_text(const char *fixture)
{
    X509 *x;
    assert_ok(sx_x509_read_cert_file(tu_data_path(fixture), &x));
    uint8_t *der;
    size_t len;
    assert_ok(sx_x509_to_der(x, &der, &len));
    X509_free(x);
    char *text = malloc(sx_b64_encoded_size(len, SX_B64_URL));
    assert_ok(sx_b64_encode(sx_slice_of(der, len), SX_B64_URL, text, sx_b64_encoded_size(len, SX_B64_URL)));
    free(der);
    return text;
}

static void test_new_service_exact(void **state)
{
    (void)state;
    char *ca = cert_text("fixtures/ca.crt"), *srv = cert_text("fixtures/server.crt");
    uint8_t hash[64];
    tu_bytes_seq(hash, 64, 0);
    char hash_text[100];
    assert_ok(sx_b64_encode(sx_slice_of(hash, 64), SX_B64_URL, hash_text, sizeof hash_text));
    size_t cap = strlen(ca) + strlen(srv) + 400;
    char *line = malloc(cap);
    snprintf(line, cap, "NEW_SERVICE service_id=" SVC " role=N cert=%s,%s cert_hash=%s created_at=1718928000", srv, ca,
             hash_text);
    sx_slrec r;
    assert_ok(sx_slrec_parse(sx_slice_str(line), &r));
    assert_int_equal(r.type, SX_SLREC_NEW_SERVICE);
    assert_int_equal(r.svc.role, 'N');
    assert_int_equal(r.svc.n_certs, 2);
    assert_int_equal(r.svc.cert_hash.len, 64);
    assert_int_equal(r.svc.created_at, DAY0);
    char *again = encode(&r);
    assert_string_equal(again, line);
    free(again);
    sx_slrec_cleanup(&r);

    /* An empty chain parses (and stays empty); a certificate that is not
     * DER is refused. */
    snprintf(line, cap, "NEW_SERVICE service_id=" SVC " role=M cert= cert_hash=%s created_at=5", hash_text);
    assert_round_trip(line);
    snprintf(line, cap, "NEW_SERVICE service_id=" SVC " role=M cert=" FIXED " cert_hash=%s created_at=5",
             hash_text);
    assert_int_equal(sx_slrec_parse(sx_slice_str(line), &r), SX_E_PROTOCOL);
    snprintf(line, cap, "NEW_SERVICE service_id=" SVC " role=X cert= cert_hash=%s created_at=5", hash_text);
    assert_int_equal(sx_slrec_parse(sx_slice_str(line), &r), SX_E_PROTOCOL);
    free(line);
    free(ca);
    free(srv);
}

static void test_parse_lenient_forms(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        /* legacy sndSecure= instead of queue_mode= */
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= sndSecure=T",
         "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= queue_mode=M"},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= sndSecure=F updated_at=5",
         "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= queue_mode=C updated_at=5"},
        /* an explicit active status is not written back */
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=active",
         "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk="},
        /* base64 without padding, numbers with a sign */
        {"SECURE " RID " MCowBQYDK2VuAyEAsLGys7S1tre4ubq7vL2-v8DBwsPExcbHyMnKy8zNzs8", "SECURE " RID " " SK},
        {"TIME " RID " +1718928000", "TIME " RID " 1718928000"},
        /* trailing JSON whitespace after a notice */
        {"BLOCK " RID " reason=spam,notice={ \"ttl\" : 1 }  ", "BLOCK " RID " reason=spam,notice={ \"ttl\" : 1 }"},
        /* a notice followed by rsrv= (the reference cannot read this line) */
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=blocked,reason=spam,notice={} rsrv=" SVC,
         "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=blocked,reason=spam,notice={} rsrv=" SVC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sx_slrec r;
        sx_status st = sx_slrec_parse(sx_slice_str(cases[i].in), &r);
        if (st != SX_OK)
            fail_msg("case %zu: %s", i, sx_status_str(st));
        char *got = encode(&r);
        assert_string_equal(got, cases[i].out);
        free(got);
        sx_slrec_cleanup(&r);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    struct {
        const char *line;
        sx_status st;
    } cases[] = {
        {"", SX_E_PROTOCOL},
        {"DELETE", SX_E_PROTOCOL},
        {"DELETE ", SX_E_PROTOCOL},
        {"delete " RID, SX_E_PROTOCOL},
        {"DELETEX " RID, SX_E_PROTOCOL},
        {"DELETE  " RID, SX_E_PROTOCOL},
        {"DELETE " RID " ", SX_E_PROTOCOL},
        {"DELETE " RID "\r", SX_E_PROTOCOL},
        {"DELETE AQIDBAUGBwgJCgsMDQ4PEBESExQVFhc", SX_E_PROTOCOL},   /* 23 bytes */
        {"DELETE AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGQ==", SX_E_LIMIT}, /* 25 bytes */
        {"DELETE AQIDBAUGBwgJCgsMDQ4PEBESExQVFhc!", SX_E_PROTOCOL},
        {"SECURE " RID " " DH, SX_E_PROTOCOL}, /* not a key */
        {"SECURE " RID, SX_E_PROTOCOL},
        {"KEYS " RID " " K1 ",", SX_E_PROTOCOL},
        {"KEYS " RID " ," K1, SX_E_PROTOCOL},
        {"KEYS " RID " " K1 "," K1 "," K1 "," K1 "," K1 "," K1 "," K1 "," K1 "," K1, SX_E_LIMIT},
        {"TIME " RID " 9223372036854775808", SX_E_LIMIT},
        {"TIME " RID " -", SX_E_PROTOCOL},
        {"TIME " RID " 12x", SX_E_PROTOCOL},
        {"BLOCK " RID " reason=other", SX_E_PROTOCOL},
        {"BLOCK " RID " reason=spam ", SX_E_PROTOCOL},
        {"BLOCK " RID " reason=spam,notice=", SX_E_PROTOCOL},
        {"BLOCK " RID " reason=spam,notice={\"ttl\":}", SX_E_PROTOCOL},
        {"BLOCK " RID " reason=spam,notice={\"ttl\":1} x", SX_E_PROTOCOL},
        {"BLOCK " RID " reason=spam,notice=[1]", SX_E_PROTOCOL},
        {"QUEUE_SERVICE " RID " X " SVC, SX_E_PROTOCOL},
        {"QUEUE_SERVICE " RID " R", SX_E_PROTOCOL},
        {"NOTIFIER " RID " " NID " " NK, SX_E_PROTOCOL},
        {"NOTIFIER " RID " " NID " " NK " " NDH " nsrv=", SX_E_PROTOCOL},
        {"LINK " RID " " LID " " FIXED, SX_E_PROTOCOL},
        {"LINK " RID " " LID " " FIXED " ", SX_E_PROTOCOL},
        /* CREATE: missing or misplaced fields, trailing bytes */
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID, SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= ", SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " sid=" SID " rdh=" DH " sk=", SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " rdh=" NK " sid=" SID " sk=", SX_E_LIMIT},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= queue_mode=X", SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= link_id=" LID, SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= updated_at=1 queue_mode=M", SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=blocked", SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=on", SX_E_PROTOCOL},
        {"CREATE rid=" RID " rk= rdh=" DH " sid=" SID " sk=", SX_E_PROTOCOL},
        {"CREATE " RID " rk=" K1 " rdh=" DH " sid=" SID " sk=", SX_E_PROTOCOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sx_slrec r;
        sx_status st = sx_slrec_parse(sx_slice_str(cases[i].line), &r);
        if (st != cases[i].st)
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].line, sx_status_str(st),
                     sx_status_str(cases[i].st));
    }
    /* Encoding refuses records that could not be read back. */
    sx_slrec r;
    fill_queue(&r);
    r.q.n_rkeys = 0;
    sx_writer w;
    sx_writer_init_dynamic(&w, 4096);
    assert_false(sx_slrec_encode(&w, &r));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_cleanup(&w);
    fill_queue(&r);
    r.q.status = SX_QUEUE_BLOCKED; /* without its info */
    sx_writer_init_dynamic(&w, 4096);
    assert_false(sx_slrec_encode(&w, &r));
    sx_writer_cleanup(&w);
}

/* Every prefix and every single-byte change of valid lines: never a crash,
 * and whatever parses re-encodes to a line that parses to itself. */
static void check_mutation(const uint8_t *buf, size_t len)
{
    sx_slrec r;
    if (sx_slrec_parse(sx_slice_of(buf, len), &r) != SX_OK)
        return;
    char *again = encode(&r);
    sx_slrec_cleanup(&r);
    assert_round_trip(again);
    free(again);
}

static void test_truncation_and_corruption(void **state)
{
    (void)state;
    const char *lines[] = {
        "CREATE rid=" RID " rk=" K1 "," K2 " rdh=" DH " sid=" SID " sk=" SK " queue_mode=C link_id=" LID
        " queue_data=" FIXED " " USER " notifier=" NID " " NK " " NDH " nsrv=" SVC
        " updated_at=1718928000 status=off rsrv=" SVC2,
        "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=blocked,reason=content,notice={\"ttl\":86400}",
        "NOTIFIER " RID " " NID " " NK " " NDH " nsrv=" SVC,
        "QUEUE_SERVICE " RID " N " SVC,
        "BLOCK " RID " reason=spam,notice={\"ttl\":[1,{\"a\":\"\\u00e9\"}]}",
    };
    const uint8_t subst[] = {' ', ',', '=', 'A', '-', 0, '\n', 0xff, '{', '"'};
    for (size_t l = 0; l < sizeof lines / sizeof lines[0]; l++) {
        size_t len = strlen(lines[l]);
        uint8_t *buf = malloc(len + 1);
        for (size_t cut = 0; cut <= len; cut++) {
            memcpy(buf, lines[l], cut); /* exact-size copy: ASan sees overreads */
            check_mutation(buf, cut);
        }
        for (size_t i = 0; i < len; i++) {
            for (size_t k = 0; k < sizeof subst; k++) {
                memcpy(buf, lines[l], len);
                buf[i] = subst[k];
                check_mutation(buf, len);
            }
        }
        free(buf);
    }
}

/* ---- replay ---- */

static const char *REPLAY_LOG =
    /* q1: full queue, rid 01.. */
    "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= queue_mode=M updated_at=1718841600\n"
    /* q2: rid 21.., sid 41.. */
    "CREATE rid=ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 rk=" K1 " rdh=" DH " sid=" NID " sk= queue_mode=C\n"
    /* q3: rid 61.., sid 81.. */
    "CREATE rid=" LID " rk=" K1 " rdh=" DH " sid=gYKDhIWGh4iJiouMjY6PkJGSk5SVlpeY sk=\n"
    "garbage line\n"
    "SECURE " RID " " SK "\n"
    "SECURE " RID " " SK "\n" /* same key again: fine */
    "SECURE " RID " " NK "\n" /* another key: refused */
    "KEYS " RID " " K1 "," K2 "\n"
    "LINK ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 " SVC " " FIXED " " USER "\n"
    "LINK ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 " SVC " " FIXED " " FIXED "\n" /* new user data */
    "LINK ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 " SVC " " USER " " USER "\n"   /* other fixed data: refused */
    "NOTIFIER ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 " SVC2 " " NK " " NDH "\n"
    "NOTIFIER " RID " " SVC2 " " NK " " NDH "\n" /* notifier id taken: refused */
    "SUSPEND " LID "\n"
    "BLOCK " RID " reason=spam,notice={\"ttl\":60}\n"
    "UNBLOCK " RID "\n"
    "BLOCK " RID " reason=content\n"
    "TIME ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 1718928000\n"
    "DELETE " LID "\n"
    "TIME " LID " 1718928000\n"                                 /* deleted queue */
    "DELETE kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaan\n"                 /* unknown queue */
    "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk=\n" /* duplicate */
    "SECURE " RID " MCowBQYDK2Vu";                              /* cut short, no newline */

static void test_replay(void **state)
{
    (void)state;
    make_tmpdir();
    write_file(tpath("store.log"), REPLAY_LOG);
    sx_store *st;
    sx_slservices *svc;
    assert_ok(sx_store_new(&st));
    assert_ok(sx_slservices_new(&svc));
    sx_kit_log_opts o = quiet_opts();
    sx_slreplay_stats stats;
    n_warnings = 0;
    assert_ok(sx_storelog_replay(tpath("store.log"), st, svc, &o, &stats));
    assert_int_equal(stats.lines, 23);
    assert_int_equal(stats.bad_lines, 2);
    assert_int_equal(stats.skipped, 6);
    assert_int_equal(stats.applied, 15);
    /* and the note that the log has no checksums (no store.log.sum) */
    assert_int_equal((size_t)n_warnings, stats.bad_lines + stats.skipped + 1);
    assert_int_equal(sx_store_queue_count(st), 2);

    char *dump = dump_store(st, svc);
    const char *expected =
        "CREATE rid=" RID " rk=" K1 "," K2 " rdh=" DH " sid=" SID " sk=" SK
        " queue_mode=M updated_at=1718841600 status=blocked,reason=content\n"
        "CREATE rid=ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 rk=" K1 " rdh=" DH " sid=" NID " sk= queue_mode=C link_id=" SVC
        " queue_data=" FIXED " " FIXED " notifier=" SVC2 " " NK " " NDH " updated_at=1718928000\n";
    assert_string_equal(dump, expected);
    free(dump);

    /* The maps follow: sender, notifier and link ids find their queues. */
    sx_queue *q1 = find_rid(st, RID);
    assert_non_null(q1);
    assert_string_equal(sx_queue_block_info(q1), "reason=content");
    sx_queue *q = sx_store_find(st, SX_PARTY_SENDER, sx_slice_of(q1->sid, SX_ID_LEN));
    assert_ptr_equal(q, q1);
    sx_queue_release(st, q);
    sx_queue_release(st, q1);
    uint8_t id[SX_ID_LEN];
    tu_bytes_seq(id, SX_ID_LEN, 0x30);
    q = sx_store_find(st, SX_PARTY_NOTIFIER, sx_slice_of(id, SX_ID_LEN));
    assert_non_null(q);
    sx_queue_release(st, q);
    tu_bytes_seq(id, SX_ID_LEN, 0x90);
    q = sx_store_find(st, SX_PARTY_LINK, sx_slice_of(id, SX_ID_LEN));
    assert_non_null(q);
    sx_queue_release(st, q);
    tu_bytes_seq(id, SX_ID_LEN, 0x81); /* the deleted queue's sender id */
    assert_null(sx_store_find(st, SX_PARTY_SENDER, sx_slice_of(id, SX_ID_LEN)));

    /* A missing file is an empty log. */
    assert_ok(sx_storelog_replay(tpath("none.log"), st, svc, &o, &stats));
    assert_int_equal(stats.lines, 0);

    sx_slservices_free(svc);
    sx_store_free(st);
    remove_tmpdir();
}


typedef struct seen_rids {
    uint8_t rids[4][24];
    size_t n;
} seen_rids;

static void see_rid(void *arg, const uint8_t rid[SX_ID_LEN])
{
    seen_rids *s = arg;
    if (s->n < 4)
        memcpy(s->rids[s->n], rid, 24);
    s->n++;
}
static void test_services(void **state)
{
    (void)state;
    sx_slservices *svc;
    assert_ok(sx_slservices_new(&svc));
    uint8_t id1[24], id2[24], h1[64], h2[64];
    tu_bytes_seq(id1, 24, 1);
    tu_bytes_seq(id2, 24, 2);
    tu_bytes_seq(h1, 64, 1);
    tu_bytes_seq(h2, 64, 2);
    sx_slservice s = {.id = sx_slice_of(id1, 24), .role = 'N', .cert_hash = sx_slice_of(h1, 64), .created_at = 7};
    sx_slice existing;
    assert_ok(sx_slservices_add(svc, &s, &existing));
    assert_int_equal(existing.len, 0);
    /* The same certificate with another id: the known service stays. */
    s.id = sx_slice_of(id2, 24);
    assert_ok(sx_slservices_add(svc, &s, &existing));
    assert_memory_equal(existing.ptr, id1, 24);
    /* ... with another role: refused. */
    s.role = 'M';
    assert_int_equal(sx_slservices_add(svc, &s, NULL), SX_E_AUTH);
    /* A new certificate under a taken id: refused. */
    s.id = sx_slice_of(id1, 24);
    s.cert_hash = sx_slice_of(h2, 64);
    assert_int_equal(sx_slservices_add(svc, &s, NULL), SX_E_AUTH);
    assert_int_equal(sx_slservices_count(svc), 1);

    uint8_t rid_a[24], rid_b[24];
    tu_bytes_seq(rid_a, 24, 0x50);
    tu_bytes_seq(rid_b, 24, 0x40);
    assert_ok(sx_slservices_set_queue(svc, rid_a, 'R', sx_slice_of(id1, 24)));
    assert_ok(sx_slservices_set_queue(svc, rid_b, 'N', sx_slice_of(id2, 24)));
    assert_int_equal(sx_slservices_set_queue(svc, rid_b, 'X', sx_slice_of(id2, 24)), SX_E_USAGE);
    sx_slice r, n;
    sx_slservices_queue(svc, rid_a, &r, &n);
    assert_int_equal(r.len, 24);
    assert_int_equal(n.len, 0);
    sx_slservices_queue(svc, rid_b, &r, &n);
    assert_int_equal(r.len, 0);
    assert_memory_equal(n.ptr, id2, 24);
    assert_ok(sx_slservices_set_queue(svc, rid_b, 'N', sx_slice_of(NULL, 0)));
    sx_slservices_queue(svc, rid_b, &r, &n);
    assert_int_equal(n.len, 0);
    /* By certificate, and the queues of one service and party. */
    assert_non_null(sx_slservices_by_cert(svc, sx_slice_of(h1, 64)));
    assert_memory_equal(sx_slservices_by_cert(svc, sx_slice_of(h1, 64))->id.ptr, id1, 24);
    assert_null(sx_slservices_by_cert(svc, sx_slice_of(h2, 64)));
    uint8_t rid_c[24];
    tu_bytes_seq(rid_c, 24, 0x30);
    assert_ok(sx_slservices_set_queue(svc, rid_c, 'N', sx_slice_of(id1, 24)));
    assert_ok(sx_slservices_set_queue(svc, rid_b, 'N', sx_slice_of(id1, 24)));
    assert_ok(sx_slservices_set_queue(svc, rid_a, 'N', sx_slice_of(id2, 24)));
    seen_rids seen = {0};
    sx_slservices_each_queue(svc, 'N', sx_slice_of(id1, 24), see_rid, &seen);
    assert_int_equal(seen.n, 2); /* c and b, in no particular order */
    bool c_first = memcmp(seen.rids[0], rid_c, 24) == 0;
    assert_memory_equal(seen.rids[c_first ? 0 : 1], rid_c, 24);
    assert_memory_equal(seen.rids[c_first ? 1 : 0], rid_b, 24);
    seen.n = 0;
    sx_slservices_each_queue(svc, 'R', sx_slice_of(id1, 24), see_rid, &seen);
    assert_int_equal(seen.n, 1);
    assert_memory_equal(seen.rids[0], rid_a, 24);
    seen.n = 0;
    sx_slservices_each_queue(svc, 'N', sx_slice_of(id2, 23), see_rid, &seen);
    assert_int_equal(seen.n, 0);
    sx_slservices_forget_queue(svc, rid_a);
    sx_slservices_queue(svc, rid_a, &r, &n);
    assert_int_equal(r.len, 0);
    assert_int_equal(n.len, 0);
    sx_slservices_free(svc);
}

/* The queue table against a plain model: many queues set, changed and
 * cleared in a pseudo-random order (the hash table's growth and removal). */
static void count_rid(void *arg, const uint8_t rid[SX_ID_LEN])
{
    (void)rid;
    (*(size_t *)arg)++;
}

static void test_slservices_many(void **state)
{
    (void)state;
    enum { N = 4000 };
    sx_slservices *svc;
    assert_ok(sx_slservices_new(&svc));
    uint8_t(*rids)[24] = calloc(N, 24);
    uint8_t *model = calloc(N, 2); /* per queue: R and N service number, 0 none */
    assert_non_null(rids);
    assert_non_null(model);
    uint8_t ids[3][24];
    for (int k = 0; k < 3; k++)
        tu_bytes_seq(ids[k], 24, (uint8_t)(0xa0 + k));
    uint32_t x = 12345;
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < 24; j++) {
            x = x * 1103515245u + 12345u;
            rids[i][j] = (uint8_t)(x >> 16);
        }
    for (int round = 0; round < 6 * N; round++) {
        x = x * 1103515245u + 12345u;
        size_t i = (x >> 8) % N;
        int party = (x >> 4) & 1;
        uint8_t v = (uint8_t)((x >> 20) % 4); /* 0: clear */
        assert_ok(sx_slservices_set_queue(svc, rids[i], party ? 'N' : 'R',
                                          v ? sx_slice_of(ids[v - 1], 24) : sx_slice_of(NULL, 0)));
        model[i * 2 + party] = v;
        if (round % 7 == 0 && !model[i * 2] && !model[i * 2 + 1])
            sx_slservices_forget_queue(svc, rids[i]);
        if (round % 11 == 0) {
            sx_slservices_forget_queue(svc, rids[i]);
            model[i * 2] = model[i * 2 + 1] = 0;
        }
    }
    size_t want[2][3] = {{0}};
    for (size_t i = 0; i < N; i++) {
        sx_slice r, n;
        sx_slservices_queue(svc, rids[i], &r, &n);
        for (int p = 0; p < 2; p++) {
            uint8_t v = model[i * 2 + p];
            sx_slice got = p ? n : r;
            if (!v) {
                assert_int_equal(got.len, 0);
            } else {
                assert_int_equal(got.len, 24);
                assert_memory_equal(got.ptr, ids[v - 1], 24);
                want[p][v - 1]++;
            }
        }
    }
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < 3; k++) {
            size_t n = 0;
            sx_slservices_each_queue(svc, p ? 'N' : 'R', sx_slice_of(ids[k], 24), count_rid, &n);
            assert_int_equal(n, want[p][k]);
        }
    free(rids);
    free(model);
    sx_slservices_free(svc);
}

/* ---- compaction and backups (PROTOCOL-NOTES E26) ---- */

static void test_backup_names(void **state)
{
    (void)state;
    char name[128];
    assert_ok(sx_kit_backup_name("/x/smp-server-store.log", DAY0, 0, name, sizeof name));
    assert_string_equal(name, "/x/smp-server-store.log.2024-06-21T00:00:00Z");
    assert_ok(sx_kit_backup_name("a.log", DAY0 + 5 * 3600 + 61, 123456789, name, sizeof name));
    assert_string_equal(name, "a.log.2024-06-21T05:01:01.123456789Z");
    assert_ok(sx_kit_backup_name("a.log", DAY0, 120000000, name, sizeof name));
    assert_string_equal(name, "a.log.2024-06-21T00:00:00.12Z");
    assert_int_equal(sx_kit_backup_name("a.log", DAY0, 0, name, 10), SX_E_LIMIT);
}

static void touch_backup(int64_t sec, int32_t nsec)
{
    char name[512];
    assert_ok(sx_kit_backup_name(tpath("store.log"), sec, nsec, name, sizeof name));
    write_file(name, "x\n");
}

static bool backup_exists(int64_t sec, int32_t nsec)
{
    char name[512];
    assert_ok(sx_kit_backup_name(tpath("store.log"), sec, nsec, name, sizeof name));
    return exists(name);
}

static void test_backup_pruning(void **state)
{
    (void)state;
    make_tmpdir();
    const int64_t now = DAY0 + 12 * 3600;
    const int64_t ages[] = {3600, 2 * DAY, 3 * DAY, 22 * DAY, 23 * DAY, 30 * DAY, 40 * DAY};
    for (size_t i = 0; i < 7; i++)
        touch_backup(now - ages[i], i == 3 ? 5000 : 0);
    /* Names that are not backups stay whatever their age. */
    write_file(tpath("store.log.bak"), "x");
    write_file(tpath("store.log.start"), "x");
    write_file(tpath("store.log.2024-13-01T00:00:00Z"), "x");
    write_file(tpath("store.log.2020-01-01T00:00:00"), "x");
    write_file(tpath("other.log.2020-01-01T00:00:00Z"), "x");
    write_file(tpath("store.logx2020-01-01T00:00:00Z"), "x");
    sx_kit_log_opts o = quiet_opts();
    size_t removed;
    assert_ok(sx_kit_prune_backups(tpath("store.log"), now, 0, &o, &removed));
    /* Older than 24 h: 2d, 3d, 22d, 23d, 30d, 40d; the 3 newest of them stay
     * (2d, 3d, 22d); of the rest, those older than 21 days go. */
    assert_int_equal(removed, 3);
    assert_true(backup_exists(now - 3600, 0));
    assert_true(backup_exists(now - 2 * DAY, 0));
    assert_true(backup_exists(now - 3 * DAY, 0));
    assert_true(backup_exists(now - 22 * DAY, 5000));
    assert_false(backup_exists(now - 23 * DAY, 0));
    assert_false(backup_exists(now - 30 * DAY, 0));
    assert_false(backup_exists(now - 40 * DAY, 0));
    assert_true(exists(tpath("store.log.bak")));
    assert_true(exists(tpath("store.log.2024-13-01T00:00:00Z")));
    assert_true(exists(tpath("store.log.2020-01-01T00:00:00")));
    assert_true(exists(tpath("other.log.2020-01-01T00:00:00Z")));

    /* Run again: 4 left, 3 older than a day (2d, 3d, 22d) are the minimum kept. */
    assert_ok(sx_kit_prune_backups(tpath("store.log"), now, 0, &o, &removed));
    assert_int_equal(removed, 0);
    /* 18 days later all four are older than a day (18d, 20d, 21d, 40d):
     * the oldest is beyond the 3 kept and older than 21 days. */
    assert_ok(sx_kit_prune_backups(tpath("store.log"), now + 18 * DAY, 0, &o, &removed));
    assert_int_equal(removed, 1);
    assert_false(backup_exists(now - 22 * DAY, 5000));
    /* Beyond the 3 kept but not older than 21 days: stays. */
    touch_backup(now - 2 * DAY - 1, 0);
    assert_ok(sx_kit_prune_backups(tpath("store.log"), now + 18 * DAY, 0, &o, &removed));
    assert_int_equal(removed, 0);
    assert_true(backup_exists(now - 2 * DAY - 1, 0));
    /* With an old one added, it goes. */
    touch_backup(now - 50 * DAY, 0);
    assert_ok(sx_kit_prune_backups(tpath("store.log"), now + 18 * DAY, 0, &o, &removed));
    assert_int_equal(removed, 1);
    assert_false(backup_exists(now - 50 * DAY, 0));
    remove_tmpdir();
}

static void test_compaction(void **state)
{
    (void)state;
    make_tmpdir();
    char *svc_line;
    {
        char *ca = cert_text("fixtures/ca.crt");
        size_t cap = strlen(ca) + 300;
        svc_line = malloc(cap);
        snprintf(svc_line, cap, "NEW_SERVICE service_id=" SVC " role=N cert=%s cert_hash=" DH " created_at=5\n", ca);
        free(ca);
    }
    size_t cap = strlen(REPLAY_LOG) + strlen(svc_line) + 400;
    char *log_text = malloc(cap);
    snprintf(log_text, cap, "%s%s%s", REPLAY_LOG, "\n", svc_line);
    strcat(log_text, "QUEUE_SERVICE ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4 N " SVC "\n");
    strcat(log_text, "QUEUE_SERVICE " RID " N " SVC "\n"); /* no notifier: refused */
    strcat(log_text, "QUEUE_SERVICE " RID " R " SVC2 "\n");
    write_file(tpath("store.log"), log_text);

    sx_store *st;
    sx_slservices *svc;
    assert_ok(sx_store_new(&st));
    assert_ok(sx_slservices_new(&svc));
    sx_kit_log_opts o = quiet_opts();
    o.now_sec = DAY0;
    o.now_nsec = 250000000;
    sx_kit_log *log;
    sx_slreplay_stats stats;
    assert_ok(sx_storelog_start(tpath("store.log"), st, svc, &o, &stats, &log));
    assert_int_equal(stats.bad_lines, 2);
    assert_int_equal(stats.skipped, 7);
    char *state1 = dump_store(st, svc);

    /* The original is kept under its timestamped name, .start is gone. */
    char *orig = read_file(tpath("store.log.2024-06-21T00:00:00.25Z"));
    assert_non_null(orig);
    assert_string_equal(orig, log_text);
    free(orig);
    assert_false(exists(tpath("store.log.start")));

    /* The compacted log: the service first, then one CREATE per queue. */
    char *compact = read_file(tpath("store.log"));
    assert_int_equal(count_lines(compact), 3);
    assert_memory_equal(compact, svc_line, strlen(svc_line));
    assert_non_null(strstr(compact, " notifier=" SVC2 " " NK " " NDH " nsrv=" SVC " updated_at="));
    assert_non_null(strstr(compact, " rsrv=" SVC2 "\n"));

    /* Appends go after it. */
    sx_slrec r = {0};
    r.type = SX_SLREC_TIME;
    tu_bytes_seq(r.rid, SX_ID_LEN, 1);
    r.q.updated_at = DAY0 + DAY;
    assert_ok(sx_storelog_append(log, &r));
    sx_kit_log_close(log);

    /* Replaying the compacted log gives the same state (plus the append). */
    sx_store *st2;
    sx_slservices *svc2;
    assert_ok(sx_store_new(&st2));
    assert_ok(sx_slservices_new(&svc2));
    assert_ok(sx_storelog_replay(tpath("store.log"), st2, svc2, &o, &stats));
    assert_int_equal(stats.bad_lines + stats.skipped, 0);
    assert_int_equal(stats.applied, 4);
    sx_queue *q = find_rid(st, RID);
    q->updated_at = DAY0 + DAY;
    sx_queue_release(st, q);
    char *state2 = dump_store(st2, svc2);
    char *state1b = dump_store(st, svc);
    assert_string_equal(state2, state1b);
    assert_string_not_equal(state1, state1b);
    assert_int_equal(sx_slservices_count(svc2), 1);

    /* A second start compacts again: a second backup, same state. */
    sx_store *st3;
    sx_slservices *svc3;
    assert_ok(sx_store_new(&st3));
    assert_ok(sx_slservices_new(&svc3));
    o.now_sec = DAY0 + 60;
    o.now_nsec = 0;
    assert_ok(sx_storelog_start(tpath("store.log"), st3, svc3, &o, &stats, &log));
    sx_kit_log_close(log);
    assert_true(exists(tpath("store.log.2024-06-21T00:01:00Z")));
    char *state3 = dump_store(st3, svc3);
    assert_string_equal(state3, state1b);

    free(state1);
    free(state1b);
    free(state2);
    free(state3);
    free(compact);
    free(log_text);
    free(svc_line);
    sx_slservices_free(svc);
    sx_slservices_free(svc2);
    sx_slservices_free(svc3);
    sx_store_free(st);
    sx_store_free(st2);
    sx_store_free(st3);
    remove_tmpdir();
}

/* A start on a log that is already compact (what the last start wrote,
 * plus CREATEs appended since) keeps it as it is: no rewrite, no new
 * backup, the checksums go on; any other record, or a log without its sum
 * file, is compacted as before. */
#define Q2 "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4" /* the second queue of REPLAY_LOG */
static void test_compact_log_kept(void **state)
{
    (void)state;
    make_tmpdir();
    char *ca = cert_text("fixtures/ca.crt");
    size_t cap = strlen(REPLAY_LOG) + strlen(ca) + 600;
    char *log_text = malloc(cap);
    snprintf(log_text, cap,
             "%s\nNEW_SERVICE service_id=" SVC " role=N cert=%s cert_hash=" DH " created_at=5\n"
             "QUEUE_SERVICE " RID " R " SVC2 "\nKEYS " Q2 " " K2 "," K1 "\n",
             REPLAY_LOG, ca);
    free(ca);
    write_file(tpath("store.log"), log_text);
    sx_kit_log_opts o = quiet_opts();
    o.now_sec = DAY0;
    sx_kit_log *log;
    sx_slreplay_stats stats;
    sx_store *st[5];
    sx_slservices *svc[5];
    for (int i = 0; i < 5; i++) {
        assert_ok(sx_store_new(&st[i]));
        assert_ok(sx_slservices_new(&svc[i]));
    }
    /* 1: updates in the log: compacted, the original kept as a backup */
    assert_ok(sx_storelog_start(tpath("store.log"), st[0], svc[0], &o, &stats, &log));
    sx_kit_log_close(log);
    assert_true(exists(tpath("store.log.2024-06-21T00:00:00Z")));
    char *compact = read_file(tpath("store.log"));
    char *state0 = dump_store(st[0], svc[0]);
    sx_queue *q = find_rid(st[0], Q2);
    assert_int_equal(sx_queue_rkey(q, 0).len, 57); /* the Ed448 key first */
    sx_queue_release(st[0], q);

    /* 2: kept as it is, same state, no new backup */
    o.now_sec = DAY0 + 60;
    n_warnings = 0;
    assert_ok(sx_storelog_start(tpath("store.log"), st[1], svc[1], &o, &stats, &log));
    assert_int_equal(n_warnings, 1); /* the note, nothing unchecked */
    assert_non_null(strstr(last_warning, "is compact: kept as it is"));
    assert_false(exists(tpath("store.log.2024-06-21T00:01:00Z")));
    assert_false(exists(tpath("store.log.start")));
    char *text = read_file(tpath("store.log"));
    assert_string_equal(text, compact);
    free(text);
    char *state1 = dump_store(st[1], svc[1]);
    assert_string_equal(state1, state0);
    /* a new queue's CREATE appended: still compact */
    sx_new_queue nq = {0};
    nq.rkey = qkey(SX_KEY_ED25519, 7);
    nq.mode = 'M';
    nq.now = DAY0;
    sx_queue *nqq;
    assert_ok(sx_store_create(st[1], &nq, &nqq));
    sx_slrec r;
    sx_slrec_from_queue(nqq, svc[1], &r);
    sx_queue_release(st[1], nqq);
    assert_ok(sx_storelog_append(log, &r));
    sx_kit_log_close(log);

    /* 3: kept again, with the new queue; its line checked by the sum file */
    o.now_sec = DAY0 + 120;
    n_warnings = 0;
    assert_ok(sx_storelog_start(tpath("store.log"), st[2], svc[2], &o, &stats, &log));
    assert_int_equal(n_warnings, 1); /* the note, nothing unchecked */
    assert_non_null(strstr(last_warning, "is compact: kept as it is"));
    assert_int_equal(stats.applied, count_lines(compact) + 1);
    assert_false(exists(tpath("store.log.2024-06-21T00:02:00Z")));
    char *state2 = dump_store(st[2], svc[2]);
    char *state1b = dump_store(st[1], svc[1]);
    assert_string_equal(state2, state1b);
    /* an update record: compacted at the next start */
    sx_slrec t = {0};
    t.type = SX_SLREC_TIME;
    tu_bytes_seq(t.rid, SX_ID_LEN, 1);
    t.q.updated_at = DAY0 + DAY;
    assert_ok(sx_storelog_append(log, &t));
    sx_kit_log_close(log);
    o.now_sec = DAY0 + 180;
    assert_ok(sx_storelog_start(tpath("store.log"), st[3], svc[3], &o, &stats, &log));
    sx_kit_log_close(log);
    assert_true(exists(tpath("store.log.2024-06-21T00:03:00Z")));

    /* 4: compact but without its sum file (written by another program):
     * compacted, so that its lines get their checksums */
    assert_int_equal(unlink(tpath("store.log.sum")), 0);
    o.now_sec = DAY0 + 240;
    assert_ok(sx_storelog_start(tpath("store.log"), st[4], svc[4], &o, &stats, &log));
    sx_kit_log_close(log);
    assert_true(exists(tpath("store.log.2024-06-21T00:04:00Z")));
    char *state4 = dump_store(st[4], svc[4]);
    char *state3 = dump_store(st[3], svc[3]);
    assert_string_equal(state4, state3);

    free(state0);
    free(state1);
    free(state1b);
    free(state2);
    free(state3);
    free(state4);
    free(compact);
    free(log_text);
    for (int i = 0; i < 5; i++) {
        sx_slservices_free(svc[i]);
        sx_store_free(st[i]);
    }
    remove_tmpdir();
}

static void test_start_recovery(void **state)
{
    (void)state;
    make_tmpdir();
    /* A compaction was interrupted: .start holds the full log, the current
     * file only part of the new one. */
    const char *full = "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk=\nSUSPEND " RID "\n";
    const char *partial = "CREATE rid=" RID " rk=" K1 " rdh=";
    write_file(tpath("store.log.start"), full);
    write_file(tpath("store.log"), partial);
    sx_store *st;
    assert_ok(sx_store_new(&st));
    sx_kit_log_opts o = quiet_opts();
    o.now_sec = DAY0;
    n_warnings = 0;
    sx_kit_log *log;
    assert_ok(sx_storelog_start(tpath("store.log"), st, NULL, &o, NULL, &log));
    sx_kit_log_close(log);
    char *bak = read_file(tpath("store.log.bak"));
    assert_non_null(bak);
    assert_string_equal(bak, partial);
    free(bak);
    char *backup = read_file(tpath("store.log.2024-06-21T00:00:00Z"));
    assert_non_null(backup);
    assert_string_equal(backup, full);
    free(backup);
    assert_false(exists(tpath("store.log.start")));
    char *now = read_file(tpath("store.log"));
    assert_string_equal(now, "CREATE rid=" RID " rk=" K1 " rdh=" DH " sid=" SID " sk= status=off\n");
    free(now);
    assert_true(n_warnings >= 1);

    /* .start without a current file. */
    sx_store *st2;
    assert_ok(sx_store_new(&st2));
    unlink(tpath("store.log"));
    write_file(tpath("store.log.start"), full);
    o.now_sec = DAY0 + 1;
    assert_ok(sx_storelog_start(tpath("store.log"), st2, NULL, &o, NULL, &log));
    sx_kit_log_close(log);
    assert_int_equal(sx_store_queue_count(st2), 1);
    assert_true(exists(tpath("store.log.2024-06-21T00:00:01Z")));

    /* No log at all: a new empty one is created. */
    sx_store *st3;
    assert_ok(sx_store_new(&st3));
    assert_ok(sx_storelog_start(tpath("fresh.log"), st3, NULL, &o, NULL, &log));
    sx_kit_log_close(log);
    char *fresh = read_file(tpath("fresh.log"));
    assert_non_null(fresh);
    assert_string_equal(fresh, "");
    free(fresh);

    sx_store_free(st);
    sx_store_free(st2);
    sx_store_free(st3);
    remove_tmpdir();
}

/* ---- the writer ---- */

static void test_append_is_written(void **state)
{
    (void)state;
    make_tmpdir();
    for (int mode = 0; mode < 2; mode++) {
        sx_kit_log_opts o = quiet_opts();
        o.sync = mode == 1 ? SX_KIT_SYNC_BATCH : SX_KIT_SYNC_NEVER;
        /* An existing log whose last line was cut short by a crash. */
        write_file(tpath("a.log"), "DELETE " RID "\nTIME " RID " 17");
        sx_kit_log *log;
        assert_ok(sx_kit_log_open(tpath("a.log"), false, &o, &log));
        sx_slrec r = {0};
        r.type = SX_SLREC_SUSPEND;
        tu_bytes_seq(r.rid, SX_ID_LEN, 1);
        assert_ok(sx_storelog_append(log, &r));
        /* Visible to another reader as soon as append returns. */
        char *text = read_file(tpath("a.log"));
        assert_string_equal(text, "DELETE " RID "\nTIME " RID " 17\nSUSPEND " RID "\n");
        free(text);
        assert_int_equal(sx_kit_log_append_line(log, sx_slice_str("a\nb")), SX_E_USAGE);
        r.type = SX_SLREC_KEYS; /* no keys: cannot be encoded */
        assert_int_equal(sx_storelog_append(log, &r), SX_E_USAGE);
        uint64_t recs, writes, syncs;
        sx_kit_log_counters(log, &recs, &writes, &syncs);
        assert_int_equal(recs, 1);
        assert_int_equal(writes, 1);
        assert_int_equal(syncs, mode == 1 ? 1 : 0);
        sx_kit_log_close(log);
    }
    remove_tmpdir();
}

/* ---- the store log's checksums (kit/logsum.h) ---- */

static char sum_warnings[8192];

static void collect_warn(void *arg, const char *msg)
{
    (void)arg;
    size_t n = strlen(sum_warnings);
    snprintf(sum_warnings + n, sizeof sum_warnings - n, "%s\n", msg);
}

static void fill_two(sx_kit_linebuf *b, void *arg)
{
    (void)arg;
    for (int i = 1; i <= 2; i++) {
        size_t start = b->w.len;
        char t[32];
        snprintf(t, sizeof t, "snapshot line %d", i);
        sx_kit_linebuf_end_line(b, start, sx_write_str(&b->w, t));
    }
}

/* Reads path through the checked reader: the lines it returns, joined with
 * '|', and its counters. */
static char *read_checked(const char *path, size_t *damaged, size_t *unchecked)
{
    sum_warnings[0] = 0;
    sx_kit_linereader lr;
    bool missing;
    assert_ok(sx_kit_linereader_open_log(&lr, path, collect_warn, NULL, &missing));
    char *out = calloc(1, 4096);
    assert_non_null(out);
    for (;;) {
        bool got, too_long;
        assert_ok(sx_kit_linereader_next(&lr, &got, &too_long));
        if (!got)
            break;
        size_t n = strlen(out);
        snprintf(out + n, 4096 - n, "%s%.*s", n ? "|" : "", (int)lr.len, (const char *)lr.line);
    }
    *damaged = lr.n_damaged;
    *unchecked = lr.n_unchecked;
    sx_kit_linereader_close(&lr);
    return out;
}

static void put_file(const char *path, const char *text)
{
    unlink(path); /* a new file: the sum file is for the old inode unless kept */
    write_file(path, text);
}

static void overwrite_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void test_log_checksums(void **state)
{
    (void)state;
    make_tmpdir();
    const char *path = tpath("k.log");
    sx_kit_log_opts o = quiet_opts();
    o.warn = collect_warn;
    sx_kit_log *log;
    assert_ok(sx_kit_log_open(path, true, &o, &log));
    assert_ok(sx_kit_log_write_snapshot(log, fill_two, NULL));
    assert_ok(sx_kit_log_append_line(log, sx_slice_str("record three")));
    assert_ok(sx_kit_log_append_line(log, sx_slice_str("record four")));
    const char *batch = "record five\nrecord six\nrecord seven\n";
    assert_ok(sx_kit_log_append_lines(log, sx_slice_str(batch), 3));
    sx_kit_log_close(log);
    char *sumpath = sx_kit_path_with(path, ".sum");
    struct stat sb;
    assert_int_equal(stat(sumpath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *good = read_file(path);
    char *sum = read_file(sumpath);
    /* header and one entry per line */
    assert_int_equal(strlen(sum) - (size_t)(strchr(sum, '\n') + 1 - sum), 7 * SX_KIT_LOGSUM_ENTRY_LEN);
    const char *all = "snapshot line 1|snapshot line 2|record three|record four|record five|record six|record seven";

    size_t d, u;
    char *got = read_checked(path, &d, &u);
    assert_string_equal(got, all);
    assert_int_equal(d, 0);
    assert_int_equal(u, 0);
    assert_string_equal(sum_warnings, "");
    free(got);

    /* a byte changed in the middle: that record is reported and skipped */
    char *bad = strdup(good);
    bad[strstr(bad, "record four") - bad + 7] = 'F';
    overwrite_file(path, bad);
    got = read_checked(path, &d, &u);
    assert_string_equal(got, "snapshot line 1|snapshot line 2|record three|record five|record six|record seven");
    assert_int_equal(d, 1);
    assert_non_null(strstr(sum_warnings, "k.log, line 4: damaged (its checksum does not match), skipped"));
    free(got);

    /* a '\n' lost: the two records it joined are one damaged line */
    strcpy(bad, good);
    bad[strstr(bad, "snapshot line 2") - bad + 15] = 'x';
    overwrite_file(path, bad);
    got = read_checked(path, &d, &u);
    assert_string_equal(got, "snapshot line 1|record four|record five|record six|record seven");
    assert_int_equal(d, 1);
    assert_non_null(strstr(sum_warnings, "line 2: damaged"));
    free(got);

    /* a '\n' written into a record: both halves are damaged */
    strcpy(bad, good);
    bad[strstr(bad, "record six") - bad + 6] = '\n';
    overwrite_file(path, bad);
    got = read_checked(path, &d, &u);
    assert_string_equal(got, "snapshot line 1|snapshot line 2|record three|record four|record five|record seven");
    assert_int_equal(d, 2);
    assert_non_null(strstr(sum_warnings, "line 6: damaged"));
    assert_non_null(strstr(sum_warnings, "line 7: damaged"));
    free(got);

    /* a record cut short at the end (no '\n') */
    overwrite_file(path, good);
    assert_int_equal(truncate(path, (off_t)strlen(good) - 3), 0);
    got = read_checked(path, &d, &u);
    assert_int_equal(d, 1);
    assert_non_null(strstr(sum_warnings, "line 7: damaged (cut short), skipped"));
    free(got);

    /* a line with no checksum after the last entry: restored, and said so */
    char *more = malloc(strlen(good) + 32);
    sprintf(more, "%srecord eight\n", good);
    overwrite_file(path, more);
    got = read_checked(path, &d, &u);
    assert_int_equal(d, 0);
    assert_int_equal(u, 1);
    assert_non_null(strstr(got, "|record seven|record eight"));
    assert_non_null(strstr(sum_warnings, "1 lines from line 8 have no checksum"));
    free(got);

    /* the same content in a new file: the sum file is another file's */
    put_file(path, good);
    got = read_checked(path, &d, &u);
    assert_string_equal(got, all);
    assert_non_null(strstr(sum_warnings, "was written for another file"));
    free(got);

    /* no sum file: read unchecked, and said so */
    unlink(sumpath);
    got = read_checked(path, &d, &u);
    assert_string_equal(got, all);
    assert_non_null(strstr(sum_warnings, "has no checksums"));
    free(got);

    free(more);
    free(bad);
    free(sum);
    free(good);
    free(sumpath);
}

#define THREADS 4
#define PER_THREAD 300

typedef struct app_arg {
    sx_kit_log *log;
    sx_kit_logwriter *lw; /* group commit: through the writer thread */
    int thread;
} app_arg;

/* Group commit is the writer thread's: like the router's replies, each
 * submitter waits until its own record is written. */
static pthread_mutex_t durable_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t durable_cond = PTHREAD_COND_INITIALIZER;

static void durable_cb(void *arg, uint64_t seq, bool ok)
{
    (void)arg;
    (void)seq;
    (void)ok;
    pthread_mutex_lock(&durable_lock);
    pthread_cond_broadcast(&durable_cond);
    pthread_mutex_unlock(&durable_lock);
}

static bool wait_durable(sx_kit_logwriter *lw, uint64_t seq)
{
    pthread_mutex_lock(&durable_lock);
    while (sx_kit_logwriter_durable(lw) < seq && !sx_kit_logwriter_failed(lw))
        pthread_cond_wait(&durable_cond, &durable_lock);
    pthread_mutex_unlock(&durable_lock);
    return sx_kit_logwriter_durable(lw) >= seq;
}

static void *append_thread(void *p)
{
    app_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        sx_slrec r = {0};
        r.type = SX_SLREC_TIME;
        tu_bytes_seq(r.rid, SX_ID_LEN, (uint8_t)a->thread);
        r.q.updated_at = i;
        if (a->lw) {
            uint64_t seq = sx_storelog_submit(a->lw, &r);
            if (seq == 0 || !wait_durable(a->lw, seq))
                return (void *)1;
        } else if (sx_storelog_append(a->log, &r) != SX_OK) {
            return (void *)1;
        }
    }
    return NULL;
}

static void run_concurrent(bool group, sx_kit_sync sync)
{
    make_tmpdir();
    sx_kit_log_opts o = quiet_opts();
    o.sync = sync;
    sx_kit_log *log;
    assert_ok(sx_kit_log_open(tpath("c.log"), true, &o, &log));
    sx_kit_logwriter *lw = NULL;
    if (group)
        assert_ok(sx_kit_logwriter_start(log, durable_cb, NULL, &lw));
    pthread_t th[THREADS];
    app_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t].log = log;
        args[t].lw = lw;
        args[t].thread = t;
        assert_int_equal(pthread_create(&th[t], NULL, append_thread, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        assert_int_equal(pthread_join(th[t], &ret), 0);
        assert_null(ret);
    }
    sx_kit_logwriter_stop(lw);
    uint64_t recs, writes, syncs;
    sx_kit_log_counters(log, &recs, &writes, &syncs);
    sx_kit_log_close(log);
    assert_int_equal(recs, THREADS * PER_THREAD);
    assert_true(writes >= 1 && writes <= recs);
    assert_int_equal(syncs, sync == SX_KIT_SYNC_BATCH ? writes : 0);
    if (group)
        printf("# group commit: %llu records in %llu writes\n", (unsigned long long)recs,
               (unsigned long long)writes);

    /* Every record exactly once, each line whole. */
    static uint8_t seen[THREADS][PER_THREAD];
    memset(seen, 0, sizeof seen);
    char *text = read_file(tpath("c.log"));
    assert_int_equal(count_lines(text), THREADS * PER_THREAD);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        sx_slrec r;
        assert_ok(sx_slrec_parse(sx_slice_str(line), &r));
        assert_int_equal(r.type, SX_SLREC_TIME);
        int t = r.rid[0];
        assert_true(t >= 0 && t < THREADS);
        assert_true(r.q.updated_at >= 0 && r.q.updated_at < PER_THREAD);
        assert_int_equal(seen[t][r.q.updated_at], 0);
        seen[t][r.q.updated_at] = 1;
        sx_slrec_cleanup(&r);
    }
    free(text);
    remove_tmpdir();
}

static void test_concurrent_group_commit(void **state)
{
    (void)state;
    run_concurrent(true, SX_KIT_SYNC_BATCH);
    run_concurrent(true, SX_KIT_SYNC_NEVER);
}

static void test_concurrent_plain(void **state)
{
    (void)state;
    run_concurrent(false, SX_KIT_SYNC_NEVER);
}

/* The tokenizer's base64url class (a bit set) is the alphabet, byte for
 * byte, and take_while stops at the class's end, the buffer's end, or at
 * once on a failed reader. */
static void test_text_b64_class(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        bool want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_';
        assert_int_equal(sx_slt_is_b64((uint8_t)c), want);
    }
    static const char text[] = "Ab-_09xyz= rest";
    sx_reader r;
    sx_slice tok;
    sx_reader_init(&r, (const uint8_t *)text, sizeof text - 1);
    assert_true(sx_slt_take_while(&r, sx_slt_is_b64, &tok));
    assert_int_equal(tok.len, 9);
    assert_int_equal(r.off, 9);
    sx_reader_init(&r, (const uint8_t *)text, 4);
    assert_true(sx_slt_take_while(&r, sx_slt_is_b64, &tok));
    assert_int_equal(tok.len, 4);
    sx_reader_init(&r, (const uint8_t *)text, sizeof text - 1);
    sx_reader_fail(&r, SX_E_PROTOCOL);
    assert_false(sx_slt_take_while(&r, sx_slt_is_b64, &tok));
    assert_int_equal(tok.len, 0);
}

/* sx_slt_put_b64 encodes straight into the writer: the same text as
 * sx_b64_encode after what is already there, an exact fit in a fixed writer,
 * one byte short refused with nothing written, and an empty field. */
static void test_put_b64_in_place(void **state)
{
    (void)state;
    static uint8_t body[16100];
    static char want[21600];
    for (size_t n = 0; n < sizeof body; n = n < 40 ? n + 1 : n * 3 + 7) {
        for (size_t i = 0; i < n; i++)
            body[i] = (uint8_t)(i * 131 + n);
        size_t tl = sx_b64_encoded_size(n, SX_B64_URL) - 1;
        assert_ok(sx_b64_encode(sx_slice_of(body, n), SX_B64_URL, want, sizeof want));
        sx_writer w;
        sx_writer_init_dynamic(&w, 2 + tl);
        assert_true(sx_write_str(&w, "v "));
        assert_true(sx_slt_put_b64(&w, sx_slice_of(body, n)));
        assert_int_equal(w.len, 2 + tl);
        assert_memory_equal(w.buf, "v ", 2);
        assert_memory_equal(w.buf + 2, want, tl);
        sx_writer_cleanup(&w);

        static uint8_t fixed[21600];
        sx_writer_init_fixed(&w, fixed, tl);
        assert_true(sx_slt_put_b64(&w, sx_slice_of(body, n)));
        assert_int_equal(w.len, tl);
        assert_memory_equal(fixed, want, tl);
        if (tl) {
            sx_writer_init_fixed(&w, fixed, tl - 1);
            assert_false(sx_slt_put_b64(&w, sx_slice_of(body, n)));
            assert_int_equal(w.len, 0);
            assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_b64_class),
        cmocka_unit_test(test_put_b64_in_place),
        cmocka_unit_test(test_key_text_matches_keys_module),
        cmocka_unit_test(test_create_exact),
        cmocka_unit_test(test_update_records_exact),
        cmocka_unit_test(test_new_service_exact),
        cmocka_unit_test(test_parse_lenient_forms),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_truncation_and_corruption),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_slservices_many),
        cmocka_unit_test(test_backup_names),
        cmocka_unit_test(test_backup_pruning),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_compact_log_kept),
        cmocka_unit_test(test_start_recovery),
        cmocka_unit_test(test_append_is_written),
        cmocka_unit_test(test_log_checksums),
        cmocka_unit_test(test_concurrent_group_commit),
        cmocka_unit_test(test_concurrent_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
