/*
 * crc32c.h - CRC-32C (Castagnoli, the iSCSI/ext4/btrfs polynomial
 * 0x1EDC6F41, reflected 0x82F63B78) used by the spool to detect torn and
 * corrupted entries.
 *
 * Owns two static lookup tables built once (pthread_once) for the portable
 * path; on x86-64 with SSE4.2 the crc32 instruction is used instead, chosen
 * at run time. Thread-safe: no mutable state after initialisation.
 */
#ifndef LG_CRC32C_H
#define LG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; crc32c(crc32c(0, a), b) equals the
 * CRC of a followed by b. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable (table) implementation, for tests of the fast path. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
