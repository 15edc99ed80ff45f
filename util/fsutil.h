/* File helpers: full reads/writes that retry on EINTR and short counts, atomic replace. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/attr.h"
#include "util/buf.h"

/* Read until n bytes or EOF; returns bytes read or -errno. */
ssize_t read_full(int fd, void *p, size_t n) _must_check_;
ssize_t pread_full(int fd, void *p, size_t n, off_t off) _must_check_;
int write_full(int fd, const void *p, size_t n) _must_check_;
int pwrite_full(int fd, const void *p, size_t n, off_t off) _must_check_;
/* Append the whole file at dirfd/path into b (bounded by b->max). */
int read_file_at(int dirfd, const char *path, struct buf *b) _must_check_;
/* Write via a temp file in the same directory, fsync, rename, fsync the directory. */
int write_atomic_at(int dirfd, const char *path, const void *p, size_t n, mode_t mode) _must_check_;
int fsync_dir_at(int dirfd, const char *path) _must_check_;
int mkdir_p(const char *path, mode_t mode) _must_check_;
