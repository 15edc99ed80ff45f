/* Owns the controller's /metrics (Prometheus text) and /healthz, served by
 * libmicrohttpd's own thread; counters are per schedule ("" for Backups made by hand). */
#include "controller/ctl-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/buf.h"

#define METRICS_MAX_SCHEDULES 256

struct sched_stats {
	char name[254];
	uint64_t attempts, successes, partial, failures, bytes;
	double seconds_sum;
	uint64_t seconds_count;
	time_t last_success;
};

struct ctl_metrics {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	struct sched_stats s[METRICS_MAX_SCHEDULES];
	size_t n;
	unsigned port;
};

static struct sched_stats *find(struct ctl_metrics *m, const char *sched)
{
	if (!sched)
		sched = "";
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->s[i].name, sched) == 0)
			return &m->s[i];
	if (m->n == METRICS_MAX_SCHEDULES)
		return &m->s[0];
	snprintf(m->s[m->n].name, sizeof(m->s[0].name), "%s", sched);
	return &m->s[m->n++];
}

void ctl_metrics_attempt(struct ctl_metrics *m, const char *schedule)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	find(m, schedule)->attempts++;
	pthread_mutex_unlock(&m->lock);
}

void ctl_metrics_backup(struct ctl_metrics *m, const char *schedule, const char *phase,
                        double seconds, uint64_t bytes, time_t when)
{
	struct sched_stats *s;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	s = find(m, schedule);
	if (strcmp(phase, "Completed") == 0) {
		s->successes++;
		s->last_success = when;
	} else if (strcmp(phase, "PartiallyFailed") == 0) {
		s->partial++;
	} else {
		s->failures++;
	}
	if (strcmp(phase, "FailedValidation") == 0)
		s->attempts++; /* never started, but attempted */
	s->bytes += bytes;
	s->seconds_sum += seconds;
	s->seconds_count++;
	pthread_mutex_unlock(&m->lock);
}

static int render(struct ctl_metrics *m, struct buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "cairn_backup_attempt_total", "Backups started",
		  offsetof(struct sched_stats, attempts) },
		{ "cairn_backup_success_total", "Backups Completed",
		  offsetof(struct sched_stats, successes) },
		{ "cairn_backup_partial_failure_total", "Backups PartiallyFailed",
		  offsetof(struct sched_stats, partial) },
		{ "cairn_backup_failure_total", "Backups Failed or FailedValidation",
		  offsetof(struct sched_stats, failures) },
		{ "cairn_backup_bytes_total", "Bytes read by finished backups",
		  offsetof(struct sched_stats, bytes) },
	};
	char line[512];
	int r = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]) && r == 0; c++) {
		snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s counter\n", counters[c].name,
		         counters[c].help, counters[c].name);
		r = buf_append(b, line, strlen(line));
		for (size_t i = 0; i < m->n && r == 0; i++) {
			uint64_t v = *(const uint64_t *)((const char *)&m->s[i] + counters[c].off);

			snprintf(line, sizeof(line), "%s{schedule=\"%s\"} %llu\n", counters[c].name,
			         m->s[i].name, (unsigned long long)v);
			r = buf_append(b, line, strlen(line));
		}
	}
	snprintf(line, sizeof(line),
	         "# HELP cairn_backup_duration_seconds Time from start to final phase\n"
	         "# TYPE cairn_backup_duration_seconds summary\n");
	if (r == 0)
		r = buf_append(b, line, strlen(line));
	for (size_t i = 0; i < m->n && r == 0; i++) {
		snprintf(line, sizeof(line),
		         "cairn_backup_duration_seconds_sum{schedule=\"%s\"} %.3f\n"
		         "cairn_backup_duration_seconds_count{schedule=\"%s\"} %llu\n",
		         m->s[i].name, m->s[i].seconds_sum, m->s[i].name,
		         (unsigned long long)m->s[i].seconds_count);
		r = buf_append(b, line, strlen(line));
	}
	snprintf(line, sizeof(line),
	         "# HELP cairn_backup_last_successful_timestamp Unix time of the last Completed "
	         "backup\n# TYPE cairn_backup_last_successful_timestamp gauge\n");
	if (r == 0)
		r = buf_append(b, line, strlen(line));
	for (size_t i = 0; i < m->n && r == 0; i++) {
		if (!m->s[i].last_success)
			continue;
		snprintf(line, sizeof(line),
		         "cairn_backup_last_successful_timestamp{schedule=\"%s\"} %lld\n",
		         m->s[i].name, (long long)m->s[i].last_success);
		r = buf_append(b, line, strlen(line));
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_len, void **state)
{
	struct ctl_metrics *m = cls;
	struct MHD_Response *resp;
	struct buf b = BUF_INIT;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;
	size_t len;
	uint8_t *p;

	(void)version, (void)upload, (void)upload_len, (void)state;
	buf_init(&b, 64 * 1024);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		if (buf_append(&b, "method not allowed\n", 19) < 0)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (strcmp(url, "/metrics") == 0) {
		if (render(m, &b) < 0)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (strcmp(url, "/healthz") == 0) {
		if (buf_append(&b, "ok\n", 3) < 0)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else {
		status = MHD_HTTP_NOT_FOUND;
		if (buf_append(&b, "not found\n", 10) < 0)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	p = buf_take(&b, &len);
	resp = MHD_create_response_from_buffer(len, p ? p : (uint8_t *)"",
	                                       p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int ctl_metrics_start(const char *addr, struct ctl_metrics **ret, struct err *e)
{
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	struct ctl_metrics *m;
	char host[64], *end;
	unsigned long port;

	*ret = NULL;
	if (!addr || !*addr)
		return 0;
	port = colon ? strtoul(colon + 1, &end, 10) : 0;
	if (!colon || end == colon + 1 || *end || port > 65535 ||
	    (size_t)(colon - addr) >= sizeof(host))
		return err_set(e, -EINVAL, "bad metrics address '%s'", addr);
	sa.sin_port = htons((uint16_t)port);
	if (colon != addr) {
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = 0;
		if (inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1",
		              &sa.sin_addr) != 1)
			return err_set(e, -EINVAL, "bad metrics address '%s'", addr);
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, m,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                        MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT,
	                        10u, MHD_OPTION_END);
	if (!m->d) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return err_set(e, -EADDRINUSE, "cannot serve metrics on %s", addr);
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : (unsigned)port;
	*ret = m;
	return 0;
}

unsigned ctl_metrics_port(const struct ctl_metrics *m)
{
	return m ? m->port : 0;
}

void ctl_metrics_stop(struct ctl_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
