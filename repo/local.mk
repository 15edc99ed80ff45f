libcairn_a_SOURCES += repo/repo.h repo/backend.h repo/backend.c repo/backend_local.c
# S3 backend files (owned by the S3 work) are listed in repo/s3.mk.
include repo/s3.mk
