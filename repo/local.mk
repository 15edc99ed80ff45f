noinst_LIBRARIES += repo/libcairn_repo.a
repo_libcairn_repo_a_SOURCES = repo/repo.h repo/repo-internal.h repo/admin.h repo/admin.c repo/backend.h repo/backend.c \
	repo/backend_local.c repo/blob.c repo/idx.c repo/index_file.c repo/lock.c \
	repo/object.c repo/pack.c repo/packread.c repo/repo.c repo/snapshot.c repo/tree.c
