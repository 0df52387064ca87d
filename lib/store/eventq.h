/*
 * eventq.h - the durable queue of webhook deliveries (EventDir=,
 * lagranged.conf(5)): one file per delivery, that is per (event,
 * webhook URL), kept until the receiver has taken it.
 *
 * Owns the directory's files and the in-memory index of them. A delivery
 * file is named ID-URLHASH.ev (ID: the event's 32 hex digits; URLHASH:
 * 16 hex digits of the URL's FNV-1a hash) and holds a small text header
 * and the JSON body:
 *
 *   lagrange-event 1
 *   id=0123456789abcdef0123456789abcdef
 *   event=job.completed
 *   url=https://hooks.example.com/lagrange
 *   created=1714564800123          first attempt due, Unix ms
 *   attempts=0                     attempts made and failed
 *   next=1714564800123             next attempt due, Unix ms
 *   length=312                     bytes of body
 *   crc32c=1a2b3c4d                of the body
 *   <empty line>
 *   <body: length bytes>
 *
 * Durability: eventq_add and eventq_reschedule write a new file under a
 * temporary name (.tmp-NAME), fsync it, rename it over NAME and fsync the
 * directory before they return, so a delivery that was added survives a
 * crash at any instant, whole (kill -9 leaves the old or the new file,
 * never a mix; a stray .tmp-* is removed at the next open). eventq_done
 * unlinks without syncing the directory: a crash right after it can only
 * bring the delivery back, and deliveries are at-least-once anyway (the
 * receiver dedups by id).
 *
 * Open reads every *.ev file: a file that does not parse (bad header,
 * wrong length or checksum, a name that does not match its id and URL)
 * is renamed NAME.bad and reported through the warn callback, never
 * fatal. The queue holds at most max deliveries: eventq_add refuses more
 * with -ENOSPC, the caller says which event was refused.
 *
 * Bodies stay on disk; memory holds the header of each delivery (about
 * 200 bytes plus its URL). eventq_body reads one when it is to be sent.
 *
 * No libuv; the caller serialises calls (lagranged: the loop thread).
 */
#ifndef LG_STORE_EVENTQ_H
#define LG_STORE_EVENTQ_H

#include <stddef.h>
#include <stdint.h>

#define EVENTQ_ID_LEN 32             /* hex digits of an event id */
#define EVENTQ_EVENT_MAX 32          /* event name, incl. NUL */
#define EVENTQ_URL_MAX 2048          /* URL, incl. NUL */
#define EVENTQ_BODY_MAX (64u << 10)  /* bytes of one body */
#define EVENTQ_NAME_MAX 64           /* file name, incl. NUL */
#define EVENTQ_DEF_MAX 100000u       /* deliveries held */

typedef struct eventq eventq;

typedef struct eventq_item {
    char name[EVENTQ_NAME_MAX];      /* its file in the directory */
    char id[EVENTQ_ID_LEN + 1];
    char event[EVENTQ_EVENT_MAX];
    char *url;
    uint64_t created_ms;             /* when it was added, Unix ms */
    uint64_t next_ms;                /* next attempt due, Unix ms */
    uint32_t attempts;               /* attempts made (and failed) */
    size_t body_len;
    uint32_t crc;
    int busy;                        /* the caller's: an attempt in flight */
    int slot;                        /* its index in the queue (private) */
} eventq_item;

/* Called for each file set aside (and each that could not be), with a
 * message naming it and why. */
typedef void (*eventq_warn_fn)(void *arg, const char *msg);

/* Open (creating) dir and load its deliveries. max: at most that many
 * held (0: EVENTQ_DEF_MAX). -errno with "EventDir DIR: why" in err. */
int eventq_open(const char *dir, uint32_t max, eventq_warn_fn warn,
                void *warn_arg, eventq **out, char *err, size_t errlen);
void eventq_close(eventq *q);

/* Add one delivery, durably (see above) before returning. id: 32 lowercase
 * hex digits; event: 1-31 characters of [a-z0-9._-]; url: 1 to
 * EVENTQ_URL_MAX - 1 bytes without control characters; body at most
 * EVENTQ_BODY_MAX bytes. Its first attempt is due at now_ms. -ENOSPC when
 * the queue is full, -EEXIST when this (id, url) is already held,
 * -EINVAL for bad arguments, -errno from the file system; err says
 * which. *out (if out) points at the item, valid until it is done. */
int eventq_add(eventq *q, const char *id, const char *event,
               const char *url, const char *body, size_t len,
               uint64_t now_ms, eventq_item **out, char *err,
               size_t errlen);

/* The deliveries held, in no particular order: items[0..n). Valid until
 * the next add, done or close. */
int eventq_count(const eventq *q);
eventq_item *eventq_get(eventq *q, int i);

/* Read its body into a new buffer (malloc'd, NUL-terminated; *len
 * without the NUL). The file is checked against the header (length,
 * crc32c); LG_EMODEL if it changed. */
int eventq_body(eventq *q, const eventq_item *it, char **body,
                size_t *len, char *err, size_t errlen);

/* An attempt failed: attempts and next_ms written durably (the file is
 * rewritten whole). When the write fails the old file stands (a restart
 * retries at once) and the item in memory has the new values anyway. */
int eventq_reschedule(eventq *q, eventq_item *it, uint32_t attempts,
                      uint64_t next_ms, char *err, size_t errlen);

/* Delivered, or given up: the file is removed and the item freed. */
int eventq_done(eventq *q, eventq_item *it, char *err, size_t errlen);

/* The file name for (id, url): "ID-URLHASH.ev". */
void eventq_name(const char *id, const char *url, char *buf, size_t len);

#endif
