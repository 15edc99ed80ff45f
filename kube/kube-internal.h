/* Shared between kube.c (the transport) and exec.c (the websocket upgrade). */
#pragma once
#include <curl/curl.h>

#include "kube/kube.h"

/* Connect to the server (TLS set up as for every request) without sending anything:
 * exec.c then speaks the upgrade itself over the handle. ret_token and ret_host are
 * borrowed from k and stay valid until its next request; the handle is k's own. */
int kube_connect_raw(struct kube *k, const char *path, CURL **ret, const char **ret_token,
                     const char **ret_host, struct err *e) _must_check_;
/* After exec: drop the upgraded connection (it cannot carry requests again). */
void kube_raw_close(struct kube *k);
