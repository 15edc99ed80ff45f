/* Content-id hash candidates at blob sizes (bench/README.md, "Content ids"):
 *   gcc -O2 -o idhash bench/idhash.c -lsodium -lcrypto && ./idhash [SECONDS]
 * Prints MB per CPU second (one thread) for keyed BLAKE2b-256 (libsodium, format 1),
 * HMAC-SHA-256 through OpenSSL four ways (EVP_MAC fresh per call, EVP_MAC_CTX_dup of a
 * keyed context, the HMAC() one-shot, and copying precomputed inner/outer SHA-256 states:
 * what crypto/idhash.c does, with a fresh or a reused context), libsodium's software
 * HMAC-SHA-256, and unkeyed BLAKE2b-256 and SHA-256 (object names of formats 1 and 2).
 * Not built by make. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint8_t key[32];
static EVP_MAC *mac;
static EVP_MAC_CTX *keyed;
static EVP_MD_CTX *inner, *outer;
static const EVP_MD *sha;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: steady on a shared machine */
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void b2_keyed(const uint8_t *p, size_t n, uint8_t out[32])
{
	crypto_generichash(out, 32, p, n, key, 32);
}

static void b2_plain(const uint8_t *p, size_t n, uint8_t out[32])
{
	crypto_generichash(out, 32, p, n, NULL, 0);
}

static void sha_plain(const uint8_t *p, size_t n, uint8_t out[32])
{
	if (EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) != 1)
		abort();
}

static void mac_fresh(const uint8_t *p, size_t n, uint8_t out[32])
{
	OSSL_PARAM prm[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		             OSSL_PARAM_construct_end() };
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	size_t l;

	if (!c || !EVP_MAC_init(c, key, 32, prm) || !EVP_MAC_update(c, p, n) ||
	    !EVP_MAC_final(c, out, &l, 32))
		abort();
	EVP_MAC_CTX_free(c);
}

static void mac_dup(const uint8_t *p, size_t n, uint8_t out[32])
{
	EVP_MAC_CTX *c = EVP_MAC_CTX_dup(keyed);
	size_t l;

	if (!c || !EVP_MAC_update(c, p, n) || !EVP_MAC_final(c, out, &l, 32))
		abort();
	EVP_MAC_CTX_free(c);
}

static void hmac_oneshot(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned int l;

	if (!HMAC(EVP_sha256(), key, 32, p, n, out, &l))
		abort();
}

static void md_copy(const uint8_t *p, size_t n, uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t ih[32];

	if (!c || !EVP_MD_CTX_copy_ex(c, inner) || !EVP_DigestUpdate(c, p, n) ||
	    !EVP_DigestFinal_ex(c, ih, NULL) || !EVP_MD_CTX_copy_ex(c, outer) ||
	    !EVP_DigestUpdate(c, ih, 32) || !EVP_DigestFinal_ex(c, out, NULL))
		abort();
	EVP_MD_CTX_free(c);
}

/* The same with one context reused across calls (no allocation per call). */
static void md_copy_reuse(const uint8_t *p, size_t n, uint8_t out[32])
{
	static EVP_MD_CTX *c;
	uint8_t ih[32];

	if (!c)
		c = EVP_MD_CTX_new();
	if (!c || !EVP_MD_CTX_copy_ex(c, inner) || !EVP_DigestUpdate(c, p, n) ||
	    !EVP_DigestFinal_ex(c, ih, NULL) || !EVP_MD_CTX_copy_ex(c, outer) ||
	    !EVP_DigestUpdate(c, ih, 32) || !EVP_DigestFinal_ex(c, out, NULL))
		abort();
}

static void sodium_hmac(const uint8_t *p, size_t n, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, p, n);
	crypto_auth_hmacsha256_final(&st, out);
}

static void setup(void)
{
	OSSL_PARAM prm[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		             OSSL_PARAM_construct_end() };
	uint8_t pad[64];

	randombytes_buf(key, sizeof(key));
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	keyed = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!keyed || !EVP_MAC_init(keyed, key, 32, prm))
		abort();
	sha = EVP_sha256();
	inner = EVP_MD_CTX_new();
	outer = EVP_MD_CTX_new();
	memset(pad, 0x36, 64);
	for (int i = 0; i < 32; i++)
		pad[i] ^= key[i];
	if (!EVP_DigestInit_ex(inner, sha, NULL) || !EVP_DigestUpdate(inner, pad, 64))
		abort();
	memset(pad, 0x5c, 64);
	for (int i = 0; i < 32; i++)
		pad[i] ^= key[i];
	if (!EVP_DigestInit_ex(outer, sha, NULL) || !EVP_DigestUpdate(outer, pad, 64))
		abort();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(const uint8_t *, size_t, uint8_t *);
	} fns[] = {
		{ "blake2b-256 keyed (libsodium, v1 ids)", b2_keyed },
		{ "blake2b-256 unkeyed (pack names)", b2_plain },
		{ "hmac-sha256 EVP_MAC new+init per call", mac_fresh },
		{ "hmac-sha256 EVP_MAC_CTX_dup per call", mac_dup },
		{ "hmac-sha256 HMAC() one-shot", hmac_oneshot },
		{ "hmac-sha256 copied inner/outer states", md_copy },
		{ "hmac-sha256 same, context reused", md_copy_reuse },
		{ "hmac-sha256 libsodium (software)", sodium_hmac },
		{ "sha256 unkeyed (OpenSSL, v2 names)", sha_plain },
	};
	static const size_t sizes[] = { 512, 4096, 65536, 1 << 20 };
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	size_t total = 1 << 20;
	uint8_t *buf, out[32], a[32], b[32];

	if (sodium_init() < 0)
		return 1;
	setup();
	buf = malloc(total);
	randombytes_buf(buf, total);
	/* Every HMAC variant must agree before any is timed. */
	sodium_hmac(buf, 1000, a);
	for (size_t f = 2; f < 7; f++) {
		fns[f].fn(buf, 1000, b);
		if (memcmp(a, b, 32) != 0) {
			fprintf(stderr, "%s disagrees\n", fns[f].name);
			return 1;
		}
	}
	printf("%-40s %9s %9s %9s %9s   (MB per CPU second)\n", "hash", "512 B", "4 KiB", "64 KiB",
	       "1 MiB");
	for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
		printf("%-40s", fns[f].name);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t n = sizes[s], done = 0;
			double t0 = now(), t;

			do {
				for (size_t off = 0; off + n <= total; off += n)
					fns[f].fn(buf + off, n, out);
				done += total;
				t = now() - t0;
			} while (t < secs);
			printf(" %9.0f", (double)done / t / 1e6);
		}
		printf("\n");
		fflush(stdout);
	}
	free(buf);
	return 0;
}
