libcairn_a_SOURCES += repo/backend_s3.c
