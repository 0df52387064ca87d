/*
 * lgfs.h - small file-system helpers shared by the daemon's modules.
 *
 * Owns: creating the directories above a path (mkdir -p of its parent),
 * opening (creating durably) and locking a store's directory,
 * and the small loops every durable writer needs (whole writes, fsync and
 * close that retry EINTR and report errors as -errno).
 * Errors are returned as -errno with "cannot create DIR: reason" in err.
 * Threading: no state; safe from any thread.
 */
#ifndef LG_COMMON_LGFS_H
#define LG_COMMON_LGFS_H

#include <stddef.h>

/* Create every missing directory above path's last component (mode 0755
 * for what is created); path itself is left to the caller. Paths longer
 * than 4095 bytes are refused with -ENAMETOOLONG. */
int lg_mkdir_parents(const char *path, char *err, size_t errlen);

/* Open directory dir (O_RDONLY | O_DIRECTORY) into *fd, creating it
 * first if missing (its parents 0755, itself 0750) and, when created,
 * syncing its parent so that the new name is durable. -errno with
 * "create DIR: reason" or "open DIR: reason" in err. */
int lg_dir_open(const char *dir, int *fd, char *err, size_t errlen);
/* Take an exclusive, non-blocking flock on fd: -EBUSY with "NAME is in
 * use by another OWNER" in err when another process holds it. */
int lg_flock(int fd, const char *name, const char *owner, char *err,
             size_t errlen);

/* Write all len bytes (retrying short writes and EINTR): 0 or -errno
 * (-EIO if write returns 0). */
int lg_write_all(int fd, const void *buf, size_t len);
/* fsync (or fdatasync when datasync), retrying EINTR: 0 or -errno. */
int lg_fsync(int fd, int datasync);
/* close() that reports a deferred write error (EINTR counts as closed). */
int lg_close(int fd);

#endif
