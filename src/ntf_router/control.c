/* The NTF router's counters and control port (see control.h). */
#include "ntf_router/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kit/ctlline.h"
#include "kit/ctlport.h"

struct sx_ntf_control {
    sx_ntf_control_opts o;
    char *user_pw, *admin_pw; /* copies: the kit borrows them */
    sx_kit_ctl *ctl;
    int64_t started;
};

static sx_ntf_control *of(sx_kit_ctl_conn *c)
{
    return sx_kit_ctl_arg(c);
}

static void cmd_stats(sx_kit_ctl_conn *c)
{
    sx_ntf_stats *s = of(c)->o.stats;
    time_t t = (time_t)(s ? sx_ntf_stats_from_time(s) : 0);
    struct tm tm;
    char when[64] = "";
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    sx_kit_ctl_say(c, "fromTime: %s", when);
    /* the reference's list: all but ntfReceivedAuth */
    for (int k = 0; k < SX_NTF_STAT_COUNT; k++)
        if (k != SX_NTF_STAT_NTF_RECEIVED_AUTH)
            sx_kit_ctl_say(c, "%s: %llu", sx_ntf_stat_name((sx_ntf_stat)k),
                           (unsigned long long)sx_ntf_stats_get(s, (sx_ntf_stat)k));
    size_t tokens = 0, subs = 0;
    if (s)
        sx_ntf_stats_daily_active(s, &tokens, &subs);
    sx_kit_ctl_say(c, "daily active tokens: %zu", tokens);
    sx_kit_ctl_say(c, "daily active subscriptions: %zu", subs);
}

static bool proc_status(const char *key, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return false;
    char line[256];
    size_t kl = strlen(key);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            char *v = line + kl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, cap, "%s", v);
            found = true;
        }
    fclose(f);
    return found;
}

static void cmd_stats_rts(sx_kit_ctl_conn *c)
{
    sx_kit_ctl_say(c, "uptime: %lld s", (long long)((int64_t)time(NULL) - of(c)->started));
    static const char *const mem[] = {"Threads", "VmRSS", "VmHWM", "VmSize"};
    char v[128];
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
        if (proc_status(mem[i], v, sizeof v))
            sx_kit_ctl_say(c, "%s: %s", mem[i], v);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        sx_kit_ctl_say(c, "cpu user: %ld.%03ld s", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec / 1000);
        sx_kit_ctl_say(c, "cpu system: %ld.%03ld s", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec / 1000);
    }
}

/* The own routers' count, their hosts (admin only) and the others' count. */
static void say_servers(sx_kit_ctl_conn *c, const sx_ntf_ctl_info *i, sx_ntf_gauge_group g, const char *name,
                        const sx_ntf_gauge_split *sp)
{
    sx_kit_ctl_say(c, "%s own servers count: %lld", name, (long long)sp->own_entries);
    if (sx_kit_ctl_role_of(c) == SX_KIT_CTL_ADMIN) {
        char list[1024];
        size_t n = 0, k = 0;
        const char *h;
        int64_t v;
        list[0] = 0;
        while (sx_ntf_gauge_own_next(i->routers, i->n_routers, g, &k, &h, &v) && n < sizeof list) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", n ? "," : "", h);
            n += w > 0 ? (size_t)w : 0;
        }
        sx_kit_ctl_say(c, "%s own servers: %s", name, list);
    }
    sx_kit_ctl_say(c, "%s other servers count: %lld", name, (long long)sp->other_servers);
}

static void say_workers(sx_kit_ctl_conn *c, const sx_ntf_ctl_info *i, sx_ntf_gauge_group g, const char *name)
{
    sx_ntf_gauge_split sp;
    sx_ntf_gauge_split_of(i->routers, i->n_routers, g, &sp);
    say_servers(c, i, g, name, &sp);
}

static void say_subs(sx_kit_ctl_conn *c, const sx_ntf_ctl_info *i, sx_ntf_gauge_group g, const char *name)
{
    sx_ntf_gauge_split sp;
    sx_ntf_gauge_split_of(i->routers, i->n_routers, g, &sp);
    say_servers(c, i, g, name, &sp);
    sx_kit_ctl_say(c, "%s total: %lld", name, (long long)(sp.own_count + sp.other_count));
    sx_kit_ctl_say(c, "%s on own servers: %lld", name, (long long)sp.own_count);
    if (sx_kit_ctl_role_of(c) == SX_KIT_CTL_ADMIN) {
        size_t k = 0;
        const char *h;
        int64_t v;
        while (sx_ntf_gauge_own_next(i->routers, i->n_routers, g, &k, &h, &v))
            sx_kit_ctl_say(c, "%s on %s: %lld", name, h, (long long)v);
    }
    sx_kit_ctl_say(c, "%s on other servers: %lld", name, (long long)sp.other_count);
}

/* The reference's lines and their order (its "subcscribers" included). */
static void cmd_server_info(sx_kit_ctl_conn *c)
{
    sx_ntf_control *x = of(c);
    sx_ntf_ctl_info i = {0};
    if (x->o.info)
        x->o.info(x->o.info_arg, &i);
    char v[64];
    if (proc_status("Threads", v, sizeof v))
        sx_kit_ctl_say(c, "Threads: %s", v);
    say_workers(c, &i, SX_NTF_G_SUBSCRIBERS, "SMP subcscribers");
    say_workers(c, &i, SX_NTF_G_CLIENTS, "SMP clients");
    say_workers(c, &i, SX_NTF_G_SUB_WORKERS, "SMP subscription workers");
    sx_kit_ctl_say(c, "SMP sessions count: %llu", (unsigned long long)i.smp_sessions);
    say_subs(c, &i, SX_NTF_G_SERVICE_ACTIVE, "SMP service subscriptions");
    say_subs(c, &i, SX_NTF_G_QUEUE_ACTIVE, "SMP queue subscriptions");
    say_subs(c, &i, SX_NTF_G_SERVICE_PENDING, "Pending SMP service subscriptions");
    say_subs(c, &i, SX_NTF_G_QUEUE_PENDING, "Pending SMP queue subscriptions");
    sx_kit_ctl_say(c, "Push notifications queue length: %llu", (unsigned long long)i.push_queue);
    free(i.routers);
}

static void cmd_help(sx_kit_ctl_conn *c)
{
    sx_kit_ctl_say(c, "commands: stats, stats-rts, server-info, help, quit");
}

/* The reference's grammar: a word, "auth" with its argument; the role
 * each needs as the reference checks it (stats: user; server-info: any
 * role; stats-rts, help, quit: none). */
static const struct {
    const char *word;
    sx_kit_ctl_role role;
    void (*run)(sx_kit_ctl_conn *c);
    bool logged;
} cmds[] = {
    {"stats", SX_KIT_CTL_USER, cmd_stats, true},
    {"stats-rts", SX_KIT_CTL_NONE, cmd_stats_rts, true},
    {"server-info", SX_KIT_CTL_USER, cmd_server_info, true},
    {"help", SX_KIT_CTL_NONE, cmd_help, false},
    {"quit", SX_KIT_CTL_NONE, sx_kit_ctl_quit, false},
    {"", SX_KIT_CTL_NONE, NULL, false},
};

static void run_line(void *arg, sx_kit_ctl_conn *c, const char *s, size_t len)
{
    (void)arg;
    sx_kit_line l;
    sx_kit_line_init(&l, s, len);
    sx_slice w = sx_kit_line_word(&l);
    if (sx_kit_line_word_is(w, "auth")) {
        sx_slice pw;
        const char *err = sx_kit_line_auth_arg(&l, &pw);
        if (!err && !sx_kit_line_at_end(&l))
            err = "endOfInput";
        if (err)
            sx_kit_ctl_say(c, "error: %s", err);
        else
            sx_kit_ctl_auth(c, pw);
        return;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (!sx_kit_line_word_is(w, cmds[i].word))
            continue;
        if (!sx_kit_line_at_end(&l)) {
            sx_kit_ctl_say(c, "error: endOfInput");
            return;
        }
        if (cmds[i].logged)
            sx_kit_ctl_log(c, s, len);
        if (sx_kit_ctl_allow(c, cmds[i].role) && cmds[i].run)
            cmds[i].run(c);
        return;
    }
    sx_kit_ctl_say(c, "error: Failed reading: bad ControlProtocol command");
}

sx_status sx_ntf_control_start(const sx_ntf_control_opts *o, sx_ntf_control **out)
{
    SX_ENSURE(o != NULL && out != NULL, SX_E_USAGE);
    *out = NULL;
    sx_ntf_control *x = calloc(1, sizeof *x);
    SX_ENSURE(x != NULL, SX_E_NOMEM);
    x->o = *o;
    x->started = (int64_t)time(NULL);
    x->user_pw = o->user_password ? strdup(o->user_password) : NULL;
    x->admin_pw = o->admin_password ? strdup(o->admin_password) : NULL;
    if ((o->user_password && !x->user_pw) || (o->admin_password && !x->admin_pw)) {
        free(x->user_pw);
        free(x->admin_pw);
        free(x);
        return SX_E_NOMEM;
    }
    sx_kit_ctl_opts ko = {
        .greeting = "Ntf server control port",
        .port = o->port,
        .user_password = x->user_pw,
        .admin_password = x->admin_pw,
        .on_line = run_line,
        .arg = x,
    };
    sx_status st = sx_kit_ctl_start(&ko, &x->ctl);
    if (st != SX_OK) {
        free(x->user_pw);
        free(x->admin_pw);
        free(x);
        return st;
    }
    *out = x;
    return SX_OK;
}

uint16_t sx_ntf_control_port(const sx_ntf_control *c)
{
    return c ? sx_kit_ctl_port(c->ctl) : 0;
}

void sx_ntf_control_stop(sx_ntf_control *c)
{
    if (!c)
        return;
    sx_kit_ctl_stop(c->ctl);
    free(c->user_pw);
    free(c->admin_pw);
    free(c);
}
