/*
 * spool_fmt.h - the spool's on-disk records: the bundle entry header (see
 * spool.h for the byte layout) and the 40-byte delivered.log record.
 *
 * Owns encoding, decoding and checksum rules only; no I/O, no allocation.
 * Pure functions, thread-safe. Internal to lib/store (and its tests).
 */
#ifndef LG_SPOOL_FMT_H
#define LG_SPOOL_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

#define SPOOL_FMT_MAGIC 0x4253474cu   /* "LGSB" as little-endian bytes */
#define SPOOL_FMT_VERSION 1
#define SPOOL_FMT_FIXED 72            /* header bytes before the names */
#define SPOOL_FMT_HDR_MAX 224         /* 72 + 63 + 63 + 16 + 4, rounded
                                         up to 8 */
#define SPOOL_FMT_OFF_CRC 64
#define SPOOL_FMT_OFF_HCRC 68
#define SPOOL_FMT_OFF_PLEN 48

#define SPOOL_DLOG_MAGIC 0x4c44474cu  /* "LGDL" */
#define SPOOL_DLOG_REC 40             /* bytes per delivered.log record */
#define SPOOL_DLOG_DELETED 1          /* value = expiry (unix ms) */
#define SPOOL_DLOG_PROGRESS 2         /* value = sent offset */

/* A decoded (or to-be-encoded) entry header. */
typedef struct spool_hdr {
    uint8_t id[SPOOL_ID_LEN];
    uint64_t seq;               /* arrival number */
    uint64_t created;           /* unix ms */
    uint64_t lifetime;          /* ms */
    uint64_t payload_len;       /* bytes after the header */
    uint16_t kind;
    uint8_t priority;
    uint8_t src_len, dst_len;   /* without NUL */
    uint8_t job_len;            /* 0: no job tag (nor epoch) */
    char src[SPOOL_NAME_MAX];   /* NUL-terminated after decode */
    char dst[SPOOL_NAME_MAX];
    char job[SPOOL_JOB_MAX];    /* NUL-terminated after decode */
    uint32_t job_epoch;
    uint32_t hdr_len;           /* bytes of header, multiple of 8 */
    uint32_t crc;               /* header + payload */
} spool_hdr;

/* One delivered.log record. */
typedef struct spool_drec {
    uint8_t type;               /* SPOOL_DLOG_DELETED or _PROGRESS */
    uint8_t reason;             /* spool_reason for DELETED */
    uint8_t id[SPOOL_ID_LEN];
    uint64_t value;             /* expiry or offset */
} spool_drec;

/* 1..63 bytes, no control characters: returns the length or -1. */
int spool_fmt_name_len(const char *s);

/* Header length for these name and job tag lengths (a multiple of 8). */
uint32_t spool_fmt_hdr_len(unsigned src_len, unsigned dst_len,
                           unsigned job_len);

/* Encode h (names and lengths must be valid) into out, with both CRCs:
 * crc over header then payload (len h->payload_len). Sets h->hdr_len and
 * h->crc; returns hdr_len. */
uint32_t spool_fmt_encode(spool_hdr *h, const void *payload,
                          uint8_t out[SPOOL_FMT_HDR_MAX]);

/* Recompute hcrc of an encoded header in place (tests patch headers). */
void spool_fmt_reseal(uint8_t *hdr, uint32_t hdr_len);

/* Decode a header from buf[0..avail). Returns 0, -EAGAIN when avail is
 * too short to hold the header (torn if at end of file), or -EBADMSG with
 * the reason in why (bad magic, version, hcrc, names, lengths). Lengths
 * are decoded but the payload is not looked at. */
int spool_fmt_decode(const uint8_t *buf, size_t avail, spool_hdr *h,
                     char *why, size_t whylen);

/* CRC of the header with both crc fields taken as zero: the seed to
 * continue over the payload, to compare with h->crc at the end. */
uint32_t spool_fmt_crc_hdr(const uint8_t *hdr, uint32_t hdr_len);

/* delivered.log records. decode returns 0 or -EBADMSG. */
void spool_fmt_drec_encode(const spool_drec *r, uint8_t out[SPOOL_DLOG_REC]);
int spool_fmt_drec_decode(const uint8_t in[SPOOL_DLOG_REC], spool_drec *r);

/* Little-endian helpers. */
static inline void spool_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t spool_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline void spool_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t spool_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

#endif
