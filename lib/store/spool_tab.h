/*
 * spool_tab.h - an open-addressing hash index of uint32 values (indices
 * into the caller's arrays), used by the spool for ids, delivered ids and
 * node names.
 *
 * Owns its two slot arrays; the keys live in the caller's records and are
 * compared through a callback. Linear probing, load <= 1/2, deletion by
 * backward shift (no tombstones), growth by rehashing the stored hashes.
 * Not thread-safe (owned by one spool, one thread at a time).
 */
#ifndef LG_SPOOL_TAB_H
#define LG_SPOOL_TAB_H

#include <stdint.h>

#define SPOOL_TAB_NONE UINT32_MAX

typedef struct spool_tab {
    uint32_t *val;              /* value + 1 per slot, 0 = empty */
    uint32_t *hash;             /* the value's hash, for probing/rehash */
    uint32_t cap;               /* slots, a power of two (or 0) */
    uint32_t n;                 /* values stored */
} spool_tab;

/* Does value v have this key? */
typedef int (*spool_tab_eq)(const void *ctx, uint32_t v, const void *key);

uint32_t spool_tab_find(const spool_tab *t, uint32_t h, spool_tab_eq eq,
                        const void *ctx, const void *key);
/* Add v (not already present) under hash h: 0 or -ENOMEM. */
int spool_tab_add(spool_tab *t, uint32_t h, uint32_t v);
/* Remove value v stored under hash h (no-op if absent). */
void spool_tab_del(spool_tab *t, uint32_t h, uint32_t v);
void spool_tab_free(spool_tab *t);

/* Hashes: ids (16 bytes) and NUL-terminated names, with a per-spool seed
 * so that chosen ids cannot force collisions. */
uint32_t spool_tab_hash_id(uint64_t seed, const uint8_t id[16]);
uint32_t spool_tab_hash_str(uint64_t seed, const char *s);

#endif
