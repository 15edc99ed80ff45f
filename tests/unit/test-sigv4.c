/* SigV4 against the AWS signing test suite (tests/vectors/sigv4), the S3 documentation
 * examples, and botocore's S3 signer on random requests (tests/s3/botosign.py). */
#include "s3/sigv4.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"
#include "util/fsutil.h"

#include "util/banned.h"

static const char *srcdir(void)
{
	const char *s = getenv("TOP_SRCDIR");

	return s && s[0] ? s : ".";
}

static char *slurp(const char *dir, const char *name)
{
	struct buf b = BUF_INIT;
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	buf_init(&b, 1 << 20);
	if (read_file_at(AT_FDCWD, p, &b) < 0 || buf_append(&b, "", 1) < 0) {
		buf_release(&b);
		return NULL;
	}
	return (char *)buf_take(&b, NULL);
}

/* request.txt: "METHOD PATH HTTP/1.1", "Name:value" lines (indented lines continue the
 * previous value), a blank line, the body. Fills headers (pointing into req). */
static int parse_request(char *req, struct sigv4_input *in, struct sigv4_header *h, size_t *nh,
                         const char **body)
{
	char *nl = strchr(req, '\n'), *rest, *sp, *ver;

	rest = nl ? nl + 1 : req + strlen(req);
	if (nl)
		*nl = 0;
	sp = strchr(req, ' ');
	ver = strstr(req, " HTTP/");
	if (!sp || !ver)
		return -EINVAL;
	*sp = 0;
	*ver = 0;
	in->method = req;
	in->path = sp + 1;
	in->query = NULL;
	if ((sp = strchr(sp + 1, '?'))) {
		*sp = 0;
		in->query = sp + 1;
	}
	*body = "";
	while (*rest) {
		char *line = rest;

		nl = strchr(line, '\n');
		if (nl) {
			*nl = 0;
			rest = nl + 1;
		} else {
			rest = line + strlen(line);
		}
		if (!line[0]) {
			*body = rest;
			break;
		}
		if (line[0] == ' ' && *nh) {
			/* A continuation: overwrite the NUL that ended the previous value so the
			 * two lines form one value (the signer folds the spaces). */
			char *v = (char *)h[*nh - 1].value;

			v[strlen(v)] = ' ';
		} else if ((sp = strchr(line, ':')) && *nh < SIGV4_MAX_HEADERS - 3) {
			*sp = 0;
			h[*nh].name = line;
			h[(*nh)++].value = sp + 1;
		}
	}
	return 0;
}

static void amz_date_of(const char *iso, char out[SIGV4_AMZ_DATE])
{
	/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
	size_t o = 0;

	for (size_t i = 0; iso[i] && o + 1 < SIGV4_AMZ_DATE; i++)
		if (iso[i] != '-' && iso[i] != ':')
			out[o++] = iso[i];
	out[o] = 0;
}

static void vector_case(const char *name)
{
	char dir[512], date[SIGV4_AMZ_DATE], ph[SIGV4_HEX_SHA256];
	struct sigv4_header h[SIGV4_MAX_HEADERS];
	struct buf canon = BUF_INIT, sts = BUF_INIT, auth = BUF_INIT;
	char *req, *ctx_s, *want_cr, *want_sts, *want_sig;
	struct sigv4_input in = { 0 };
	const char *body = "", *tok, *sig;
	json_t *ctx;
	size_t nh = 0;

	snprintf(dir, sizeof(dir), "%s/tests/vectors/sigv4/%s", srcdir(), name);
	req = slurp(dir, "request.txt");
	ctx_s = slurp(dir, "context.json");
	want_cr = slurp(dir, "header-canonical-request.txt");
	want_sts = slurp(dir, "header-string-to-sign.txt");
	want_sig = slurp(dir, "header-signature.txt");
	ctx = ctx_s ? json_loads(ctx_s, 0, NULL) : NULL;
	if (!ok(req && ctx && want_cr && want_sts && want_sig, "%s: vector files readable", name))
		goto out;
	if (!ok(parse_request(req, &in, h, &nh, &body) == 0, "%s: request parses", name))
		goto out;
	amz_date_of(json_string_value(json_object_get(ctx, "timestamp")), date);
	sigv4_sha256_hex(body, strlen(body), ph);
	h[nh++] = (struct sigv4_header){ "X-Amz-Date", date };
	tok = json_string_value(json_object_get(json_object_get(ctx, "credentials"), "token"));
	if (tok && !json_is_true(json_object_get(ctx, "omit_session_token")))
		h[nh++] = (struct sigv4_header){ "X-Amz-Security-Token", tok };
	if (json_is_true(json_object_get(ctx, "sign_body")))
		h[nh++] = (struct sigv4_header){ "x-amz-content-sha256", ph };
	in.headers = h;
	in.n_headers = nh;
	in.payload_hash = ph;
	in.amz_date = date;
	in.region = json_string_value(json_object_get(ctx, "region"));
	in.service = json_string_value(json_object_get(ctx, "service"));
	buf_init(&canon, 1 << 16);
	buf_init(&sts, 1 << 16);
	buf_init(&auth, 1 << 16);
	ok(sigv4_canonical_request(&in, &canon) == 0 && strcmp((char *)canon.p, want_cr) == 0,
	   "%s: canonical request", name);
	ok(sigv4_string_to_sign(&in, want_cr, &sts) == 0 && strcmp((char *)sts.p, want_sts) == 0,
	   "%s: string to sign", name);
	ok(sigv4_authorization(&in,
	                       json_string_value(json_object_get(
	                           json_object_get(ctx, "credentials"), "access_key_id")),
	                       json_string_value(json_object_get(
	                           json_object_get(ctx, "credentials"), "secret_access_key")),
	                       &auth) == 0 &&
	       (sig = strstr((char *)auth.p, "Signature=")) && strcmp(sig + 10, want_sig) == 0,
	   "%s: signature", name);
out:
	buf_release(&canon);
	buf_release(&sts);
	buf_release(&auth);
	json_decref(ctx);
	free(req);
	free(ctx_s);
	free(want_cr);
	free(want_sts);
	free(want_sig);
}

static void vectors(void)
{
	char *cases = slurp(srcdir(), "tests/vectors/sigv4/CASES"), *save = NULL;
	int n = 0;

	if (!ok(cases != NULL, "vector case list readable"))
		return;
	for (char *c = strtok_r(cases, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		if (strcmp(c, "LICENSE") && strcmp(c, "NOTICE") && strcmp(c, "CASES")) {
			vector_case(c);
			n++;
		}
	}
	ok(n >= 25, "ran %d vector cases", n);
	free(cases);
}

/* The S3 documentation's GET Object example (examplebucket, 20130524). */
static void s3_doc_example(void)
{
	const struct sigv4_header h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256",
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "x-amz-date", "20130524T000000Z" },
	};
	struct sigv4_input in = {
		.method = "GET",
		.path = "/test.txt",
		.query = NULL,
		.headers = h,
		.n_headers = 4,
		.payload_hash = h[2].value,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
	};
	struct buf auth = BUF_INIT;
	const char *sig;

	buf_init(&auth, 4096);
	ok(sigv4_authorization(&in, "AKIAIOSFODNN7EXAMPLE",
	                       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &auth) == 0 &&
	       (sig = strstr((char *)auth.p, "Signature=")) &&
	       strcmp(sig + 10,
	              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0,
	   "S3 documentation GET Object example");
	buf_release(&auth);
}

static void encoding(void)
{
	struct buf b = BUF_INIT;
	struct sigv4_input in = { .method = "GET",
		                  .path = "/",
		                  .payload_hash = "x",
		                  .amz_date = "20130524T000000Z",
		                  .region = "r",
		                  .service = "s3" };

	buf_init(&b, 4096);
	ok(sigv4_uri_encode(&b, "a b+c/d~é", 10, true) == 0 && buf_append(&b, "", 1) == 0 &&
	       strcmp((char *)b.p, "a%20b%2Bc/d~%C3%A9") == 0,
	   "path encoding keeps / and unreserved, escapes the rest in upper hex");
	buf_reset(&b);
	ok(sigv4_uri_encode(&b, "a/b", 3, false) == 0 && buf_append(&b, "", 1) == 0 &&
	       strcmp((char *)b.p, "a%2Fb") == 0,
	   "query encoding escapes /");
	buf_reset(&b);
	in.query = "uploads";
	ok(sigv4_canonical_request(&in, &b) == 0 && strstr((char *)b.p, "\nuploads=\n"),
	   "a parameter without value is canonicalised as 'uploads='");
	buf_reset(&b);
	in.query = "prefix=a%2fb&list-type=2&continuation-token=x%2B%3D";
	ok(sigv4_canonical_request(&in, &b) == 0 &&
	       strstr((char *)b.p, "\ncontinuation-token=x%2B%3D&list-type=2&prefix=a%2Fb\n"),
	   "query pairs sorted, escapes normalised to upper case");
	buf_reset(&b);
	in.query = "a=%zz";
	ok(sigv4_canonical_request(&in, &b) == -EINVAL, "bad escape rejected");
	buf_reset(&b);
	in.query = "a=%4";
	ok(sigv4_canonical_request(&in, &b) == -EINVAL, "truncated escape rejected");
	buf_release(&b);
}

#define N_RANDOM 60

static void rand_token(char *out, size_t n, const char *alphabet)
{
	size_t al = strlen(alphabet), len = 1 + randombytes_uniform((uint32_t)n - 1);

	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[randombytes_uniform((uint32_t)al)];
	out[len] = 0;
}

/* One random S3-ish request signed by us and by botocore: both must agree byte for byte. */
static bool cross_one(FILE *to, FILE *from)
{
	static const char *const methods[] = { "GET", "PUT", "HEAD", "DELETE", "POST" };
	static const char keychars[] = "abcXYZ019-._~ +%&=!()*,;:@$'/é";
	char key[40], qk[12], qv[24], hv[32], line[1 << 16], date[SIGV4_AMZ_DATE], ph[65];
	struct buf path = BUF_INIT, url = BUF_INIT, q = BUF_INIT, canon = BUF_INIT, auth = BUF_INIT;
	struct sigv4_header h[6];
	json_t *rq = NULL, *hdrs = NULL, *rep = NULL;
	bool good = false;
	char *js = NULL;
	size_t nh = 0;
	struct sigv4_input in = { 0 };

	buf_init(&path, 4096);
	buf_init(&url, 4096);
	buf_init(&q, 4096);
	buf_init(&canon, 1 << 16);
	buf_init(&auth, 4096);
	rand_token(key, sizeof(key), keychars);
	if (buf_printf(&path, "/bucket-%u/%s", randombytes_uniform(100), key) < 0)
		goto out;
	for (int i = (int)randombytes_uniform(4); i > 0; i--) {
		rand_token(qk, sizeof(qk), "abcdefgh-");
		rand_token(qv, sizeof(qv), keychars);
		if (buf_printf(&q, "%s%s=", q.len ? "&" : "", qk) < 0 ||
		    sigv4_uri_encode(&q, qv, strlen(qv), false) < 0 || buf_append(&q, "", 1) < 0)
			goto out;
		q.len--;
	}
	if (buf_printf(&url, "http://127.0.0.1:18400") < 0 ||
	    sigv4_uri_encode(&url, (char *)path.p, path.len, true) < 0 ||
	    buf_printf(&url, "%s%s", q.len ? "?" : "", q.len ? (char *)q.p : "") < 0)
		goto out;
	sigv4_amz_date((time_t)randombytes_uniform(2000000000), date);
	sigv4_sha256_hex(key, strlen(key), ph);
	rand_token(hv, sizeof(hv), "abc XYZ  019\t-");
	h[nh++] = (struct sigv4_header){ "host", "127.0.0.1:18400" };
	h[nh++] = (struct sigv4_header){ "x-amz-date", date };
	h[nh++] = (struct sigv4_header){ "x-amz-content-sha256", ph };
	h[nh++] = (struct sigv4_header){ "X-Amz-Meta-Test", hv };
	h[nh++] = (struct sigv4_header){ "x-amz-security-token", "tok/en+=" };
	in = (struct sigv4_input){ .method = methods[randombytes_uniform(5)],
		                   .path = (char *)path.p,
		                   .query = q.len ? (char *)q.p : NULL,
		                   .headers = h,
		                   .n_headers = nh,
		                   .payload_hash = ph,
		                   .amz_date = date,
		                   .region = "eu-west-3",
		                   .service = "s3" };
	hdrs = json_pack("{s:s}", "X-Amz-Meta-Test", hv);
	rq = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:s, s:s, s:s}", "method", in.method, "url",
	               (char *)url.p, "headers", hdrs, "payload_hash", ph, "amz_date", date,
	               "access_key", "test:tester", "secret_key", "testing", "token",
	               "tok/en+=", "region", "eu-west-3");
	js = rq ? json_dumps(rq, JSON_COMPACT) : NULL;
	if (!js || fprintf(to, "%s\n", js) < 0 || fflush(to) != 0 ||
	    !fgets(line, sizeof(line), from))
		goto out;
	rep = json_loads(line, 0, NULL);
	if (sigv4_canonical_request(&in, &canon) < 0 ||
	    sigv4_authorization(&in, "test:tester", "testing", &auth) < 0 || !rep)
		goto out;
	good =
	    strcmp((char *)canon.p, json_string_value(json_object_get(rep, "canonical"))) == 0 &&
	    strcmp((char *)auth.p, json_string_value(json_object_get(rep, "authorization"))) == 0;
	if (!good)
		tap_diag("mismatch for %s %s\nours:\n%s\nbotocore:\n%s", in.method, (char *)url.p,
		         (char *)canon.p, json_string_value(json_object_get(rep, "canonical")));
out:
	free(js);
	json_decref(rq);
	json_decref(hdrs);
	json_decref(rep);
	buf_release(&path);
	buf_release(&url);
	buf_release(&q);
	buf_release(&canon);
	buf_release(&auth);
	return good;
}

static void botocore_cross_check(void)
{
	int to[2], from[2], agree = 0;
	char script[1024];
	FILE *w, *r;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/tests/s3/botosign.py", srcdir());
	if (!ok(pipe(to) == 0 && pipe(from) == 0, "pipes for botocore"))
		return;
	pid = fork();
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	w = fdopen(to[1], "w");
	r = fdopen(from[0], "r");
	for (int i = 0; i < N_RANDOM && w && r; i++)
		agree += cross_one(w, r);
	is_int(agree, N_RANDOM,
	       "botocore agrees on %d random requests (needs python3-botocore; "
	       "tests/s3/deps.sh installs it)",
	       N_RANDOM);
	if (w)
		fclose(w);
	if (r)
		fclose(r);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	vectors();
	s3_doc_example();
	encoding();
	botocore_cross_check();
	return tap_done();
}
