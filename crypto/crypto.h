/* Keys, authenticated encryption, keyed content ids (two algorithms) and password-wrapped key
 * files. Pure: no files, no repository layout. Secrets live in sodium_malloc memory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/attr.h"

#define KEY_BYTES         32
#define KEY_ID_BYTES      32
#define KEY_NONCE_BYTES   24
#define KEY_TAG_BYTES     16
#define KEY_SEAL_OVERHEAD (KEY_NONCE_BYTES + KEY_TAG_BYTES)

/* What a sealed object is: bound into the AEAD associated data so an object of one
 * kind can never be swapped in for another. */
enum key_domain {
	KEY_DOMAIN_CONFIG = 1,
	KEY_DOMAIN_BLOB = 2,
	KEY_DOMAIN_PACK_HEADER = 3,
	KEY_DOMAIN_INDEX = 4,
	KEY_DOMAIN_SNAPSHOT = 5,
	KEY_DOMAIN_LOCK = 6,
	KEY_DOMAIN_KEYFILE = 7,
	_KEY_DOMAIN_MAX,
	_KEY_DOMAIN_INVALID = -22,
};

struct key;

/* How stored objects (packs, index files, snapshots, locks) are named: an unkeyed hash of
 * their stored bytes (docs/format.md). Key files are named by BLAKE2b-256 in every format
 * (they are read before the config says anything). */
enum key_name_alg {
	KEY_NAME_BLAKE2B_256 = 1, /* "blake2b-256": format 1 */
	KEY_NAME_SHA256 = 2,      /* "sha256": format 2 */
	_KEY_NAME_ALG_MAX,
	_KEY_NAME_ALG_INVALID = -22,
};
const char *key_name_alg_name(enum key_name_alg a);
/* -EOPNOTSUPP for a name this build does not know (compared exactly). */
int key_name_alg_from_name(const char *name, enum key_name_alg *ret) _must_check_;
/* One-shot name of n bytes; a value outside the enum hashes as BLAKE2b-256. */
void name_hash(enum key_name_alg a, const void *p, size_t n, uint8_t out[KEY_ID_BYTES]);
/* Streaming, for a pack hashed as it is written (repo/pack.c). NULL: out of memory or a
 * value outside the enum. final writes the name and frees h; -EIO when OpenSSL failed on
 * the way (no name is written then). */
struct name_hash;
struct name_hash *name_hash_new(enum key_name_alg a);
void name_hash_update(struct name_hash *h, const void *p, size_t n);
int name_hash_final(struct name_hash *h, uint8_t out[KEY_ID_BYTES]) _must_check_;

/* How content ids are computed; a repository uses one for all its blobs (its config names
 * it, docs/format.md). Format 1 repositories use keyed BLAKE2b-256. */
enum key_id_alg {
	KEY_ID_BLAKE2B_256 = 1, /* "blake2b-256": BLAKE2b-256 keyed with subkey 2 */
	KEY_ID_HMAC_SHA256 = 2, /* "hmac-sha256": HMAC-SHA-256 with subkey 4 */
	_KEY_ID_ALG_MAX,
	_KEY_ID_ALG_INVALID = -22,
};

/* The name config uses; NULL for a value outside the enum. */
const char *key_id_alg_name(enum key_id_alg a);
/* -EOPNOTSUPP for a name this build does not know (compared exactly, case and all). */
int key_id_alg_from_name(const char *name, enum key_id_alg *ret) _must_check_;

/* Fresh random master key. */
int key_generate(struct key **ret) _must_check_;
int key_from_master(const uint8_t master[KEY_BYTES], struct key **ret) _must_check_;
/* Wipes and frees; NULL is fine. */
void key_free(struct key *k);
/* Borrowed; valid while k lives. Only keyfile wrapping needs it. */
const uint8_t *key_master(const struct key *k);
/* Selects the content-id function; a key starts with KEY_ID_BLAKE2B_256. Call before k is
 * shared between threads (the repository does it when it reads its config). -EINVAL for a
 * value outside the enum, -EIO when the subkey cannot be derived. */
int key_set_id_alg(struct key *k, enum key_id_alg a) _must_check_;
enum key_id_alg key_get_id_alg(const struct key *k);
/* The content id of a blob: the selected keyed hash of its plaintext. Safe from many
 * threads at once. */
void key_blob_id(const struct key *k, const void *data, size_t n, uint8_t out[KEY_ID_BYTES]);
/* 32-byte secret that seeds the chunker's gear table. */
const uint8_t *key_chunker_seed(const struct key *k);
/* out must hold n + KEY_SEAL_OVERHEAD bytes: nonce || ciphertext || tag. pt may be
 * out + KEY_NONCE_BYTES (sealing in place); no other overlap is allowed. */
int key_seal(const struct key *k, enum key_domain d, const void *pt, size_t n,
	     uint8_t *out) _must_check_;
/* out must hold n - KEY_SEAL_OVERHEAD bytes. -EBADMSG when short, forged or corrupt. out
 * may be ct + KEY_NONCE_BYTES exactly (opening in place); no other overlap is allowed.
 * OpenSSL documents in-place use of EVP_DecryptUpdate (out == in). libsodium documents it
 * for its ChaCha20 stream functions but not for crypto_aead_xchacha20poly1305_ietf_decrypt
 * (the fallback): its code (1.0.18) authenticates all of ct before it XORs the stream
 * over it, so the exact overlap is safe there too. */
int key_open(const struct key *k, enum key_domain d, const void *ct, size_t n,
	     uint8_t *out) _must_check_;

/* The most Argon2id work one key file may ask of an open: every node agent opens the
 * repository, and a key file demanding 1 GiB would take a node's memory (or abort the
 * open) for every backup. Key files beyond it are skipped (-E2BIG), never derived. */
#define KEYFILE_MAX_MEMLIMIT (256ULL * 1024 * 1024)
#define KEYFILE_MAX_OPSLIMIT 16ULL

/* Argon2id cost of a key file; the defaults are libsodium's MODERATE-ish settings. */
struct keyfile_params {
	uint64_t opslimit;
	uint64_t memlimit;
};

/* Default cost, lowered by CAIRN_KDF_FAST=1 in test builds only (configure
 * --enable-test-hooks; docs/format.md). */
void keyfile_params_default(struct keyfile_params *p);
/* Wrap k's master key under password; *ret_json is a malloc'ed JSON text. -E2BIG when p
 * exceeds KEYFILE_MAX_* (no reader would open the file). */
int keyfile_create(const struct key *k, const char *password, size_t pwlen,
		   const struct keyfile_params *p, const char *hostname, char **ret_json) _must_check_;
/* -EKEYREJECTED wrong password, -EBADMSG malformed, -EOPNOTSUPP unknown version/kdf,
 * -E2BIG cost above KEYFILE_MAX_* (checked before any derivation). */
int keyfile_unlock(const char *json, size_t n, const char *password, size_t pwlen,
		   struct key **ret) _must_check_;
