/* S3 locations (libcurl's URL API: ports, IPv6 hosts, bad URLs), s3.* options and the
 * AWS credentials file (libinih: profiles, comments, long session tokens). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3-internal.h"
#include "tests/tap.h"

#include "util/banned.h"

static struct s3_conf conf;
static struct err err;

static int parse_opts(const char *spec, const char *const *kv, size_t n)
{
	struct backend_options o = { kv, n };

	s3_conf_release(&conf);
	err_clear(&err);
	return s3_conf_parse(spec, &o, &conf, &err);
}

static int parse(const char *spec)
{
	return parse_opts(spec, NULL, 0);
}

static void good(const char *spec, bool https, const char *host, const char *bucket,
                 const char *prefix, bool vhost)
{
	int r = parse(spec);

	if (!ok(r == 0, "%s parses", spec)) {
		tap_diag("%d %s", r, err.msg);
		return;
	}
	ok(conf.https == https && strcmp(conf.host, host) == 0 &&
	       strcmp(conf.bucket, bucket) == 0 && strcmp(conf.prefix, prefix) == 0 &&
	       conf.vhost == vhost,
	   "%s: %s host '%s' bucket '%s' prefix '%s'%s", spec, conf.https ? "https" : "http",
	   conf.host, conf.bucket, conf.prefix, conf.vhost ? " vhost" : "");
}

static void bad(const char *spec, const char *why, const char *secret)
{
	int r = parse(spec);

	ok(r == -EINVAL && strstr(err.msg, why) && (!secret || !strstr(err.msg, secret)),
	   "%s refused: %s", spec, err.msg);
}

static void locations(void)
{
	good("http://127.0.0.1:9000/bucket/repo", false, "127.0.0.1:9000", "bucket", "repo/",
	     false);
	good("https://minio.example:443/bkt", true, "minio.example:443", "bkt", "", false);
	good("s3.example.com/my-bucket/a/b/", true, "s3.example.com", "my-bucket", "a/b/", false);
	good("https://h/bucket//deep/prefix//", true, "h", "bucket", "deep/prefix/", false);
	good("http://[::1]:8080/bucket/p", false, "[::1]:8080", "bucket", "p/", false);
	good("https://[2001:db8::7]/bucket", true, "[2001:db8::7]", "bucket", "", false);
	good("s3.amazonaws.com/bucket/p", true, "s3.amazonaws.com", "bucket", "p/", true);
	good("https://s3.eu-west-1.amazonaws.com:443/bucket", true,
	     "s3.eu-west-1.amazonaws.com:443", "bucket", "", true);
	good("https://h/bucket/with%20space", true, "h", "bucket", "with space/", false);
	good("https://h:/bucket", true, "h", "bucket", "", false);

	bad("ftp://h/bucket", "only http:// and https://", NULL);
	bad("https://h", "not a valid bucket name", NULL);
	bad("https://h/", "not a valid bucket name", NULL);
	bad("https:///bucket", "no host", NULL);
	bad("https://h/Bucket", "not a valid bucket name", NULL);
	bad("https://h/ab", "not a valid bucket name", NULL);
	bad("https://h:65536/bucket", "Port number", NULL);
	bad("https://h:0/bucket", "bad host or port", NULL);
	bad("https://h:x1/bucket", "Port number", NULL);
	bad("https://[::1/bucket", "expected s3:http[s]://HOST", NULL);
	bad("https://[fe80::1%25eth0]/bucket", "bad host or port", NULL);
	bad("https://h w/bucket", "expected s3:http[s]://HOST", NULL);
	bad("https://h/bucket?x=1", "no ?query", NULL);
	bad("https://h/bucket#frag", "no ?query", NULL);
	bad("https://h/bucket/a/../b", "bad prefix", NULL);
	bad("https://h/bucket/./b", "bad prefix", NULL);
	bad("https://h/bucket/a%0Ab", "bad p", NULL);
	bad("https://AKIDEXAMPLE:wJalrXUtnFEMI@h/bucket", "do not belong", "wJalrXUtnFEMI");
	bad("https://AKIDEXAMPLE@h/bucket", "do not belong", "AKIDEXAMPLE");
}

static void options(void)
{
	const char *dns[] = { "s3.bucket-lookup=dns" }, *dotted[] = { "s3.bucket-lookup=dns" };
	const char *sizes[] = { "s3.part-size=8M", "s3.multipart-threshold=1G",
		                "s3.connections=3" };
	const char *small[] = { "s3.part-size=1M" }, *lookup[] = { "s3.bucket-lookup=x" };
	const char *tls_on[] = { "s3.insecure-tls=true", "s3.insecure-tls=1",
		                 "s3.insecure-tls=yes" };
	const char *tls_off[] = { "s3.insecure-tls=false", "s3.insecure-tls=0",
		                  "s3.insecure-tls=no" };
	const char *tls_bad[] = { "s3.insecure-tls=", "s3.insecure-tls=on", "s3.insecure-tls=TRUE",
		                  "s3.insecure-tls= true" };

	ok(parse_opts("https://h/bucket", dns, 1) == 0 && conf.vhost, "s3.bucket-lookup=dns");
	is_int(parse_opts("https://h/my.bucket", dotted, 1), -EINVAL,
	       "dotted bucket with dns lookup over TLS refused");
	ok(parse_opts("https://h/bucket", sizes, 3) == 0 && conf.part_size == 8u << 20 &&
	       conf.multipart_threshold == 1u << 30 && conf.connections == 3,
	   "sizes with units, connections");
	ok(parse_opts("https://h/bucket", small, 1) == -EINVAL && strstr(err.msg, "s3.part-size"),
	   "part size below 5M refused: %s", err.msg);
	is_int(parse_opts("https://h/bucket", lookup, 1), -EINVAL, "unknown bucket-lookup");
	for (size_t i = 0; i < ELEMENTSOF(tls_on); i++) {
		const char *kv[] = { tls_on[i] };

		ok(parse_opts("https://h/bucket", kv, 1) == 0 && conf.insecure_tls,
		   "%s turns TLS "
		   "checks off",
		   tls_on[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(tls_off); i++) {
		const char *kv[] = { tls_off[i] };

		ok(parse_opts("https://h/bucket", kv, 1) == 0 && !conf.insecure_tls,
		   "%s keeps them on", tls_off[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(tls_bad); i++) {
		const char *kv[] = { tls_bad[i] };

		ok(parse_opts("https://h/bucket", kv, 1) == -EINVAL &&
		       strstr(err.msg, "s3.insecure-tls"),
		   "'%s' is an error: %s", tls_bad[i], err.msg);
	}
	ok(parse("https://h/bucket") == 0 && conf.part_size == 16u << 20 && conf.connections == 8 &&
	       !conf.insecure_tls,
	   "defaults");
}

static char dir[] = "/tmp/cairn-s3conf.XXXXXX";
static char file[256];

static int creds_from(const char *text, const char *profile, struct s3_creds *c)
{
	const char *kv[2];
	size_t n = 0;
	struct backend_options o = { kv, 0 };
	static char fopt[300], popt[300];
	FILE *f = fopen(file, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return -EIO;
	snprintf(fopt, sizeof(fopt), "s3.credentials-file=%s", file);
	kv[n++] = fopt;
	if (profile) {
		snprintf(popt, sizeof(popt), "s3.profile=%s", profile);
		kv[n++] = popt;
	}
	o.n = n;
	err_clear(&err);
	return s3_creds_load(&o, c, &err);
}

static void credentials(void)
{
	struct s3_creds c = { 0 };
	char text[8192], tok[2001];
	int r;

	if (!mkdtemp(dir))
		return;
	snprintf(file, sizeof(file), "%s/credentials", dir);
	r = creds_from("# Velero's cloud-credentials\n[default]\naws_access_key_id = test:tester\n"
	               "aws_secret_access_key = testing\n",
	               NULL, &c);
	ok(r == 0 && strcmp(c.access_key, "test:tester") == 0 && strcmp(c.secret, "testing") == 0 &&
	       !c.token,
	   "default profile (key id with a colon)");
	s3_creds_release(&c);
	r = creds_from("[default]\naws_access_key_id=A\naws_secret_access_key=B\n"
	               "[profile backup]\r\n  AWS_ACCESS_KEY_ID = K2 \r\n"
	               "aws_secret_access_key = S2 ; a comment\r\n; comment\n"
	               "aws_session_token = T2\n[other]\naws_access_key_id = X\n",
	               "backup", &c);
	ok(r == 0 && strcmp(c.access_key, "K2") == 0 && strcmp(c.secret, "S2") == 0 && c.token &&
	       strcmp(c.token, "T2") == 0,
	   "[profile NAME] section, CRLF, case, comments: %s", err.msg);
	s3_creds_release(&c);
	memset(tok, 'Q', sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = 0;
	tok[0] = 'F';
	tok[sizeof(tok) - 2] = 'L';
	snprintf(text, sizeof(text),
	         "[default]\n# %s\naws_access_key_id=A\naws_secret_access_key=B\n"
	         "aws_session_token = %s\n[x]\naws_session_token = %s\n",
	         tok, tok, tok);
	r = creds_from(text, NULL, &c);
	ok(r == 0 && c.token && strcmp(c.token, tok) == 0 && strcmp(c.secret, "B") == 0,
	   "a 2000-byte session token and comment survive libinih's 200-byte lines");
	s3_creds_release(&c);
	/* A distinctive secret: a one-letter one also turns up in the random temp path. */
	r = creds_from("[default]\naws_access_key_id=A\naws_secret_access_key=s3kr1t-xyzzy\n  C\n",
		       NULL, &c);
	ok(r == -EINVAL && strstr(err.msg, "indented line") && !strstr(err.msg, "s3kr1t-xyzzy"),
	   "indented continuation of a key refused: %s", err.msg);
	r = creds_from("[default]\naws_access_key_id=A\naws_secret_access_key=B\n"
	               "aws_secret_access_key=C\n",
	               NULL, &c);
	is_int(r, -EINVAL, "a key set twice refused");
	r = creds_from("[default]\naws_access_key_id A\naws_secret_access_key=SECRETX\n", NULL, &c);
	ok(r == -EACCES && strstr(err.msg, "line 2 not understood") && !strstr(err.msg, "SECRETX"),
	   "a missing key names the unreadable line, not the secret: %s", err.msg);
	r = creds_from("[default]\naws_access_key_id=A\naws_secret_access_key=B\n", "nope", &c);
	ok(r == -EACCES && strstr(err.msg, "profile 'nope'"), "unknown profile: %s", err.msg);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	locations();
	options();
	credentials();
	s3_conf_release(&conf);
	return tap_done();
}
