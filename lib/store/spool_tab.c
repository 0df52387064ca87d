/*
 * spool_tab.c - open-addressing index for the spool (see spool_tab.h).
 * Owns the slot arrays of each table; not thread-safe.
 */
#include "spool_tab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint32_t spool_tab_hash_id(uint64_t seed, const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    return (uint32_t)mix64(mix64(a ^ seed) ^ b);
}

uint32_t spool_tab_hash_str(uint64_t seed, const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (uint32_t)mix64(h);
}

uint32_t spool_tab_find(const spool_tab *t, uint32_t h, spool_tab_eq eq,
                        const void *ctx, const void *key)
{
    if (!t->cap)
        return SPOOL_TAB_NONE;
    uint32_t mask = t->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        if (!t->val[i])
            return SPOOL_TAB_NONE;
        if (t->hash[i] == h && eq(ctx, t->val[i] - 1, key))
            return t->val[i] - 1;
    }
}

static void put_slot(uint32_t *val, uint32_t *hash, uint32_t mask,
                     uint32_t h, uint32_t v1)
{
    uint32_t i = h & mask;
    while (val[i])
        i = (i + 1) & mask;
    val[i] = v1;
    hash[i] = h;
}

static int grow(spool_tab *t)
{
    uint32_t ncap = t->cap ? t->cap * 2 : 64;
    if (ncap < t->cap)
        return -ENOMEM;
    uint32_t *nv = calloc(ncap, sizeof *nv);
    uint32_t *nh = calloc(ncap, sizeof *nh);
    if (!nv || !nh) {
        free(nv);
        free(nh);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->val[i])
            put_slot(nv, nh, ncap - 1, t->hash[i], t->val[i]);
    free(t->val);
    free(t->hash);
    t->val = nv;
    t->hash = nh;
    t->cap = ncap;
    return 0;
}

int spool_tab_add(spool_tab *t, uint32_t h, uint32_t v)
{
    if ((t->n + 1) * 2 > t->cap) {
        int rc = grow(t);
        if (rc)
            return rc;
    }
    put_slot(t->val, t->hash, t->cap - 1, h, v + 1);
    t->n++;
    return 0;
}

void spool_tab_del(spool_tab *t, uint32_t h, uint32_t v)
{
    if (!t->cap)
        return;
    uint32_t mask = t->cap - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        if (!t->val[i])
            return;
        if (t->val[i] == v + 1)
            break;
    }
    /* Backward shift: pull later members of the probe run into the hole
     * unless their home slot lies cyclically in (hole, j]. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; t->val[j]; j = (j + 1) & mask) {
        uint32_t home = t->hash[j] & mask;
        int stays = hole <= j ? (home > hole && home <= j)
                              : (home > hole || home <= j);
        if (stays)
            continue;
        t->val[hole] = t->val[j];
        t->hash[hole] = t->hash[j];
        hole = j;
    }
    t->val[hole] = 0;
    t->n--;
}

void spool_tab_free(spool_tab *t)
{
    free(t->val);
    free(t->hash);
    memset(t, 0, sizeof *t);
}
