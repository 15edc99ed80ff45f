/* Owns the XChaCha20-Poly1305 (IETF) computation behind key_seal/key_open. The bytes are
 * libsodium's construction exactly: subkey = HChaCha20(key, nonce[0..16]), then
 * ChaCha20-Poly1305 (RFC 8439) with nonce 0^4 || nonce[16..24]. The second step runs in
 * OpenSSL, whose vectorised ChaCha20 and Poly1305 are about three times faster than
 * libsodium's here (bench/README.md); libsodium remains the fallback when OpenSSL cannot
 * serve a call (no cipher in the active provider, or a length past int). */
#include "crypto/aead.h"

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "util/banned.h"

/* The cipher fetched from the default provider once per process. Passing OpenSSL 3 the
 * legacy EVP_chacha20_poly1305() makes every Init fetch it again (a locked store lookup):
 * 1.55-1.80 against 1.05-1.20 us a seal of 64 to 512 bytes, a third of the cost of sealing a small
 * file's blob or a tree (bench/aead.c, 300 000 seals each). Never freed: it
 * lives as long as the process, like OpenSSL's own method store. */
static const EVP_CIPHER *chacha;
static pthread_once_t chacha_once = PTHREAD_ONCE_INIT;

static void chacha_fetch(void)
{
	EVP_CIPHER *f = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);

	chacha = f ? f : EVP_chacha20_poly1305();
}

static const EVP_CIPHER *cipher(void)
{
	pthread_once(&chacha_once, chacha_fetch);
	return chacha;
}

static void subkey_nonce(const uint8_t key[32], const uint8_t nonce[24], uint8_t sub[32],
                         uint8_t n12[12])
{
	crypto_core_hchacha20(sub, nonce, key, NULL);
	memset(n12, 0, 4);
	memcpy(n12 + 4, nonce + 16, 8);
}

/* 0 done, -1 OpenSSL could not do it (nothing was reported as sealed). */
static int ossl_seal(const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ad,
                     size_t adlen, const uint8_t *pt, size_t n, uint8_t *out)
{
	uint8_t sub[32], n12[12];
	EVP_CIPHER_CTX *c;
	int l, ok;

	if (n > INT_MAX || adlen > INT_MAX)
		return -1;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	subkey_nonce(key, nonce, sub, n12);
	ok = EVP_EncryptInit_ex(c, cipher(), NULL, sub, n12) == 1 &&
	     (!adlen || EVP_EncryptUpdate(c, NULL, &l, ad, (int)adlen) == 1) &&
	     (!n || EVP_EncryptUpdate(c, out, &l, pt, (int)n) == 1) &&
	     EVP_EncryptFinal_ex(c, out + n, &l) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + n) == 1;
	EVP_CIPHER_CTX_free(c);
	sodium_memzero(sub, sizeof(sub));
	return ok ? 0 : -1;
}

void aead_seal(const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ad, size_t adlen,
               const void *pt, size_t n, uint8_t *out)
{
	if (ossl_seal(key, nonce, ad, adlen, pt, n, out) == 0)
		return;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, pt, n, ad, adlen, NULL, nonce, key);
}

/* 0 authentic, -2 forged or corrupt, -1 OpenSSL could not do it. */
static int ossl_open(const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ad,
                     size_t adlen, const uint8_t *ct, size_t n, const uint8_t tag[16], uint8_t *out)
{
	uint8_t sub[32], n12[12], t[16];
	EVP_CIPHER_CTX *c;
	int l, rc = -1;

	if (n > INT_MAX || adlen > INT_MAX)
		return -1;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	memcpy(t, tag, 16); /* the control call takes a non-const buffer */
	subkey_nonce(key, nonce, sub, n12);
	if (EVP_DecryptInit_ex(c, cipher(), NULL, sub, n12) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, t) == 1 &&
	    (!adlen || EVP_DecryptUpdate(c, NULL, &l, ad, (int)adlen) == 1) &&
	    (!n || EVP_DecryptUpdate(c, out, &l, ct, (int)n) == 1))
		/* out may be NULL for an empty message: no pointer arithmetic on it then. */
		rc = EVP_DecryptFinal_ex(c, n ? out + n : out, &l) == 1 ? 0 : -2;
	EVP_CIPHER_CTX_free(c);
	sodium_memzero(sub, sizeof(sub));
	return rc;
}

int aead_open(const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ad, size_t adlen,
              const uint8_t *ct, size_t n, uint8_t *out)
{
	int rc;

	if (n < 16)
		return -1;
	rc = ossl_open(key, nonce, ad, adlen, ct, n - 16, ct + n - 16, out);
	if (rc == 0)
		return 0;
	if (rc == -2) {
		/* OpenSSL wrote the unauthenticated plaintext: leave none of it behind. */
		memset(out, 0, n - 16);
		return -1;
	}
	return crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, n, ad, adlen, nonce,
	                                                  key) < 0
	           ? -1
	           : 0;
}
