/* Owns the repository context: create and open (key files, config), version checks,
 * and teardown. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

void repo_create_params_default(struct repo_create_params *p)
{
	struct chunker_params cp = CHUNKER_PARAMS_DEFAULT;

	p->chunker = cp;
	p->pack_size = REPO_PACK_DEFAULT;
	/* bench/README.md: level 3 cost a quarter more CPU for 0.5 % less size than 1. */
	p->zstd_level = 1;
	keyfile_params_default(&p->kdf);
	p->format_version = REPO_VERSION;
}

static int repo_alloc(const struct repo_open_params *o, struct err *e, struct repo **ret)
{
	struct repo *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return err_set(e, -ENOMEM, "out of memory");
	r->name_alg = KEY_NAME_BLAKE2B_256;
	pthread_mutex_init(&r->idx_lock, NULL);
	pthread_mutex_init(&r->cctx_lock, NULL);
	pthread_mutex_init(&r->held_mu, NULL);
	for (int t = 0; t < _BLOB_TYPE_MAX; t++)
		pthread_mutex_init(&r->pack_lock[t], NULL);
	rc = backend_open(o->url, o->options, &r->be, e);
	if (rc < 0) {
		repo_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

void repo_free(struct repo *r)
{
	if (!r)
		return;
	for (int t = 0; t < _BLOB_TYPE_MAX; t++) {
		pack_writer_free(r->open_pack[t]);
		pthread_mutex_destroy(&r->pack_lock[t]);
	}
	for (size_t i = 0; i < r->n_done; i++)
		free(r->done[i].blobs);
	free(r->done);
	idx_release(&r->idx);
	repo_aside_release(r);
	for (size_t i = 0; i < r->n_openers; i++)
		opener_free(r->openers[i]);
	for (int c = 0; c < 2; c++)
		for (size_t i = 0; i < r->n_sealers[c]; i++)
			sealer_free(r->sealers[c][i]);
	pthread_mutex_destroy(&r->idx_lock);
	pthread_mutex_destroy(&r->cctx_lock);
	pthread_mutex_destroy(&r->held_mu);
	key_free(r->key);
	backend_free(r->be);
	free(r);
}

/* The algorithm names of a format 2 config. The config is written by whoever holds a key,
 * and every node holds one: anything but the four names, each one this build knows, is
 * refused rather than guessed at. */
static int config_algorithms(json_t *o, enum key_id_alg *id, enum key_name_alg *names,
                             struct err *e)
{
	const char *idn = NULL, *seal = NULL, *comp = NULL, *nn = NULL;

	if (json_unpack(o, "{s:s, s:s, s:s, s:s !}", "id", &idn, "names", &nn, "seal", &seal,
	                "compression", &comp) < 0)
		return err_set(e, -EBADMSG,
		               "config: \"algorithms\" must name exactly id, names, "
		               "seal and compression");
	if (key_id_alg_from_name(idn, id) < 0)
		return err_set(e, -EOPNOTSUPP, "unknown id algorithm \"%.40s\" in config", idn);
	if (key_name_alg_from_name(nn, names) < 0)
		return err_set(e, -EOPNOTSUPP, "unknown names algorithm \"%.40s\" in config", nn);
	if (strcmp(seal, REPO_ALG_SEAL) != 0)
		return err_set(e, -EOPNOTSUPP, "unknown seal algorithm \"%.40s\" in config", seal);
	if (strcmp(comp, REPO_ALG_COMPRESSION) != 0)
		return err_set(e, -EOPNOTSUPP, "unknown compression algorithm \"%.40s\" in config",
		               comp);
	return 0;
}

int repo_config_apply(struct repo *r, const char *json, size_t n, struct err *e)
{
	json_int_t version = 0, cmin = 0, cavg = 0, cmax = 0, pack = 0, level = 3;
	enum key_id_alg alg = KEY_ID_BLAKE2B_256;
	enum key_name_alg names = KEY_NAME_BLAKE2B_256;
	struct chunker_params cp;
	const char *id = NULL;
	json_t *o, *algs = NULL;
	int rc = -EBADMSG;
	bool bad;

	o = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
	if (!o)
		return err_set(e, -EBADMSG, "config is not valid JSON");
	/* The version first: a newer format may have any other fields. */
	if (!json_is_object(o) || json_unpack(o, "{s:I}", "version", &version) < 0) {
		err_set(e, rc, "config is missing fields");
		goto fail;
	}
	if (version < REPO_VERSION_MIN || version > REPO_VERSION) {
		rc = err_set(e, -EOPNOTSUPP,
		             "repository format version %lld is not supported (this cairn reads %d "
		             "and %d)",
		             (long long)version, REPO_VERSION_MIN, REPO_VERSION);
		goto fail;
	}
	/* Version 1 has no algorithm names (BLAKE2b ids; it tolerates unknown fields, as
	 * every cairn reading it did); version 2 names them and has no other fields. */
	if (version == 1)
		bad = json_unpack(o, "{s:s, s:{s:I, s:I, s:I}, s:I, s?I}", "id", &id, "chunker",
		                  "min", &cmin, "avg", &cavg, "max", &cmax, "pack_size", &pack,
		                  "zstd_level", &level) < 0 ||
		      json_object_get(o, "algorithms");
	else
		bad = json_unpack(o, "{s:I, s:s, s:{s:I, s:I, s:I !}, s:I, s:I, s:o !}", "version",
		                  &version, "id", &id, "chunker", "min", &cmin, "avg", &cavg, "max",
		                  &cmax, "pack_size", &pack, "zstd_level", &level, "algorithms",
		                  &algs) < 0;
	if (bad) {
		err_set(e, rc, "config is missing fields or has unknown ones");
		goto fail;
	}
	if (algs) {
		rc = config_algorithms(algs, &alg, &names, e);
		if (rc < 0)
			goto fail;
		rc = -EBADMSG;
	}
	cp.min = (uint32_t)cmin;
	cp.avg = (uint32_t)cavg;
	cp.max = (uint32_t)cmax;
	/* Ordered and bounded before the casts above mean anything (a hostile avg of
	 * 2^32 + 1 MiB would otherwise pass as 1 MiB). */
	if (cmin <= 0 || cmin >= cavg || cavg >= cmax || cmax > CHUNKER_MAX_LIMIT ||
	    chunker_init(&r->chunker, &cp, key_chunker_seed(r->key)) < 0 || pack < REPO_PACK_MIN ||
	    pack > REPO_PACK_MAX || !hex_valid(id, ID_BYTES) || level < 1 || level > 19) {
		err_set(e, rc, "config has invalid parameters");
		goto fail;
	}
	rc = key_set_id_alg(r->key, alg);
	if (rc < 0) {
		err_set(e, rc, "cannot set up the %s content ids", key_id_alg_name(alg));
		goto fail;
	}
	r->name_alg = names;
	r->pack_size = (uint32_t)pack;
	r->zstd_level = (int)level;
	snprintf(r->id_hex, sizeof(r->id_hex), "%s", id);
	rc = 0;
fail:
	json_decref(o);
	return rc;
}

/* Version 1 configs keep their field set byte for byte; version 2 adds the algorithms. */
static json_t *config_new(const struct repo_create_params *p, const char *name)
{
	json_t *c = json_pack("{s:i, s:s, s:{s:i, s:i, s:i}, s:i, s:i}", "version",
	                      p->format_version, "id", name, "chunker", "min", (int)p->chunker.min,
	                      "avg", (int)p->chunker.avg, "max", (int)p->chunker.max, "pack_size",
	                      (int)p->pack_size, "zstd_level", p->zstd_level);

	if (c && p->format_version >= 2 &&
	    json_object_set_new(c, "algorithms",
	                        json_pack("{s:s, s:s, s:s, s:s}", "id",
	                                  key_id_alg_name(KEY_ID_HMAC_SHA256), "names",
	                                  key_name_alg_name(KEY_NAME_SHA256), "seal", REPO_ALG_SEAL,
	                                  "compression", REPO_ALG_COMPRESSION)) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

int repo_create(const struct repo_open_params *o, const struct repo_create_params *p,
		struct repo **ret, struct err *e)
{
	struct repo *r = NULL;
	char host[256] = "", *kf = NULL, *cfg = NULL, name[ID_HEX];
	uint8_t rid[ID_BYTES];
	json_t *c = NULL;
	int rc;

	if (chunker_params_check(&p->chunker) < 0)
		return err_set(e, -EINVAL, "invalid chunker sizes (min < avg < max, avg a power of 2)");
	if (p->pack_size < REPO_PACK_MIN || p->pack_size > REPO_PACK_MAX)
		return err_set(e, -EINVAL, "pack size must be between 1 MiB and 512 MiB");
	if (p->format_version < REPO_VERSION_MIN || p->format_version > REPO_VERSION)
		return err_set(e, -EINVAL, "format version must be %d or %d", REPO_VERSION_MIN,
		               REPO_VERSION);
	rc = repo_alloc(o, e, &r);
	if (rc < 0)
		return rc;
	rc = key_generate(&r->key);
	if (rc < 0)
		goto fail;
	randombytes_buf(rid, sizeof(rid));
	hex_encode(rid, sizeof(rid), name);
	c = config_new(p, name);
	cfg = c ? json_dumps(c, JSON_SORT_KEYS) : NULL;
	if (!cfg) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = repo_config_apply(r, cfg, strlen(cfg), e);
	if (rc < 0)
		goto fail;
	gethostname(host, sizeof(host) - 1);
	rc = keyfile_create(r->key, o->password, o->password_len, &p->kdf, host, &kf);
	if (rc == -E2BIG) {
		err_set(e, -EINVAL, "key derivation cost above the bound every reader enforces "
				    "(%llu MiB, %llu iterations)",
			(unsigned long long)(KEYFILE_MAX_MEMLIMIT >> 20),
			(unsigned long long)KEYFILE_MAX_OPSLIMIT);
		rc = -EINVAL;
		goto fail;
	}
	if (rc < 0) {
		err_set(e, rc, "creating the key file failed");
		goto fail;
	}
	rc = r->be->ops->create(r->be, e);
	if (rc < 0)
		goto fail;
	/* Key file first: a config with no key would be a repository nobody can open. */
	crypto_generichash(rid, sizeof(rid), (const uint8_t *)kf, strlen(kf), NULL, 0);
	hex_encode(rid, sizeof(rid), r->keyfile);
	rc = r->be->ops->put(r->be, OBJ_KEY, r->keyfile, kf, strlen(kf), e);
	if (rc < 0)
		goto fail;
	/* The config is created exclusively: of two concurrent inits one wins, and the loser
	 * takes its key file back and reports -EEXIST (so an agent opens the winner's). */
	rc = obj_seal_put_new(r, OBJ_CONFIG, KEY_DOMAIN_CONFIG, cfg, strlen(cfg), e);
	if (rc == -EEXIST) {
		struct err ignore = ERR_INIT;

		r->be->ops->del(r->be, OBJ_KEY, r->keyfile, &ignore);
		err_reset(e, -EEXIST, "%s: a repository was created here at the same time",
			  r->be->where);
	}
	if (rc < 0)
		goto fail;
	r->idx.loaded = true;
	*ret = r;
	r = NULL;
fail:
	json_decref(c);
	free(cfg);
	free(kf);
	repo_free(r);
	return rc;
}

struct key_try {
	struct repo *r;
	const struct repo_open_params *o;
	struct err *e;
	int tried, too_costly, damaged, cfg_bad;
	char costly[ID_HEX], first_damaged[ID_HEX], cfg_key[ID_HEX];
};

static int try_key(void *ud, const char *name, uint64_t size)
{
	struct key_try *t = ud;
	struct buf b = BUF_INIT;
	int rc;

	if (t->r->key)
		return 0; /* found already; backends list to the end */
	buf_init(&b, 64 * 1024);
	rc = t->r->be->ops->get(t->r->be, OBJ_KEY, name, 0, 0, &b, t->e);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	t->tried++;
	rc = keyfile_unlock((const char *)b.p, b.len, t->o->password, t->o->password_len,
			    &t->r->key);
	buf_release(&b);
	if (rc == 0) {
		/* A key of a repository that lost a concurrent init (removed a moment later)
		 * opens with the same password but not the config: try the next one. */
		struct err ignore = ERR_INIT;

		buf_init(&b, REPO_SMALL_OBJ_MAX);
		rc = obj_get_open(t->r, OBJ_CONFIG, KEY_DOMAIN_CONFIG, NULL, &b, &ignore);
		buf_release(&b);
		if (rc == -EBADMSG) {
			/* Remembered: when no other key opens the config either, the config is
			 * damaged, and "wrong password" would send the user hunting passwords. */
			if (!t->cfg_bad++)
				snprintf(t->cfg_key, sizeof(t->cfg_key), "%s", name);
			key_free(t->r->key);
			t->r->key = NULL;
			return 0;
		}
		if (rc < 0 && rc != -ENOENT)
			return err_set(t->e, rc, "%s", ignore.msg);
		rc = 0;
	}
	if (rc == 0) {
		snprintf(t->r->keyfile, sizeof(t->r->keyfile), "%s", name);
		return 1; /* stop listing */
	}
	if (rc == -E2BIG) {
		/* Skipped, not derived: one such file must not cost every open a gigabyte. */
		if (!t->too_costly++)
			snprintf(t->costly, sizeof(t->costly), "%s", name);
		return 0;
	}
	if (rc == -EBADMSG && !t->damaged++)
		snprintf(t->first_damaged, sizeof(t->first_damaged), "%s", name);
	return rc == -EKEYREJECTED || rc == -EBADMSG || rc == -EOPNOTSUPP ? 0 : rc;
}

/* No key opened the repository: say why, distinguishing a damaged repository (exit 14)
 * from a wrong password (exit 12). */
static int no_key(const struct key_try *t, const char *where, struct err *e)
{
	if (t->cfg_bad)
		return err_reset(e, -EBADMSG,
				 "%s: the password opens key %.8s but the config fails "
				 "authentication: the config is damaged",
				 where, t->cfg_key);
	if (t->tried && t->damaged == t->tried)
		return err_reset(e, -EBADMSG,
				 "no usable key in %s: %d key file%s damaged (first %.8s)", where,
				 t->damaged, t->damaged == 1 ? " is" : "s are", t->first_damaged);
	if (t->damaged)
		return err_reset(e, -EKEYREJECTED,
				 "wrong password: no key in %s opens with it (%d key file%s "
				 "damaged, first %.8s)",
				 where, t->damaged, t->damaged == 1 ? " is" : "s are",
				 t->first_damaged);
	return err_reset(e, -EKEYREJECTED,
			 t->tried ? "wrong password: no key in %s opens with it"
				  : "no key files in %s",
			 where);
}

int repo_open(const struct repo_open_params *o, struct repo **ret, struct err *e)
{
	struct key_try t = { .o = o, .e = e };
	struct buf cfg = BUF_INIT;
	struct repo *r = NULL;
	uint64_t size;
	int rc;

	rc = repo_alloc(o, e, &r);
	if (rc < 0)
		return rc;
	rc = r->be->ops->stat(r->be, OBJ_CONFIG, NULL, &size, e);
	if (rc == -ENOENT) {
		rc = err_reset(e, -ENOENT, "no repository at %s (run 'cairn init' to create one)",
			       r->be->where);
		goto fail;
	}
	if (rc < 0)
		goto fail;
	t.r = r;
	rc = r->be->ops->list(r->be, OBJ_KEY, try_key, &t, e);
	if (rc < 0)
		goto fail;
	if (!r->key && t.too_costly) {
		rc = err_reset(e, -EKEYREJECTED,
			       "%s in %s: no key opens with this password; skipped %d key file%s "
			       "(first %.8s) whose key derivation asks more than %llu MiB or %llu "
			       "iterations",
			       t.tried > t.too_costly ? "wrong password" : "no usable key",
			       r->be->where, t.too_costly, t.too_costly == 1 ? "" : "s", t.costly,
			       (unsigned long long)(KEYFILE_MAX_MEMLIMIT >> 20),
			       (unsigned long long)KEYFILE_MAX_OPSLIMIT);
		goto fail;
	}
	if (!r->key) {
		rc = no_key(&t, r->be->where, e);
		goto fail;
	}
	buf_init(&cfg, REPO_SMALL_OBJ_MAX);
	rc = obj_get_open(r, OBJ_CONFIG, KEY_DOMAIN_CONFIG, NULL, &cfg, e);
	if (rc >= 0)
		rc = repo_config_apply(r, (const char *)cfg.p, cfg.len, e);
	if (rc < 0)
		goto fail;
	*ret = r;
	r = NULL;
fail:
	buf_release(&cfg);
	repo_free(r);
	return rc;
}

struct backend *repo_backend(struct repo *r)
{
	return r->be;
}

const struct key *repo_key(const struct repo *r)
{
	return r->key;
}

const struct chunker *repo_chunker(const struct repo *r)
{
	return &r->chunker;
}

const char *repo_id_hex(const struct repo *r)
{
	return r->id_hex;
}

const char *repo_keyfile_name(const struct repo *r)
{
	return r->keyfile;
}

uint32_t repo_pack_size(const struct repo *r)
{
	return r->pack_size;
}

int repo_config_json(struct repo *r, char **ret, struct err *e)
{
	struct buf cfg = BUF_INIT;
	int rc;

	buf_init(&cfg, REPO_SMALL_OBJ_MAX);
	rc = obj_get_open(r, OBJ_CONFIG, KEY_DOMAIN_CONFIG, NULL, &cfg, e);
	if (rc >= 0)
		rc = buf_put_u8(&cfg, 0);
	if (rc < 0) {
		buf_release(&cfg);
		return rc;
	}
	*ret = (char *)buf_take(&cfg, NULL);
	return 0;
}
