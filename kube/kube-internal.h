/* Shared between kube.c (the transport) and exec.c (the websocket upgrade). */
#pragma once
#include <curl/curl.h>

#include "kube/kube.h"

/* Connect to the server (TLS set up as for every request) without sending anything, on a
 * new curl handle with a connection of its own: exec.c then speaks the upgrade itself
 * over it, and requests made on k meanwhile (from exec's data callbacks) use k's handle
 * and never touch the stream. ret is the caller's, freed with kube_raw_close. ret_token
 * and ret_host are borrowed from k and stay valid until its next request. */
int kube_connect_raw(struct kube *k, const char *path, CURL **ret, const char **ret_token,
                     const char **ret_host, struct err *e) _must_check_;
/* After exec: close the upgraded connection and free its handle. NULL does nothing. */
void kube_raw_close(CURL *h);
