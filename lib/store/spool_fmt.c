/*
 * spool_fmt.c - encoding and checking of the spool's on-disk records.
 * Owns nothing; pure functions, thread-safe. Every length in a header is
 * checked here against the fixed bounds (names < 64, header <= 200 bytes)
 * after the header CRC passes; the payload length is the caller's to check
 * against its limits and the bytes on disk.
 */
#include "spool_fmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "lgerr.h"

int spool_fmt_name_len(const char *s)
{
    int n = 0;
    if (!s)
        return -1;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= SPOOL_NAME_MAX - 1 || c < 0x20 || c == 0x7f)
            return -1;
    }
    return n > 0 ? n : -1;
}

uint32_t spool_fmt_hdr_len(unsigned src_len, unsigned dst_len,
                           unsigned job_len)
{
    unsigned job = job_len ? job_len + 4u : 0u;
    return (SPOOL_FMT_FIXED + src_len + dst_len + job + 7u) & ~7u;
}

uint32_t spool_fmt_crc_hdr(const uint8_t *hdr, uint32_t hdr_len)
{
    static const uint8_t zero[8];
    uint32_t c = crc32c(0, hdr, SPOOL_FMT_OFF_CRC);
    c = crc32c(c, zero, 8);
    return crc32c(c, hdr + SPOOL_FMT_FIXED, hdr_len - SPOOL_FMT_FIXED);
}

static uint32_t hcrc_of(const uint8_t *hdr, uint32_t hdr_len)
{
    static const uint8_t zero[4];
    uint32_t c = crc32c(0, hdr, SPOOL_FMT_OFF_HCRC);
    c = crc32c(c, zero, 4);
    return crc32c(c, hdr + SPOOL_FMT_FIXED, hdr_len - SPOOL_FMT_FIXED);
}

void spool_fmt_reseal(uint8_t *hdr, uint32_t hdr_len)
{
    spool_put32(hdr + SPOOL_FMT_OFF_HCRC, hcrc_of(hdr, hdr_len));
}

uint32_t spool_fmt_encode(spool_hdr *h, const void *payload,
                          uint8_t out[SPOOL_FMT_HDR_MAX])
{
    uint32_t len = spool_fmt_hdr_len(h->src_len, h->dst_len, h->job_len);
    uint8_t *jp = out + SPOOL_FMT_FIXED + h->src_len + h->dst_len;
    memset(out, 0, len);
    spool_put32(out, SPOOL_FMT_MAGIC);
    out[4] = SPOOL_FMT_VERSION;
    out[5] = 0;
    out[6] = (uint8_t)len;
    out[7] = (uint8_t)(len >> 8);
    memcpy(out + 8, h->id, SPOOL_ID_LEN);
    spool_put64(out + 24, h->seq);
    spool_put64(out + 32, h->created);
    spool_put64(out + 40, h->lifetime);
    spool_put64(out + SPOOL_FMT_OFF_PLEN, h->payload_len);
    out[56] = (uint8_t)h->kind;
    out[57] = (uint8_t)(h->kind >> 8);
    out[58] = h->priority;
    out[59] = h->src_len;
    out[60] = h->dst_len;
    out[62] = h->job_len;
    memcpy(out + SPOOL_FMT_FIXED, h->src, h->src_len);
    memcpy(out + SPOOL_FMT_FIXED + h->src_len, h->dst, h->dst_len);
    if (h->job_len) {
        memcpy(jp, h->job, h->job_len);
        spool_put32(jp + h->job_len, h->job_epoch);
    }
    h->hdr_len = len;
    h->crc = crc32c(spool_fmt_crc_hdr(out, len), payload,
                    (size_t)h->payload_len);
    spool_put32(out + SPOOL_FMT_OFF_CRC, h->crc);
    spool_fmt_reseal(out, len);
    return len;
}

static int name_ok(const uint8_t *p, unsigned n)
{
    if (n == 0 || n >= SPOOL_NAME_MAX)
        return 0;
    for (unsigned i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

int spool_fmt_decode(const uint8_t *buf, size_t avail, spool_hdr *h,
                     char *why, size_t whylen)
{
    uint32_t len;
    if (avail < 8)
        return -EAGAIN;
    if (spool_get32(buf) != SPOOL_FMT_MAGIC)
        return lg_errf(why, whylen, -EBADMSG, "bad magic");
    if (buf[4] != SPOOL_FMT_VERSION || buf[5] != 0)
        return lg_errf(why, whylen, -EBADMSG, "unknown version %u",
                       buf[4] | buf[5] << 8);
    len = (uint32_t)buf[6] | (uint32_t)buf[7] << 8;
    if (len < SPOOL_FMT_FIXED || len > SPOOL_FMT_HDR_MAX || (len & 7))
        return lg_errf(why, whylen, -EBADMSG, "header length %u", len);
    if (avail < len)
        return -EAGAIN;
    if (spool_get32(buf + SPOOL_FMT_OFF_HCRC) != hcrc_of(buf, len))
        return lg_errf(why, whylen, -EBADMSG, "header checksum mismatch");
    /* The header is what we wrote; still check it like wire input, since a
     * writer bug or a future version must not crash the reader. */
    h->src_len = buf[59];
    h->dst_len = buf[60];
    h->job_len = buf[62];
    if (h->job_len >= SPOOL_JOB_MAX || buf[63] != 0)
        return lg_errf(why, whylen, -EBADMSG, "job tag length %u",
                       h->job_len);
    if (spool_fmt_hdr_len(h->src_len, h->dst_len, h->job_len) != len ||
        !name_ok(buf + SPOOL_FMT_FIXED, h->src_len) ||
        !name_ok(buf + SPOOL_FMT_FIXED + h->src_len, h->dst_len))
        return lg_errf(why, whylen, -EBADMSG, "bad node names");
    if (h->job_len && !name_ok(buf + SPOOL_FMT_FIXED + h->src_len +
                               h->dst_len, h->job_len))
        return lg_errf(why, whylen, -EBADMSG, "bad job tag");
    if (buf[58] > SPOOL_PRIO_MAX)
        return lg_errf(why, whylen, -EBADMSG, "priority %u", buf[58]);
    memcpy(h->id, buf + 8, SPOOL_ID_LEN);
    h->seq = spool_get64(buf + 24);
    h->created = spool_get64(buf + 32);
    h->lifetime = spool_get64(buf + 40);
    h->payload_len = spool_get64(buf + SPOOL_FMT_OFF_PLEN);
    h->kind = (uint16_t)(buf[56] | buf[57] << 8);
    h->priority = buf[58];
    memcpy(h->src, buf + SPOOL_FMT_FIXED, h->src_len);
    h->src[h->src_len] = 0;
    memcpy(h->dst, buf + SPOOL_FMT_FIXED + h->src_len, h->dst_len);
    h->dst[h->dst_len] = 0;
    {
        const uint8_t *jp = buf + SPOOL_FMT_FIXED + h->src_len + h->dst_len;
        memcpy(h->job, jp, h->job_len);
        h->job[h->job_len] = 0;
        h->job_epoch = h->job_len ? spool_get32(jp + h->job_len) : 0;
    }
    h->hdr_len = len;
    h->crc = spool_get32(buf + SPOOL_FMT_OFF_CRC);
    return 0;
}

void spool_fmt_drec_encode(const spool_drec *r, uint8_t out[SPOOL_DLOG_REC])
{
    memset(out, 0, SPOOL_DLOG_REC);
    spool_put32(out, SPOOL_DLOG_MAGIC);
    out[4] = r->type;
    out[5] = r->reason;
    memcpy(out + 8, r->id, SPOOL_ID_LEN);
    spool_put64(out + 24, r->value);
    spool_put32(out + 32, crc32c(0, out, 32));
}

int spool_fmt_drec_decode(const uint8_t in[SPOOL_DLOG_REC], spool_drec *r)
{
    if (spool_get32(in) != SPOOL_DLOG_MAGIC ||
        spool_get32(in + 32) != crc32c(0, in, 32) ||
        (in[4] != SPOOL_DLOG_DELETED && in[4] != SPOOL_DLOG_PROGRESS))
        return -EBADMSG;
    r->type = in[4];
    r->reason = in[5];
    memcpy(r->id, in + 8, SPOOL_ID_LEN);
    r->value = spool_get64(in + 24);
    return 0;
}
