/*
 * lgfs.h - small file-system helpers shared by the daemon's modules.
 *
 * Owns: creating the directories above a path (mkdir -p of its parent).
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

#endif
