/*
 * control.h - lagranged's local control socket: a unix-domain stream
 * socket that answers one-line commands with JSON lines.
 *
 * Owns the listening socket, its file and the client connections. What
 * the commands do is not its business: the caller passes a table of
 * control_cmd, so that the gRPC API (DESIGN.md, "API") can later take
 * over the same table and this module can go. The protocol, for
 * lagrange(1) and for scripts (socat, nc -U):
 *
 *   request:  one line, "COMMAND [ARGS]\n" (at most CONTROL_MAX_LINE bytes)
 *   response: zero or more lines, each one JSON object, then an empty line
 *
 * A failed command answers {"error":"..."}; so does a request line
 * longer than CONTROL_MAX_LINE, which is skipped. Requests are answered
 * in order; the server closes the connection after the client's EOF once
 * every answer is written. Line "help" lists the commands.
 *
 * Every buffer is bounded: a request line, a response (CONTROL_MAX_RESPONSE,
 * beyond which the response becomes an error), the bytes queued to a slow
 * client (reading from it pauses above CONTROL_MAX_QUEUED) and the number
 * of clients.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_CONTROL_H
#define LG_DAEMON_CONTROL_H

#include <stddef.h>
#include <uv.h>

#define CONTROL_MAX_LINE 4096            /* request line, with newline */
#define CONTROL_MAX_RESPONSE (16u << 20) /* one response, bytes */
#define CONTROL_MAX_QUEUED (4u << 20)    /* unsent bytes per client */
#define CONTROL_MAX_CONNS 64             /* clients at once */

typedef struct control control;
typedef struct control_out control_out;  /* a response being built */

/* Write the response to a command into out (control_printf and friends).
 * args is the rest of the line, trimmed ("" if none). Return 0, or a
 * negative code after control_error. */
typedef int (*control_fn)(void *ctx, const char *args, control_out *out);

typedef struct control_cmd {
    const char *name;            /* first word of the request line */
    const char *help;            /* one line, for "help" */
    control_fn fn;
} control_cmd;

/* Listen on path: create its directory if missing (mode 0755), remove a
 * stale socket left by a dead daemon (but refuse, with -EADDRINUSE, if a
 * live one answers there, and with -EEXIST if path is not a socket), and
 * bind with mode 0660. cmds ends with a { NULL } entry and, like ctx,
 * must outlive the control. Returns 0 or a negative libuv / errno code
 * with the detail in err. */
int control_open(uv_loop_t *loop, const char *path, const control_cmd *cmds,
                 void *ctx, control **out, char *err, size_t errlen);

/* Stop listening, close every client, remove the socket file. Idempotent;
 * the memory goes with the last handle's close callback, after which c
 * must not be used. */
void control_close(control *c);

/* Clients connected now. */
int control_clients(const control *c);

/*
 * Answering later (a command that waits for the network, like ping):
 * inside its control_fn a command calls control_defer(o), keeps the
 * control_later and returns CONTROL_DEFER. It then writes the response
 * through control_later_out() and sends it with control_later_done(),
 * which also frees the control_later. Until then that client's later
 * requests wait, so answers stay in order. If the client goes away first,
 * control_later_alive() turns 0 and done just frees. control_defer
 * returns NULL (answer now instead) when out of memory.
 */
#define CONTROL_DEFER 1
typedef struct control_later control_later;
control_later *control_defer(control_out *o);
control_out *control_later_out(control_later *l);
int control_later_alive(const control_later *l);
void control_later_done(control_later *l);

/* Append to a response. On reaching CONTROL_MAX_RESPONSE the response is
 * replaced by an error. */
void control_printf(control_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted and escaped. */
void control_json_str(control_out *o, const char *s);
/* x as a JSON number, null if not finite. */
void control_json_num(control_out *o, double x);
/* Replace the response with one {"error":"..."} line; returns -EINVAL. */
int control_error(control_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remove a unix socket file that no process listens on (left by a crash);
 * refuse to touch anything else: -EEXIST for a file that is not a socket,
 * -EADDRINUSE when a process answers there. Used for every listening
 * socket of the daemon. */
int control_clear_stale(const char *path, char *err, size_t errlen);

#endif
