/* The one table of router errors for people: for each code an SMP or XFTP
 * router sends, what it means and what to do, by the step that got it.
 * The smp and xftp tools print these sentences through the library's
 * error detail (sx_error_message); programs can look codes up themselves. */
#include "simplex/status.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct entry {
    unsigned steps; /* bit (1 << step) for each step it applies to; 0: every step */
    sx_error_hint hint;
} entry;

#define S(x) (1u << (x))
#define SMP (S(SX_STEP_SMP) | S(SX_STEP_SMP_CREATE))
#define XFTP (S(SX_STEP_XFTP_SEND) | S(SX_STEP_XFTP_RECV) | S(SX_STEP_XFTP_DELETE))

/* The first entry that matches the code and the step is taken, so an entry
 * for one step comes before the one for every step. */
static const entry TABLE[] = {
    /* ---- SMP ---- */
    {S(SX_STEP_SMP_CREATE),
     {"AUTH", "the router refused to create a queue",
      "it needs a password in the server address (smp://fingerprint:password@host), or the one given is "
      "wrong, or it does not allow new queues"}},
    {SMP, {"AUTH", "the router refused it", "the queue does not exist, or the key is not the queue's key"}},
    {SMP, {"QUOTA", "the queue is full", "the recipient has to receive messages first"}},
    {SMP, {"LARGE_MSG", "the message is too large", "send a shorter one (at most about 16 kB)"}},
    {SMP, {"NO_MSG", "no message to acknowledge", ""}},
    {SMP, {"BLOCKED", "the queue is blocked by the router's operator", ""}},
    {SMP, {"CMD", "the router refused the command", ""}},
    {SMP, {"EXPIRED", "the router's answer came for a session that expired", "try again"}},
    {SMP, {"STORE", "the router could not use its storage", "try again later, or tell the router's operator"}},
    {SMP, {"SERVICE", "the router refused a service command", ""}},
    {SMP, {"CRYPTO", "the router could not decrypt the command", "try again"}},
    {SMP, {"PROXY", "the forwarding router could not pass the command on", "try again later"}},
    /* ---- XFTP ---- */
    {S(SX_STEP_XFTP_SEND),
     {"AUTH", "the router refused the upload",
      "it needs a password in the server address (xftp://fingerprint:password@host), or the one given is "
      "wrong, or it takes no new files"}},
    {S(SX_STEP_XFTP_RECV),
     {"AUTH", "the router does not have this file",
      "the description was used already (each one can be received once), or the sender deleted the file, "
      "or it expired"}},
    {S(SX_STEP_XFTP_DELETE), {"AUTH", "the router does not have this file", "it was deleted already, or it expired"}},
    {XFTP, {"BLOCKED", "the file was blocked by the router's operator", ""}},
    {XFTP,
     {"QUOTA", "the router has no room for the file",
      "send it through another router, or ask the router's operator for more storage"}},
    {S(SX_STEP_XFTP_SEND), {"SIZE", "the router does not take chunks of this size", ""}},
    {XFTP, {"SIZE", "a chunk is not of the size the description gives", "the description is damaged"}},
    {S(SX_STEP_XFTP_SEND), {"DIGEST", "the chunk arrived damaged at the router", "try again"}},
    {XFTP, {"DIGEST", "a chunk does not match its digest", "the router sent other data than was uploaded"}},
    {XFTP, {"CRYPTO", "a chunk could not be decrypted", "the description or the router's copy is damaged"}},
    {XFTP, {"NO_FILE", "the file is not on the router yet", "its upload did not finish"}},
    {XFTP, {"FILE_IO", "the router could not use its storage", "try again later, or tell the router's operator"}},
    {XFTP,
     {"TIMEOUT", "the router did not answer in time",
      "the network is slow or the router is busy; try again, or with more attempts"}},
    {XFTP, {"HAS_FILE", "the router has this chunk already", ""}},
    {XFTP,
     {"HANDSHAKE", "the XFTP handshake failed",
      "the server is not an XFTP router, or has no protocol version in common with this client"}},
    {XFTP, {"BLOCK", "the router's answer could not be read", "is it an XFTP router?"}},
    {XFTP, {"CMD", "the router did not take the command", "it may run a version this client does not work with"}},
    /* ---- both ---- */
    {0, {"INTERNAL", "the router failed", "try again later, or tell the router's operator"}},
    {0,
     {"HANDSHAKE", "the handshake failed",
      "the server is not a router of this protocol, or has no protocol version in common with this client"}},
    {0, {"SESSION", "the router answered for another session", "try again"}},
    {0, {"BLOCK", "the router's answer could not be read", "is it a router of this protocol?"}},
    {0, {"VERSION", "the router has no protocol version in common with this client", ""}},
};

/* code is entry's code, or starts with it and a space ("CMD SYNTAX") */
static bool same_code(const char *entry_code, const char *code)
{
    size_t n = strlen(entry_code);
    return strncmp(entry_code, code, n) == 0 && (code[n] == '\0' || code[n] == ' ');
}

const sx_error_hint *sx_error_hint_find(sx_error_step step, const char *code)
{
    if (!code || !code[0])
        return NULL;
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {
        const entry *e = &TABLE[i];
        bool in_step = e->steps == 0 || (step != SX_STEP_ANY && (e->steps & S(step)));
        if (in_step && same_code(e->hint.code, code))
            return &e->hint;
    }
    return NULL;
}

const char *sx_error_explain(sx_error_step step, const char *code, char *out, size_t cap)
{
    if (!out || cap == 0)
        return "";
    const sx_error_hint *h = sx_error_hint_find(step, code);
    if (!h)
        snprintf(out, cap, "the router answered %s", code && code[0] ? code : "an error");
    else if (h->next[0])
        snprintf(out, cap, "%s (%s): %s", h->cause, code, h->next);
    else
        snprintf(out, cap, "%s (%s)", h->cause, code);
    return out;
}
