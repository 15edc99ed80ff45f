/* Owns the SigV4 canonical forms and the HMAC key chain (AWS "Signature Version 4
 * signing process"); S3 flavour: paths encoded once and never normalised. */
#include "s3/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

#include "util/banned.h"

#define MAX_QUERY_PARAMS 64

struct kv {
	char *k;
	char *v;
	size_t order; /* input position: keeps duplicate headers in their sent order */
};

void sigv4_sha256_hex(const void *p, size_t n, char out[SIGV4_HEX_SHA256])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, p, n);
	hex_encode(h, sizeof(h), out);
}

void sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, SIGV4_AMZ_DATE, "%Y%m%dT%H%M%SZ", &tm);
}

int sigv4_uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash)
{
	static const char hexd[] = "0123456789ABCDEF";
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = { '%', hexd[c >> 4], hexd[c & 15] };

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
		    (c == '/' && keep_slash))
			r = buf_append(out, &c, 1);
		else
			r = buf_append(out, esc, 3);
	}
	return r;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode %XX escapes of s[0..n) and re-encode the result: one canonical spelling. */
static int recode(const char *s, size_t n, char **ret)
{
	struct buf dec = BUF_INIT, enc = BUF_INIT;
	int r = 0;

	buf_init(&dec, n + 1);
	buf_init(&enc, 3 * n + 1);
	for (size_t i = 0; i < n && r >= 0; i++) {
		char c = s[i];

		if (c == '%') {
			if (i + 2 >= n)
				r = -EINVAL;
			else if (unhex(s[i + 1]) < 0 || unhex(s[i + 2]) < 0)
				r = -EINVAL;
			else
				c = (char)(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
			i += 2;
		}
		if (r >= 0)
			r = buf_append(&dec, &c, 1);
	}
	if (r >= 0)
		r = sigv4_uri_encode(&enc, (const char *)dec.p, dec.len, false);
	if (r >= 0)
		r = buf_append(&enc, "", 1);
	if (r >= 0)
		*ret = (char *)buf_take(&enc, NULL);
	buf_release(&dec);
	buf_release(&enc);
	return r;
}

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	if (c)
		return c;
	if (x->v && y->v && (c = strcmp(x->v, y->v)))
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void kv_free(struct kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].k);
		free(kv[i].v);
	}
}

static int canonical_query(const char *q, struct buf *out)
{
	struct kv kv[MAX_QUERY_PARAMS] = { { 0 } };
	size_t n = 0;
	int r = 0;

	while (q && *q && r >= 0) {
		size_t len = strcspn(q, "&"), kl;
		const char *eq = memchr(q, '=', len);

		if (len) {
			if (n == MAX_QUERY_PARAMS) {
				r = -EINVAL;
				break;
			}
			kl = eq ? (size_t)(eq - q) : len;
			kv[n].order = n;
			r = recode(q, kl, &kv[n].k);
			if (r >= 0)
				r = eq ? recode(eq + 1, len - kl - 1, &kv[n].v)
				       : recode("", 0, &kv[n].v);
			n++;
		}
		q += len + (q[len] == '&');
	}
	if (r >= 0) {
		/* Sorted by encoded name, then value (byte order, as AWS specifies). */
		qsort(kv, n, sizeof(kv[0]), kv_cmp);
		for (size_t i = 0; i < n && r >= 0; i++)
			r = buf_printf(out, "%s%s=%s", i ? "&" : "", kv[i].k, kv[i].v);
	}
	kv_free(kv, n);
	return r;
}

/* Lowercase name; value trimmed with inner runs of spaces folded to one. */
static int header_kv(const struct sigv4_header *h, size_t order, struct kv *ret)
{
	size_t nl = strlen(h->name), vl = strlen(h->value), o = 0;
	char *k = malloc(nl + 1), *v = malloc(vl + 1);

	if (!k || !v || !nl) {
		free(k);
		free(v);
		return k && v ? -EINVAL : -ENOMEM;
	}
	for (size_t i = 0; i <= nl; i++)
		k[i] = (char)tolower((unsigned char)h->name[i]);
	for (size_t i = 0; i < vl; i++) {
		bool sp = isspace((unsigned char)h->value[i]);

		if (sp && (o == 0 || v[o - 1] == ' '))
			continue;
		v[o++] = sp ? ' ' : h->value[i];
	}
	while (o && v[o - 1] == ' ')
		o--;
	v[o] = 0;
	*ret = (struct kv){ .k = k, .v = v, .order = order };
	return 0;
}

static int kv_order_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

/* Appends "name:v1,v2\n" lines, then (into names) "a;b;c". */
static int canonical_headers(const struct sigv4_input *in, struct buf *out, struct buf *names)
{
	struct kv kv[SIGV4_MAX_HEADERS] = { { 0 } };
	size_t n = 0;
	int r = 0;

	if (in->n_headers > SIGV4_MAX_HEADERS)
		return -EINVAL;
	for (; n < in->n_headers && r >= 0; n++)
		r = header_kv(&in->headers[n], n, &kv[n]);
	if (r < 0) {
		n--;
		goto fail;
	}
	qsort(kv, n, sizeof(kv[0]), kv_order_cmp);
	for (size_t i = 0; i < n && r >= 0; i++) {
		bool first = i == 0 || strcmp(kv[i - 1].k, kv[i].k) != 0;
		bool last = i + 1 == n || strcmp(kv[i + 1].k, kv[i].k) != 0;

		if (first)
			r = buf_printf(out, "%s:%s", kv[i].k, kv[i].v);
		else
			r = buf_printf(out, ",%s", kv[i].v);
		if (r >= 0 && last)
			r = buf_printf(out, "\n");
		if (r >= 0 && first)
			r = buf_printf(names, "%s%s", names->len ? ";" : "", kv[i].k);
	}
fail:
	kv_free(kv, n);
	return r;
}

static int signed_names(const struct sigv4_input *in, struct buf *names)
{
	struct buf scratch = BUF_INIT;
	int r;

	buf_init(&scratch, 64 * 1024);
	r = canonical_headers(in, &scratch, names);
	buf_release(&scratch);
	return r;
}

int sigv4_canonical_request(const struct sigv4_input *in, struct buf *out)
{
	struct buf names = BUF_INIT;
	int r;

	buf_init(&names, 4096);
	r = buf_printf(out, "%s\n", in->method);
	if (r >= 0)
		r = sigv4_uri_encode(out, in->path, strlen(in->path), true);
	if (r >= 0)
		r = buf_printf(out, "\n");
	if (r >= 0)
		r = canonical_query(in->query, out);
	if (r >= 0)
		r = buf_printf(out, "\n");
	if (r >= 0)
		r = canonical_headers(in, out, &names);
	if (r >= 0)
		r = buf_printf(out, "\n%s\n%s", names.len ? (char *)names.p : "", in->payload_hash);
	buf_release(&names);
	return r;
}

static int scope(const struct sigv4_input *in, char *out, size_t n)
{
	int k = snprintf(out, n, "%.8s/%s/%s/aws4_request", in->amz_date, in->region, in->service);

	return k < 0 || (size_t)k >= n ? -EINVAL : 0;
}

int sigv4_string_to_sign(const struct sigv4_input *in, const char *canonical, struct buf *out)
{
	char sc[256], h[SIGV4_HEX_SHA256];
	int r = scope(in, sc, sizeof(sc));

	if (r < 0)
		return r;
	sigv4_sha256_hex(canonical, strlen(canonical), h);
	return buf_printf(out, "AWS4-HMAC-SHA256\n%s\n%s\n%s", in->amz_date, sc, h);
}

static void hmac(uint8_t out[32], const void *key, size_t kl, const char *msg)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, kl);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
static int signing_key(const struct sigv4_input *in, const char *secret, uint8_t out[32])
{
	size_t sl = strlen(secret);
	char date[9];
	uint8_t *k0;

	if (sl > 1024)
		return -EINVAL;
	k0 = sodium_malloc(sl + 4);
	if (!k0)
		return -ENOMEM;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, sl);
	snprintf(date, sizeof(date), "%.8s", in->amz_date);
	hmac(out, k0, sl + 4, date);
	sodium_free(k0);
	hmac(out, out, 32, in->region);
	hmac(out, out, 32, in->service);
	hmac(out, out, 32, "aws4_request");
	return 0;
}

int sigv4_authorization(const struct sigv4_input *in, const char *access_key, const char *secret,
                        struct buf *out)
{
	struct buf canon = BUF_INIT, sts = BUF_INIT, names = BUF_INIT;
	char sc[256], sig[2 * 32 + 1];
	uint8_t key[32], mac[32];
	int r;

	buf_init(&canon, 256 * 1024);
	buf_init(&sts, 4096);
	buf_init(&names, 4096);
	r = sigv4_canonical_request(in, &canon);
	if (r >= 0)
		r = sigv4_string_to_sign(in, (const char *)canon.p, &sts);
	if (r >= 0)
		r = signed_names(in, &names);
	if (r >= 0)
		r = scope(in, sc, sizeof(sc));
	if (r >= 0)
		r = signing_key(in, secret, key);
	if (r >= 0) {
		crypto_auth_hmacsha256_state st;

		crypto_auth_hmacsha256_init(&st, key, sizeof(key));
		crypto_auth_hmacsha256_update(&st, sts.p, sts.len);
		crypto_auth_hmacsha256_final(&st, mac);
		sodium_memzero(&st, sizeof(st));
		hex_encode(mac, sizeof(mac), sig);
		r = buf_printf(out,
		               "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		               access_key, sc, names.len ? (char *)names.p : "", sig);
	}
	sodium_memzero(key, sizeof(key));
	buf_release(&canon);
	buf_release(&sts);
	buf_release(&names);
	return r;
}
