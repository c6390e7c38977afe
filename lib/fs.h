/* SPDX-License-Identifier: ISC */
#ifndef ZEST_FS_H
#define ZEST_FS_H

/*
 * fs: small filesystem helpers.  The durable-replace recipe of the project
 * lives here: write to a temporary name in the target's directory, fsync,
 * rename over the target, fsync the directory.  A crash at any instant leaves
 * either the old file or the new one, never a mixture.
 */

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

/* Create path and its missing parents; new directories get mode (existing
 * ones are left alone).  Returns 0, or -1 with errno (ENOTDIR when a
 * component exists but is not a directory). */
int fs_mkdir_p(const char *path, mode_t mode);

/* Open the directory path and fsync it.  Returns 0 or -1 with errno. */
int fs_fsync_dir(const char *path);

/* fsync the directory that contains path ("." for a bare name).
 * Returns 0 or -1 with errno. */
int fs_fsync_parent(const char *path);

/* Put the directory part of path into dir_r ("." when there is none, "/" for
 * "/x").  Returns 0 or -1 with errno ENOMEM. */
int fs_dirname(const char *path, struct str *dir_r);

/* Create a temporary file beside path (same directory, name path.tmp.XXXXXX)
 * with the given mode, close-on-exec.  Its name is put into tmp_r.
 * Returns the descriptor, or -1 with errno. */
int fs_tmp_create(const char *path, mode_t mode, struct str *tmp_r);

/* Finish a temporary file from fs_tmp_create: fsync fd, close it, rename tmp
 * onto path, fsync the directory.  fd is closed and, on failure, tmp removed.
 * Returns 0 or -1 with errno. */
int fs_tmp_commit(int fd, const char *tmp, const char *path);

/* Abandon a temporary file: close fd (when >= 0) and unlink tmp; errno is
 * preserved. */
void fs_tmp_abort(int fd, const char *tmp);

/* Replace path durably with len bytes of data and the given mode.
 * Returns 0, or -1 with errno (path untouched on failure). */
int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode);

/* Append the whole content of the regular file path to out_r.  Fails with
 * errno EFBIG when the file holds more than max bytes.  Returns 0 or -1 with
 * errno (out_r is restored to its old length on failure). */
int fs_read_file(const char *path, size_t max, struct str *out_r);

/* Whether path is a directory with no entries but "." and "..".
 * Returns 1 empty, 0 not empty, -1 with errno (ENOENT when absent). */
int fs_dir_is_empty(const char *path);

/* Write all len bytes of buf to fd, retrying on EINTR and short writes.
 * Returns 0 or -1 with errno. */
int fs_write_all(int fd, const void *buf, size_t len);

#endif
