/*
 * spool_index.c - the spool's in-memory index: live entries (by id),
 * interned node names with one send queue per (destination, priority),
 * and the table of segment files with their live counts.
 *
 * Owns the entry, name and segment arrays. Queues are doubly linked lists
 * kept in (created, seq) order; an insert walks back from the tail, which
 * is O(1) for bundles that arrive in creation order (recovery sorts first,
 * then appends). Not thread-safe: one spool, one thread at a time.
 */
#include "spool_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t spool_expiry(uint64_t created, uint64_t lifetime)
{
    return lifetime > UINT64_MAX - created ? UINT64_MAX : created + lifetime;
}

uint64_t spool_ix_stored(const sp_ent *e)
{
    return e->hdr_len + e->size;
}

uint64_t spool_ix_padded(const sp_ent *e)
{
    return (spool_ix_stored(e) + 7) & ~(uint64_t)7;
}

static int ent_eq(const void *ctx, uint32_t v, const void *key)
{
    const spool *sp = ctx;
    return memcmp(sp->ents[v].id, key, SPOOL_ID_LEN) == 0;
}

sp_ent *spool_ix_find(spool *sp, const uint8_t id[SPOOL_ID_LEN])
{
    uint32_t v = spool_tab_find(&sp->ids, spool_tab_hash_id(sp->seed, id),
                                ent_eq, sp, id);
    return v == SPOOL_TAB_NONE ? NULL : &sp->ents[v];
}

/* ---------------------------------------------------------------- names */

static int name_eq(const void *ctx, uint32_t v, const void *key)
{
    const spool *sp = ctx;
    return strcmp(sp->names[v].s, key) == 0;
}

uint32_t spool_ix_name_find(spool *sp, const char *s)
{
    uint32_t v = spool_tab_find(&sp->name_ix, spool_tab_hash_str(sp->seed, s),
                                name_eq, sp, s);
    return v == SPOOL_TAB_NONE ? SP_NIL : v;
}

static uint32_t name_get(spool *sp, const char *s)
{
    uint32_t h = spool_tab_hash_str(sp->seed, s);
    uint32_t v = spool_tab_find(&sp->name_ix, h, name_eq, sp, s);
    sp_name *n;
    if (v != SPOOL_TAB_NONE) {
        sp->names[v].refs++;
        return v;
    }
    if (sp->name_free == SP_NIL) {
        uint32_t ncap = sp->nnames ? sp->nnames * 2 : 16;
        sp_name *nn = realloc(sp->names, (size_t)ncap * sizeof *nn);
        if (!nn)
            return SP_NIL;
        sp->names = nn;
        for (uint32_t i = ncap; i-- > sp->nnames;) {
            nn[i].refs = 0;
            nn[i].queued = sp->name_free;  /* free list link while unused */
            sp->name_free = i;
        }
        sp->nnames = ncap;
    }
    v = sp->name_free;
    n = &sp->names[v];
    if (spool_tab_add(&sp->name_ix, h, v))
        return SP_NIL;
    sp->name_free = n->queued;
    memset(n, 0, sizeof *n);
    strcpy(n->s, s);                   /* checked < SPOOL_NAME_MAX */
    n->hash = h;
    n->refs = 1;
    for (int p = 0; p < SP_NPRIO; p++)
        n->head[p] = n->tail[p] = SP_NIL;
    return v;
}

static void name_put(spool *sp, uint32_t v)
{
    sp_name *n = &sp->names[v];
    if (--n->refs)
        return;
    spool_tab_del(&sp->name_ix, n->hash, v);
    n->queued = sp->name_free;
    sp->name_free = v;
}

/* -------------------------------------------------------------- entries */

uint32_t spool_ix_add(spool *sp, const spool_hdr *h, uint32_t seg,
                      uint64_t off)
{
    uint32_t ei, src, dst;
    sp_ent *e;
    if (sp->free_head == SP_NIL) {
        uint32_t ncap = sp->nents ? sp->nents * 2 : 64;
        sp_ent *ne;
        if (ncap <= sp->nents)
            return SP_NIL;
        ne = realloc(sp->ents, (size_t)ncap * sizeof *ne);
        if (!ne)
            return SP_NIL;
        sp->ents = ne;
        for (uint32_t i = ncap; i-- > sp->nents;) {
            ne[i].flags = 0;
            ne[i].next = sp->free_head;
            sp->free_head = i;
        }
        sp->nents = ncap;
    }
    src = name_get(sp, h->src);
    if (src == SP_NIL)
        return SP_NIL;
    dst = name_get(sp, h->dst);
    if (dst == SP_NIL) {
        name_put(sp, src);
        return SP_NIL;
    }
    ei = sp->free_head;
    if (spool_tab_add(&sp->ids, spool_tab_hash_id(sp->seed, h->id), ei)) {
        name_put(sp, src);
        name_put(sp, dst);
        return SP_NIL;
    }
    e = &sp->ents[ei];
    sp->free_head = e->next;
    memset(e, 0, sizeof *e);
    memcpy(e->id, h->id, SPOOL_ID_LEN);
    e->seq = h->seq;
    e->created = h->created;
    e->lifetime = h->lifetime;
    e->size = h->payload_len;
    e->off = off;
    e->seg = seg;
    e->hdr_len = h->hdr_len;
    e->crc = h->crc;
    e->src = src;
    e->dst = dst;
    e->prev = e->next = SP_NIL;
    e->kind = h->kind;
    e->prio = h->priority;
    memcpy(e->job, h->job, sizeof e->job);
    e->job_epoch = h->job_epoch;
    e->flags = SP_E_LIVE;
    sp->count++;
    sp->bytes += spool_ix_stored(e);
    if (h->seq >= sp->next_seq)
        sp->next_seq = h->seq + 1;
    if (seg) {
        sp_seg *s = spool_seg_find(sp, seg);
        s->live++;
        s->live_bytes += spool_ix_padded(e);
    }
    return ei;
}

static int before(const sp_ent *a, const sp_ent *b)
{
    return a->created != b->created ? a->created < b->created
                                    : a->seq < b->seq;
}

void spool_ix_queue(spool *sp, uint32_t ei)
{
    sp_ent *e = &sp->ents[ei];
    sp_name *n = &sp->names[e->dst];
    uint32_t at = n->tail[e->prio];    /* insert after this one */
    while (at != SP_NIL && before(e, &sp->ents[at]))
        at = sp->ents[at].prev;
    e->prev = at;
    if (at == SP_NIL) {
        e->next = n->head[e->prio];
        n->head[e->prio] = ei;
    } else {
        e->next = sp->ents[at].next;
        sp->ents[at].next = ei;
    }
    if (e->next == SP_NIL)
        n->tail[e->prio] = ei;
    else
        sp->ents[e->next].prev = ei;
    n->queued++;
}

void spool_ix_remove(spool *sp, uint32_t ei)
{
    sp_ent *e = &sp->ents[ei];
    sp_name *n = &sp->names[e->dst];
    /* Queued iff linked or the head: recovery removes some entries
     * before queueing them. */
    if (e->prev != SP_NIL || n->head[e->prio] == ei) {
        if (e->prev == SP_NIL)
            n->head[e->prio] = e->next;
        else
            sp->ents[e->prev].next = e->next;
        if (e->next == SP_NIL)
            n->tail[e->prio] = e->prev;
        else
            sp->ents[e->next].prev = e->prev;
        n->queued--;
    }
    spool_tab_del(&sp->ids, spool_tab_hash_id(sp->seed, e->id), ei);
    name_put(sp, e->src);
    name_put(sp, e->dst);
    sp->count--;
    sp->bytes -= spool_ix_stored(e);
    if (e->flags & SP_E_INFLIGHT)
        sp->inflight--;
    if (e->seg) {
        sp_seg *s = spool_seg_find(sp, e->seg);
        if (s) {
            s->live--;
            s->live_bytes -= spool_ix_padded(e);
            if (!s->live)
                sp->reap = 1;
        }
    }
    e->flags = 0;
    e->next = sp->free_head;
    sp->free_head = ei;
}

void spool_ix_meta(const spool *sp, const sp_ent *e, spool_meta *m)
{
    memset(m, 0, sizeof *m);
    memcpy(m->id, e->id, SPOOL_ID_LEN);
    strcpy(m->src, sp->names[e->src].s);
    strcpy(m->dst, sp->names[e->dst].s);
    m->priority = e->prio;
    m->kind = e->kind;
    m->created_unix_ms = e->created;
    m->lifetime_ms = e->lifetime;
    m->size = e->size;
    memcpy(m->job, e->job, sizeof m->job);
    m->job_epoch = e->job_epoch;
    m->progress = e->progress;
    m->seq = e->seq;
    m->inflight = (e->flags & SP_E_INFLIGHT) != 0;
}

/* ------------------------------------------------------------- segments */

static uint32_t seg_pos(const spool *sp, uint32_t no)
{
    uint32_t lo = 0, hi = sp->nsegs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sp->segs[mid].no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

sp_seg *spool_seg_find(spool *sp, uint32_t no)
{
    uint32_t i = seg_pos(sp, no);
    return i < sp->nsegs && sp->segs[i].no == no ? &sp->segs[i] : NULL;
}

sp_seg *spool_seg_add(spool *sp, uint32_t no)
{
    uint32_t i = seg_pos(sp, no);
    if (i < sp->nsegs && sp->segs[i].no == no)
        return &sp->segs[i];
    if (sp->nsegs == sp->segs_cap) {
        uint32_t ncap = sp->segs_cap ? sp->segs_cap * 2 : 16;
        sp_seg *ns = realloc(sp->segs, (size_t)ncap * sizeof *ns);
        if (!ns)
            return NULL;
        sp->segs = ns;
        sp->segs_cap = ncap;
    }
    memmove(&sp->segs[i + 1], &sp->segs[i],
            (size_t)(sp->nsegs - i) * sizeof *sp->segs);
    memset(&sp->segs[i], 0, sizeof *sp->segs);
    sp->segs[i].no = no;
    sp->nsegs++;
    if (no >= sp->next_seg)
        sp->next_seg = no + 1;
    return &sp->segs[i];
}

void spool_seg_del(spool *sp, uint32_t no)
{
    uint32_t i = seg_pos(sp, no);
    if (i < sp->nsegs && sp->segs[i].no == no) {
        memmove(&sp->segs[i], &sp->segs[i + 1],
                (size_t)(sp->nsegs - i - 1) * sizeof *sp->segs);
        sp->nsegs--;
    }
}

void spool_ix_free(spool *sp)
{
    free(sp->ents);
    free(sp->names);
    free(sp->segs);
    spool_tab_free(&sp->ids);
    spool_tab_free(&sp->name_ix);
    sp->ents = NULL;
    sp->names = NULL;
    sp->segs = NULL;
}
