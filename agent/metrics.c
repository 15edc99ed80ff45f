/* Owns the agent's /metrics (Prometheus text format) and /healthz endpoints, served by
 * libmicrohttpd's own thread; counters are updated by job threads under a mutex. */
#include "agent/agent-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

struct metrics {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	uint64_t phases[_PVB_PHASE_MAX];
	uint64_t bytes, added, backups;
	double seconds;
	int running;
	uint64_t status_updates;
	double status_latency;
	bool healthy;
	uint64_t repo_opens, repo_reuses;
};

static int render(struct metrics *m, struct buf *b)
{
	int i, r = 0;

	pthread_mutex_lock(&m->lock);
	r |= buf_printf(b, "# HELP cairn_pvb_total PodVolumeBackups that reached a phase.\n"
	                   "# TYPE cairn_pvb_total counter\n");
	for (i = PVB_ACCEPTED; i < _PVB_PHASE_MAX; i++)
		r |= buf_printf(b, "cairn_pvb_total{phase=\"%s\"} %llu\n", pvb_phase_name(i),
		                (unsigned long long)m->phases[i]);
	r |= buf_printf(b,
	                "# TYPE cairn_backup_bytes_total counter\ncairn_backup_bytes_total %llu\n"
	                "# TYPE cairn_backup_added_bytes_total counter\n"
	                "cairn_backup_added_bytes_total %llu\n"
	                "# TYPE cairn_backup_duration_seconds summary\n"
	                "cairn_backup_duration_seconds_sum %.3f\n"
	                "cairn_backup_duration_seconds_count %llu\n"
	                "# TYPE cairn_backups_running gauge\ncairn_backups_running %d\n"
	                "# TYPE cairn_status_update_seconds summary\n"
	                "cairn_status_update_seconds_sum %.6f\n"
	                "cairn_status_update_seconds_count %llu\n",
	                (unsigned long long)m->bytes, (unsigned long long)m->added, m->seconds,
	                (unsigned long long)m->backups, m->running, m->status_latency,
	                (unsigned long long)m->status_updates);
	r |= buf_printf(b,
	                "# HELP cairn_restore_repository_opens_total Restores that opened their "
	                "repository (key derivation, every index file read).\n"
	                "# TYPE cairn_restore_repository_opens_total counter\n"
	                "cairn_restore_repository_opens_total %llu\n"
	                "# HELP cairn_restore_repository_reuses_total Restores that reused the "
	                "repository the previous one kept open.\n"
	                "# TYPE cairn_restore_repository_reuses_total counter\n"
	                "cairn_restore_repository_reuses_total %llu\n",
	                (unsigned long long)m->repo_opens, (unsigned long long)m->repo_reuses);
	pthread_mutex_unlock(&m->lock);
	return r < 0 ? -ENOMEM : 0;
}

/* Short fixed replies; a failure leaves an empty body, which is still a valid reply. */
static void text(struct buf *b, const char *s)
{
	if (buf_printf(b, "%s", s) < 0)
		buf_reset(b);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_len, void **state)
{
	struct metrics *m = cls;
	struct MHD_Response *resp;
	struct buf b = BUF_INIT;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;
	size_t len;
	uint8_t *p;

	buf_init(&b, 64 * 1024);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		text(&b, "method not allowed\n");
	} else if (strcmp(url, "/metrics") == 0) {
		if (render(m, &b) < 0)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (strcmp(url, "/healthz") == 0) {
		bool ok;

		pthread_mutex_lock(&m->lock);
		ok = m->healthy;
		pthread_mutex_unlock(&m->lock);
		status = ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		text(&b, ok ? "ok\n" : "not connected to the API server\n");
	} else {
		status = MHD_HTTP_NOT_FOUND;
		text(&b, "not found\n");
	}
	p = buf_take(&b, &len);
	resp = MHD_create_response_from_buffer(len, p ? p : (uint8_t *)"",
	                                       p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ":8085" (every interface), "HOST:8085" (one IPv4 address) or ":0" (a free port). */
static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	const char *colon = strrchr(addr, ':');
	char host[64], *end;
	unsigned long port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!colon)
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	if (colon == addr)
		return 0;
	if ((size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	if (strcmp(host, "localhost") == 0)
		return inet_pton(AF_INET, "127.0.0.1", &sa->sin_addr) == 1 ? 0 : -EINVAL;
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

int metrics_start(const char *addr, struct metrics **ret, struct err *e)
{
	struct sockaddr_in sa;
	struct metrics *m;

	*ret = NULL;
	if (!addr || !addr[0])
		return 0;
	if (parse_addr(addr, &sa) < 0)
		return err_set(e, -EINVAL, "--metrics-address %s: want [HOST]:PORT", addr);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->healthy = true;
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                        serve, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                        MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT,
	                        10u, MHD_OPTION_END);
	if (!m->d) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return err_set(e, -EADDRINUSE, "cannot serve metrics on %s", addr);
	}
	*ret = m;
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

unsigned metrics_port(const struct metrics *m)
{
	const union MHD_DaemonInfo *i;

	if (!m)
		return 0;
	i = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

void metrics_phase(struct metrics *m, enum pvb_phase p)
{
	if (!m || p < 0 || p >= _PVB_PHASE_MAX)
		return;
	pthread_mutex_lock(&m->lock);
	m->phases[p]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_backup_done(struct metrics *m, uint64_t bytes, uint64_t added, double seconds)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->bytes += bytes;
	m->added += added;
	m->seconds += seconds;
	m->backups++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_running(struct metrics *m, int delta)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->running += delta;
	pthread_mutex_unlock(&m->lock);
}

void metrics_status_latency(struct metrics *m, double seconds)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->status_latency += seconds;
	m->status_updates++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_healthy(struct metrics *m, bool ok)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->healthy = ok;
	pthread_mutex_unlock(&m->lock);
}

void metrics_restore_repo(struct metrics *m, bool reused)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	if (reused)
		m->repo_reuses++;
	else
		m->repo_opens++;
	pthread_mutex_unlock(&m->lock);
}
