/* Writes a store log (smp-server-store.log) holding N queues for
 * bench/store_start.sh: one CREATE record per queue, as compaction writes
 * them, with random ids, secrets and X25519 recipient and sender keys, a
 * third of them with a notifier. Usage: bench_gen_queues N PATH */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/keys.h"
#include "crypto/util.h"
#include "smp_router/slrec.h"

static void rand_key(sx_qkey *k)
{
    memset(k, 0, sizeof *k);
    k->alg = SX_KEY_X25519;
    k->len = 32;
    sx_random_bytes(k->raw, 32);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_gen_queues N PATH\n");
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    FILE *f = fopen(argv[2], "w");
    if (n < 0 || !f) {
        fprintf(stderr, "bench_gen_queues: bad count or path\n");
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 20);
    for (long i = 0; i < n; i++) {
        sx_slrec r;
        memset(&r, 0, sizeof r);
        r.type = SX_SLREC_CREATE;
        sx_random_bytes(r.rid, SX_ID_LEN);
        r.q.n_rkeys = 1;
        rand_key(&r.q.rkeys[0]);
        sx_random_bytes(r.q.dh_secret, sizeof r.q.dh_secret);
        sx_random_bytes(r.q.sid, SX_ID_LEN);
        rand_key(&r.q.skey);
        r.q.mode = 'M';
        if (i % 3 == 0) {
            r.q.has_notifier = true;
            sx_random_bytes(r.q.ntf.id, SX_ID_LEN);
            rand_key(&r.q.ntf.key);
            sx_random_bytes(r.q.ntf.dh_secret, sizeof r.q.ntf.dh_secret);
        }
        r.q.has_updated_at = true;
        r.q.updated_at = now - now % 86400;
        r.q.status = SX_QUEUE_ACTIVE;
        w.len = 0;
        if (!sx_slrec_encode(&w, &r) || !sx_write_u8(&w, '\n') || fwrite(w.buf, 1, w.len, f) != w.len) {
            fprintf(stderr, "bench_gen_queues: cannot write record %ld\n", i);
            return 1;
        }
    }
    sx_writer_cleanup(&w);
    return fclose(f) == 0 ? 0 : 1;
}
