libcairn_a_SOURCES += repo/repo.h repo/repo-internal.h repo/backend.h repo/backend.c \
	repo/backend_local.c repo/blob.c repo/idx.c repo/index_file.c repo/lock.c \
	repo/check.c repo/object.c repo/pack.c repo/repo.c repo/snapshot.c repo/tree.c
# S3 backend files (owned by the S3 work) are listed in repo/s3.mk.
include repo/s3.mk
include repo/maint.mk
