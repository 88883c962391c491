/* `smp-server journal import|export|delete`: the undelivered messages of
 * the memory store (smp-server-messages.log) moved into the journal folder
 * (<log>/messages) and back, or the folder removed, with the reference's
 * checks and questions. The queues come from the store log. */
#include "journal_cmd.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/router_cli.h"
#include "smp_router/jmigrate.h"
#include "smp_router/storelog.h"

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void warn_line(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

typedef struct loaded {
    sx_store *st;
    sx_slservices *svc;
    sx_jstore *js;
} loaded;

static void unload(loaded *l)
{
    sx_jstore_close(l->js);
    sx_slservices_free(l->svc);
    sx_store_free(l->st);
}

/* The queues of the store log and the journal folder. */
static bool load(const sx_kit_paths *p, loaded *l)
{
    memset(l, 0, sizeof *l);
    if (!is_file(p->store_log)) {
        printf("Error: store log %s does not exist\n", p->store_log);
        return false;
    }
    sx_kit_log_opts o = {.warn = warn_line};
    sx_slreplay_stats s;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, p->messages_dir);
    c.warn = warn_line;
    if (sx_store_new(&l->st) != SX_OK || sx_slservices_new(&l->svc) != SX_OK ||
        sx_storelog_replay(p->store_log, l->st, l->svc, &o, &s) != SX_OK || sx_jstore_open(&c, &l->js) != SX_OK) {
        printf("Error: cannot read the store log %s or open %s\n", p->store_log, p->messages_dir);
        unload(l);
        return false;
    }
    printf("Queues in the store log: %zu\n", sx_store_queue_count(l->st));
    return true;
}

static int both_present(const sx_kit_paths *p)
{
    printf("Error: both %s file and %s directory are present.\n"
           "Configure memory storage or journal storage and remove the other.\n",
           p->messages_log, p->messages_dir);
    return 1;
}

static int do_import(const sx_kit_paths *p, bool skip_warnings)
{
    bool file = is_file(p->messages_log), dir = is_dir(p->messages_dir);
    if (file && dir)
        return both_present(p);
    if (dir) {
        printf("%s directory already exists.\n", p->messages_dir);
        return 1;
    }
    if (!file) {
        printf("%s file does not exist.\n", p->messages_log);
        return 1;
    }
    char w[2 * SX_KIT_PATH_MAX + 128];
    snprintf(w, sizeof w, "WARNING: message log file %s will be imported to journal directory %s", p->messages_log,
             p->messages_dir);
    if (!rcli_confirm(w, "Messages not imported"))
        return 1;
    loaded l;
    if (!load(p, &l))
        return 1;
    sx_msglog_opts o = {.warn = warn_line, .skip_warnings = skip_warnings};
    sx_msglog_stats s = {0};
    sx_status res = sx_jmigrate_import(p->messages_log, l.st, l.js, &o, &s);
    unload(&l);
    if (res != SX_OK) {
        printf("Error: import failed (%s)%s\n", sx_status_str(res),
               res == SX_E_PROTOCOL ? "; use --skip-warnings to drop what cannot be restored" : "");
        return 1;
    }
    printf("Import completed\nMessages: stored %zu, dropped %zu\n"
           "Set store_messages: journal in the INI file to use the journal.\n",
           s.stored, s.dropped);
    return 0;
}

static int do_export(const sx_kit_paths *p)
{
    bool file = is_file(p->messages_log), dir = is_dir(p->messages_dir);
    if (file && dir)
        return both_present(p);
    if (file) {
        printf("%s file already exists.\n", p->messages_log);
        return 1;
    }
    if (!dir) {
        printf("%s directory does not exist.\n", p->messages_dir);
        return 1;
    }
    char w[2 * SX_KIT_PATH_MAX + 128];
    snprintf(w, sizeof w, "WARNING: journal directory %s will be exported to message log file %s", p->messages_dir,
             p->messages_log);
    if (!rcli_confirm(w, "Journal not exported"))
        return 1;
    loaded l;
    if (!load(p, &l))
        return 1;
    size_t saved = 0, bad = 0;
    sx_status res = sx_jmigrate_export(l.st, l.js, p->messages_log, &saved, &bad);
    unload(&l);
    if (res != SX_OK) {
        printf("Error: export failed (%s)\n", sx_status_str(res));
        return 1;
    }
    printf("Export completed\nMessages: saved %zu, unreadable %zu\n"
           "Set store_messages: memory in the INI file and remove the journal (`smp-server journal delete`) "
           "to use the memory store.\n",
           saved, bad);
    return 0;
}

static int do_delete(const sx_kit_paths *p)
{
    if (!is_dir(p->messages_dir)) {
        printf("%s directory does not exists.\n", p->messages_dir);
        return 1;
    }
    char w[SX_KIT_PATH_MAX + 128];
    snprintf(w, sizeof w, "WARNING: journal directory %s will be permanently deleted.\nTHIS CANNOT BE UNDONE!",
             p->messages_dir);
    if (!rcli_confirm(w, "Messages NOT deleted"))
        return 1;
    if (sx_jmigrate_delete(p->messages_dir) != SX_OK) {
        printf("Error: cannot delete %s\n", p->messages_dir);
        return 1;
    }
    printf("Deleted all messages in journal %s\n", p->messages_dir);
    return 0;
}

int smp_cmd_journal(const sx_kit_paths *paths, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    bool skip = argc > 2 && strcmp(argv[2], "--skip-warnings") == 0;
    if (argc > (skip ? 3 : 2)) {
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[skip ? 3 : 2]);
        return 1;
    }
    if (!is_file(paths->ini)) {
        printf("Error: %s does not exist; run `smp-server init` first.\n", paths->ini);
        return 1;
    }
    if (strcmp(sub, "import") == 0)
        return do_import(paths, skip);
    if (strcmp(sub, "export") == 0 && !skip)
        return do_export(paths);
    if (strcmp(sub, "delete") == 0 && !skip)
        return do_delete(paths);
    fprintf(stderr, "Usage: smp-server journal import [--skip-warnings] | export | delete\n");
    return 1;
}
