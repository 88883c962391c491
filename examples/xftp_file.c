/* xftp_file: sends a file through an XFTP router, receives it back from
 * the recipient's description, checks that it is the same, and deletes it
 * from the router, with the public API (simplex/xftp.h).
 *
 *   cc xftp_file.c $(pkg-config --cflags --libs simplex) -o xftp_file
 *   ./xftp_file 'xftp://<fingerprint>@localhost:443' FILE WORK_DIR
 *
 * WORK_DIR must exist: the descriptions go to WORK_DIR/<name>.xftp/ and
 * the received copy to WORK_DIR/received/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <simplex/simplex.h>

static int fail(const char *what)
{
    fprintf(stderr, "xftp_file: %s: %s\n", what, sx_error_message());
    return 1;
}

static void progress(void *arg, const char *phase, int64_t done, int64_t total)
{
    (void)arg;
    if (total > 0)
        printf("  %s %lld of %lld bytes\n", phase, (long long)done, (long long)total);
}

/* 1 when the two files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: xftp_file XFTP_SERVER_ADDRESS FILE WORK_DIR\n");
        return 2;
    }
    const char *servers[] = {argv[1]};
    sx_xftp_opts o = {.servers = servers, .server_count = 1, .recipients = 1, .progress = progress};

    sx_xftp_upload *up = NULL;
    if (sx_xftp_send_file(argv[2], argv[3], &o, &up) != SX_OK)
        return fail("send");
    printf("sent; recipient description: %s\n", sx_xftp_upload_recipient(up, 0));

    char *info = NULL;
    if (sx_xftp_describe(sx_xftp_upload_recipient(up, 0), &info) != SX_OK) {
        sx_xftp_upload_free(up);
        return fail("describe");
    }
    printf("%s", info);
    sx_free(info);

    char dir[4096], saved[4096];
    snprintf(dir, sizeof dir, "%s/received", argv[3]);
    mkdir(dir, 0700);
    int rc = 1;
    if (sx_xftp_receive_file(sx_xftp_upload_recipient(up, 0), dir, &o, saved, sizeof saved) != SX_OK) {
        rc = fail("receive");
        goto done;
    }
    printf("received as %s\n", saved);
    if (!same_file(argv[2], saved)) {
        fprintf(stderr, "xftp_file: the received file differs from the one sent\n");
        goto done;
    }
    if (sx_xftp_delete_file(sx_xftp_upload_sender(up), &o) != SX_OK) {
        rc = fail("delete");
        goto done;
    }
    printf("deleted from the router\n");
    rc = 0;
done:
    sx_xftp_upload_free(up);
    return rc;
}
