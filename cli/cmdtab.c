/* The command table's data (see cmdtab.h): edit here, and `--help`, the man pages,
 * docs/cli.md (regenerate it: the cli-help test says how) and completions follow. */
#include "cli/cmdtab.h"

#include "util/banned.h"

/* Table rows leave their trailing fields (completion, repeat) out when they do not apply:
 * zero is the meaning, and naming every field would double the table. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define END_FLAGS                      \
	{                              \
		NULL, 0, 0, NULL, NULL \
	}
#define END_EXAMPLES \
	{            \
		NULL \
	}

const struct cmd_exit cmdtab_exits[] = {
	{ 0, "success" },
	{ 1, "any other failure" },
	{ 2, "bad flags or arguments" },
	{ 3, "finished, but some files could not be read or written (each one listed)" },
	{ 10, "no repository at the location" },
	{ 11, "the repository is locked by a live lock (the message names host and pid)" },
	{ 12, "wrong password (no key file opens with it)" },
	{ 13, "not found: unknown snapshot, path or object" },
	{ 14, "integrity failure: corrupt, truncated or forged data, a repository format or "
	       "algorithm this cairn does not read; check found problems; repair index finished "
	       "with problems (a pack header does not open: the pack is named on stderr)" },
	{ 15, "the location is read-only or access was denied" },
	{ 16, "no space left" },
	{ 17, "server or network failure after retries" },
	{ 130, "interrupted (SIGINT/SIGTERM); what was uploaded is kept and reused; a second "
	       "signal stops at once, as a crash would" },
	{ -1, NULL },
};

const struct cmd_env cmdtab_env[] = {
	{ "CAIRN_REPOSITORY", "repository location when -r is not given" },
	{ "CAIRN_PASSWORD_FILE", "file holding the password when --password-file is not given" },
	{ "CAIRN_PASSWORD", "the password itself (prefer a file)" },
	{ "CAIRN_NEW_PASSWORD_FILE", "file holding the new password when --new-password-file is "
	                             "not given" },
	{ "CAIRN_PROGRESS_FPS", "progress redraws per second (default 4 on a terminal, 1 with "
	                        "--json)" },
	{ "AWS_ACCESS_KEY_ID", "S3 access key (with AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)" },
	{ "AWS_PROFILE", "S3 credentials profile (also AWS_SHARED_CREDENTIALS_FILE)" },
	{ "AWS_REGION", "S3 signing region (also AWS_DEFAULT_REGION)" },
	{ "NODE_NAME", "the node this agent serves when --node is not given" },
	{ "KUBECONFIG", "kubeconfig file when --kubeconfig is not given and not in a pod" },
	{ "CAIRN_TEST_CLOCK_FILE", "tests only (builds configured with --enable-test-hooks): the "
	                           "controller's clock reads Unix seconds from this file" },
	{ "TMPDIR", "where temporary files go" },
	{ NULL, NULL },
};

const struct cmd_flag cmdtab_global[] = {
	{ "repo", 'r', 'r', "REPO", NULL,
	  "repository: a folder, local:PATH or s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]", "dir" },
	{ "password-file", 'p', 'p', "FILE", NULL, "read the password from FILE", "file" },
	{ "json", 0, 'j', NULL, NULL, "one JSON object per line on stdout (also after COMMAND)" },
	{ "quiet", 'q', 'q', NULL, NULL, "no progress, fewer messages (also after COMMAND)" },
	{ "verbose", 'v', 'v', NULL, NULL, "more messages; twice for debug output" },
	{ "option", 'o', 'o', "KEY=VALUE", NULL, "backend option, like s3.region=eu-west-1", NULL,
	  true },
	{ "log-format", 0, 'L', "FORMAT", "text", "log lines as text or json", "text json" },
	{ "help", 'h', 'h', NULL, NULL, "show help (also COMMAND --help)" },
	END_FLAGS,
};

#define REPO_ENV "CAIRN_REPOSITORY", "CAIRN_PASSWORD_FILE", "CAIRN_PASSWORD"

static const struct cmd_flag init_flags[] = {
	{ "chunk-min", 0, 'm', "SIZE", "512K", "smallest chunk (sizes like 512K, 1M)" },
	{ "chunk-avg", 0, 'a', "SIZE", "1M", "average chunk" },
	{ "chunk-max", 0, 'M', "SIZE", "8M", "largest chunk" },
	{ "pack-size", 0, 'P', "SIZE", "16M", "target pack file size" },
	{ "compression", 0, 'z', "LEVEL", "1",
	  "zstd level of the repository's backups (backup --compression auto uses it)" },
	{ "kdf-memory-mib", 0, 'K', "N", "19", "Argon2id memory for the password, in MiB" },
	{ "kdf-iterations", 0, 'I', "N", "2", "Argon2id passes" },
	{ "format-version", 0, 'F', "N", "2",
	  "repository format: 2 (HMAC-SHA-256 content ids), or 1 for cairn before format 2",
	  "1 2" },
	END_FLAGS,
};
static const char *const init_env[] = { REPO_ENV, "AWS_ACCESS_KEY_ID", NULL };
static const struct cmd_example init_ex[] = {
	{ "Create a repository in a folder, password from a file",
	  "cairn -r /srv/backup --password-file ~/.cairn-pw init" },
	{ "Create one in an S3 bucket with larger packs",
	  "cairn -r s3:https://s3.example.com/bucket/cairn init --pack-size 32M" },
	END_EXAMPLES,
};
static const int init_exits[] = { 0, 1, 2, 15, 16, 17, -1 };

static const struct cmd_flag backup_flags[] = {
	{ "tag", 0, 't', "TAG", NULL, "add TAG (key=value or a word) to the snapshot", NULL, true },
	{ "host", 0, 'H', "HOST", "this host's name", "record HOST as the snapshot's host" },
	{ "exclude", 'e', 'e', "GLOB", NULL, "skip paths or names matching GLOB", NULL, true },
	{ "parent", 0, 'P', "ID", "newest snapshot of the same host and paths",
	  "compare against snapshot ID (the files cache)", "snapshot" },
	{ "force", 0, 'f', NULL, NULL, "read every file (no parent)" },
	{ "cross-mounts", 0, 'X', NULL, NULL,
	  "enter filesystems mounted inside the paths (by default a mount point is kept as "
	  "an empty folder and named once)" },
	{ "one-file-system", 'x', 'x', NULL, NULL,
	  "stay on one filesystem (the default; accepted for restic users)" },
	{ "threads", 0, 'T', "N", "number of CPUs", "compress and seal workers" },
	{ "skip-empty", 0, 'E', NULL, NULL,
	  "write no snapshot when every path is an empty folder" },
	{ "stdin", 0, 'I', NULL, NULL,
	  "back up what is read from stdin until EOF as one file (no PATH); a read error "
	  "writes no snapshot" },
	{ "stdin-from-command", 0, 'C', NULL, NULL,
	  "run the words after the flags as a command (no shell) and back up its output as "
	  "one file; unless it exits 0, no snapshot is written and the exit code is 1" },
	{ "stdin-filename", 0, 'N', "NAME", "stdin",
	  "the file's name in the snapshot, which records the path /NAME" },
	{ "compression", 0, 'z', "MODE", "auto",
	  "auto: the repository's zstd level (init --compression, 1 by default), chunks that "
	  "do not compress stored raw; off: every blob raw; fastest: level -5; max: level 19 "
	  "(slow); or a zstd level from -131072 to 22",
	  "auto off fastest max" },
	END_FLAGS,
};
static const char *const backup_env[] = { REPO_ENV, "CAIRN_PROGRESS_FPS", "TMPDIR", NULL };
static const struct cmd_example backup_ex[] = {
	{ "Back up two folders with a tag", "cairn backup --tag daily /data /etc" },
	{ "Skip caches and stay on one file system",
	  "cairn backup -x --exclude '*.cache' --exclude /data/tmp /data" },
	{ "Progress and summary as JSON lines for a script", "cairn backup --json /data" },
	{ "Spend more CPU for a smaller repository (bench/README.md has the figures)",
	  "cairn backup --compression max /data" },
	{ "A database dump, stored only when pg_dump succeeds",
	  "cairn backup --stdin-filename db.dump --stdin-from-command -- pg_dump -Fc db" },
	{ "Whatever a pipe delivers (its producer's status is not seen: prefer the above)",
	  "tar -cf - /etc | cairn backup --stdin --stdin-filename etc.tar" },
	END_EXAMPLES,
};
static const int backup_exits[] = { 0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 130, -1 };

static const struct cmd_flag restore_flags[] = {
	{ "target", 't', 't', "DIR", NULL, "restore into DIR (required)", "dir" },
	{ "include", 0, 'i', "GLOB", NULL, "restore only paths or names matching GLOB", NULL,
	  true },
	{ "exclude", 0, 'e', "GLOB", NULL, "skip paths or names matching GLOB", NULL, true },
	{ "verify", 0, 'V', NULL, NULL, "re-read every restored file and compare" },
	{ "threads", 0, 'T', "N", "number of CPUs", "parallel blob fetches" },
	{ "no-owner", 0, 'O', NULL, NULL, "do not restore owners (the default unless root)" },
	{ "no-sparse", 0, 'N', NULL, NULL,
	  "write the holes of sparse files as zeros, so every restored file owns its blocks "
	  "(the default keeps them holes)" },
	{ "overwrite", 0, 'w', "WHEN", "always",
	  "always: replace what is in the target; if-changed: leave a file whose size, mtime, "
	  "mode (owners when restored) and content (hashed, compared with the snapshot) match, "
	  "as a symlink or hard link that already matches",
	  "always if-changed" },
	{ "keep-going", 0, 'k', NULL, NULL,
	  "after a file fails (a damaged or missing blob), restore everything else and exit 3 "
	  "naming each failed file; without it the restore stops at the first failure" },
	{ "keep-privileges", 0, 'P', NULL, NULL,
	  "also restore device nodes, the setuid/setgid bits of files and xattrs outside "
	  "user.* and ACLs (security.*, trusted.*); by default each device is named and not "
	  "made (exit 3) and the bits and xattrs are left off: every node can write the "
	  "repository" },
	{ "no-space-check", 0, 'S', NULL, NULL,
	  "write even when the target's filesystem has less free space than the restore needs "
	  "(by default it exits 16 before writing anything)" },
	END_FLAGS,
};
static const char *const restore_env[] = { REPO_ENV, "CAIRN_PROGRESS_FPS", NULL };
static const struct cmd_example restore_ex[] = {
	{ "Restore the newest snapshot into /tmp/r", "cairn restore latest --target /tmp/r" },
	{ "Restore one folder's contents, only the logs",
	  "cairn restore 1a2b3c4d:/data/app --target /srv/app --include '*.log'" },
	END_EXAMPLES,
};
static const int restore_exits[] = { 0, 1, 2, 3, 10, 12, 13, 14, 15, 16, 17, 130, -1 };

static const struct cmd_flag snapshots_flags[] = {
	{ "tag", 0, 't', "TAG", NULL, "only snapshots carrying TAG" },
	{ "host", 0, 'H', "HOST", NULL, "only snapshots of HOST" },
	END_FLAGS,
};
static const char *const repo_env[] = { REPO_ENV, NULL };
/* Commands that draw a progress line on a terminal. */
static const char *const progress_env[] = { REPO_ENV, "CAIRN_PROGRESS_FPS", NULL };
static const struct cmd_example snapshots_ex[] = {
	{ "List every snapshot", "cairn snapshots" },
	{ "The snapshots of one host as a JSON array", "cairn snapshots --host node1 --json" },
	END_EXAMPLES,
};
static const int read_exits[] = { 0, 1, 2, 10, 12, 13, 14, 15, 17, -1 };

static const struct cmd_flag no_flags[] = { END_FLAGS };
static const struct cmd_example ls_ex[] = {
	{ "Every file of the newest snapshot", "cairn ls latest" },
	{ "One folder, as JSON lines", "cairn ls --json 1a2b3c4d /data/app" },
	END_EXAMPLES,
};
static const struct cmd_example cat_ex[] = {
	{ "The repository's configuration", "cairn cat config" },
	{ "A snapshot object", "cairn cat snapshot latest" },
	END_EXAMPLES,
};

static const struct cmd_flag check_flags[] = {
	{ "read-data", 0, 'd', NULL, NULL, "read and verify every pack and blob" },
	{ "read-data-subset", 0, 's', "N/T|P%", NULL,
	  "read only part N of T, or P percent, of the packs" },
	{ "no-headers", 0, 'H', NULL, NULL, "do not compare pack headers with the index" },
	END_FLAGS,
};
static const struct cmd_example check_ex[] = {
	{ "Verify the structure", "cairn check" },
	{ "Read a tenth of the data each night", "cairn check --read-data-subset 10%" },
	END_EXAMPLES,
};
static const int check_exits[] = { 0, 1, 2, 10, 11, 12, 14, 15, 17, -1 };

static const struct cmd_flag mount_flags[] = {
	{ "allow-other", 0, 'a', NULL, NULL, "let other users read the mount" },
	{ "cache-mib", 0, 'c', "N", "256", "blob cache size in MiB (16 or more)" },
	{ "refresh-sec", 0, 'R', "N", "5", "look for new snapshots every N seconds (0: never)" },
	{ "threads", 0, 't', "N", "16", "parallel blob fetches" },
	{ "foreground", 0, 'f', NULL, NULL,
	  "accepted for habit: the mount always runs in the "
	  "foreground" },
	{ "debug-fuse", 0, 'd', NULL, NULL, "log every FUSE request" },
	END_FLAGS,
};
static const struct cmd_example mount_ex[] = {
	{ "Browse snapshots under /mnt/cairn", "cairn mount /mnt/cairn" },
	{ "Unmount it", "fusermount3 -u /mnt/cairn" },
	END_EXAMPLES,
};

static const struct cmd_flag forget_flags[] = {
	{ "keep-last", 0, 'l', "N", NULL, "keep the newest N snapshots" },
	{ "keep-hourly", 0, 'H', "N", NULL, "keep the newest snapshot of each of N hours" },
	{ "keep-daily", 0, 'd', "N", NULL, "keep one per day for N days" },
	{ "keep-weekly", 0, 'w', "N", NULL, "keep one per week for N weeks" },
	{ "keep-monthly", 0, 'm', "N", NULL, "keep one per month for N months" },
	{ "keep-yearly", 0, 'y', "N", NULL, "keep one per year for N years" },
	{ "keep-within", 0, 'W', "DURATION", NULL, "keep all newer than DURATION (2d, 3w, 1y6m)" },
	{ "keep-tag", 0, 't', "TAG", NULL, "keep every snapshot carrying TAG", NULL, true },
	{ "group-by", 0, 'g', "KEYS", "host,paths,tags",
	  "apply the policy per group of host, paths, tags or volume" },
	{ "dry-run", 'n', 'n', NULL, NULL, "show what would be removed, remove nothing" },
	{ "prune", 0, 'p', NULL, NULL, "run prune afterwards" },
	{ "max-unused", 0, 'u', "PERCENT", "5", "with --prune: unused data tolerated" },
	END_FLAGS,
};
static const struct cmd_example forget_ex[] = {
	{ "Keep 7 daily and 4 weekly snapshots, see first",
	  "cairn forget --keep-daily 7 --keep-weekly 4 --dry-run" },
	{ "Forget two snapshots by id and prune", "cairn forget --prune 1a2b3c4d 5e6f7a8b" },
	END_EXAMPLES,
};
static const int maint_exits[] = { 0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, -1 };

static const struct cmd_flag prune_flags[] = {
	{ "max-unused", 0, 'u', "PERCENT", "5", "unused data tolerated before repacking" },
	{ "dry-run", 'n', 'n', NULL, NULL, "show the figures, change nothing" },
	END_FLAGS,
};
static const struct cmd_example prune_ex[] = {
	{ "See what prune would do", "cairn prune --dry-run" },
	{ "Repack until nothing unused is left", "cairn prune --max-unused 0" },
	END_EXAMPLES,
};

static const struct cmd_flag restore_wait_flags[] = {
	{ "root", 0, 'R', "DIR", "/restores", "the folder holding one mount per volume", "dir" },
	{ "log-interval", 0, 'I', "SECONDS", "30", "how often to name the volumes still awaited" },
	{ "timeout", 0, 'T', "SECONDS", "0 (none)", "give up (exit 17) after this long" },
	END_FLAGS,
};
static const struct cmd_example restore_wait_ex[] = {
	{ "The init container of a pod whose volumes are being restored",
	  "cairn restore-wait 7d3c0f52-0d7e-4b5e-9a53-1d2c3b4a5e6f" },
	END_EXAMPLES,
};
static const int restore_wait_exits[] = { 0, 1, 2, 17, 130, -1 };

static const struct cmd_flag unlock_flags[] = {
	{ "remove-all", 0, 'a', NULL, NULL, "remove every lock, not only stale ones" },
	END_FLAGS,
};
static const struct cmd_example unlock_ex[] = {
	{ "Remove locks older than 30 minutes", "cairn unlock" },
	END_EXAMPLES,
};
static const int unlock_exits[] = { 0, 1, 2, 10, 12, 15, 17, -1 };

static const struct cmd_flag key_flags[] = {
	{ "new-password-file", 0, 'f', "FILE", NULL, "read the new password from FILE", "file" },
	END_FLAGS,
};
static const char *const key_env[] = { REPO_ENV, "CAIRN_NEW_PASSWORD_FILE", NULL };
static const struct cmd_example key_ex[] = {
	{ "List the keys", "cairn key list" },
	{ "Add a password", "cairn key add --new-password-file ~/.cairn-pw2" },
	END_EXAMPLES,
};
static const int key_exits[] = { 0, 1, 2, 10, 11, 12, 13, 15, 17, -1 };

static const struct cmd_flag stats_flags[] = {
	{ "mode", 0, 'm', "MODE", "restore-size", "restore-size or raw-data",
	  "restore-size raw-data" },
	END_FLAGS,
};
static const struct cmd_example stats_ex[] = {
	{ "What restoring every snapshot would write", "cairn stats" },
	{ "Unique stored data of one snapshot", "cairn stats --mode raw-data latest" },
	END_EXAMPLES,
};

static const struct cmd_example diff_ex[] = {
	{ "What changed between two snapshots", "cairn diff 1a2b3c4d 5e6f7a8b" },
	END_EXAMPLES,
};

static const struct cmd_flag repair_flags[] = {
	{ "dry-run", 'n', 'n', NULL, NULL, "show what would be done" },
	{ "forget", 0, 'f', NULL, NULL, "snapshots: forget those that cannot be repaired" },
	END_FLAGS,
};
static const struct cmd_example repair_ex[] = {
	{ "Rebuild the index from the packs", "cairn repair index" },
	{ "Rewrite snapshots that reach missing data", "cairn repair snapshots --dry-run" },
	END_EXAMPLES,
};

static const struct cmd_flag agent_flags[] = {
	{ "node", 0, 'n', "NAME", "$NODE_NAME", "the node whose pods this agent backs up" },
	{ "kubelet-root", 0, 'K', "DIR", NULL, "read pods from DIR/pods in place", "dir" },
	{ "host-pods", 0, 'H', "DIR", "/host_pods", "where the kubelet's pods folder is mounted",
	  "dir" },
	{ "namespace", 0, 'N', "NS", "the pod's namespace", "namespace of the backup requests" },
	{ "concurrency", 0, 'c', "N", "1", "volumes backed up at once (1 to 3600)" },
	{ "metrics-address", 0, 'm', "[HOST]:PORT", ":8085", "serve Prometheus metrics here" },
	{ "kubeconfig", 0, 'k', "FILE", "in-cluster", "credentials for the API server", "file" },
	{ "progress-interval", 0, 'p', "SEC", "5", "seconds between progress updates" },
	{ "threads", 0, 't', "N", "number of CPUs", "workers per backup" },
	END_FLAGS,
};
static const char *const agent_env[] = { REPO_ENV, "NODE_NAME", "KUBECONFIG", NULL };
static const struct cmd_example agent_ex[] = {
	{ "Run on a node outside a pod",
	  "cairn agent --node node1 --kubelet-root /var/lib/kubelet" },
	END_EXAMPLES,
};
static const int agent_exits[] = { 0, 1, 2, 12, 17, -1 };

static const struct cmd_flag controller_flags[] = {
	{ "namespace", 0, 'N', "NS", "the kubeconfig's namespace",
	  "namespace of cairn's objects (Backups, Schedules, locations, PodVolumeBackups)" },
	{ "kubeconfig", 0, 'k', "FILE", "in-cluster", "credentials for the API server", "file" },
	{ "metrics-address", 0, 'm', "[HOST]:PORT", ":8085",
	  "serve Prometheus metrics and /healthz here (\"\" disables)" },
	{ "agent-selector", 0, 'a', "SELECTOR", "name=cairn-node-agent",
	  "label selector of the node agents' pods (a volume on a node without a Running "
	  "one fails at once)" },
	{ "resync", 0, 'R', "DURATION", "2s",
	  "how often every object is looked at again (also 200ms; at least 50ms)" },
	{ "default-ttl", 0, 'T', "DURATION", "720h", "how long a Backup without spec.ttl is kept" },
	{ "backup-timeout", 0, 't', "DURATION", "4h",
	  "unfinished volumes of a Backup older than this are cancelled and fail (per "
	  "Backup: the annotation cairn.dev/backup-timeout)" },
	{ "maintenance-interval", 0, 'M', "DURATION", "24h", "prune each repository this often" },
	{ "validation-interval", 0, 'V', "DURATION", "60s",
	  "check each storage location this often" },
	{ "sync-interval", 0, 'S', "DURATION", "60s",
	  "re-create Backups found in a location's repository this often (0 disables)" },
	{ "hook-concurrency", 0, 'H', "N", "8",
	  "run at most N hooks at once, over all Backups (1..256)" },
	END_FLAGS,
};
static const char *const controller_env[] = { REPO_ENV, "KUBECONFIG", "CAIRN_TEST_CLOCK_FILE",
	                                      NULL };
static const struct cmd_example controller_ex[] = {
	{ "Run outside the cluster against the current kubeconfig context",
	  "cairn controller --kubeconfig ~/.kube/config --namespace cairn" },
	{ "Prune weekly, keep Backups 30 days unless they say otherwise",
	  "cairn controller --maintenance-interval 168h --default-ttl 720h" },
	END_EXAMPLES,
};
static const int controller_exits[] = { 0, 1, 2, -1 };

static const struct cmd_flag kube_flags[] = {
	{ "kubeconfig", 0, 'k', "FILE", "$KUBECONFIG, in-cluster, ~/.kube/config",
	  "credentials for the API server", "file" },
	{ "namespace", 'n', 'n', "NS", "the kubeconfig's namespace",
	  "namespace of cairn's objects" },
	{ "output", 'o', 'o', "FORMAT", "table",
	  "table for people, json for programs (the objects as the API server has them; "
	  "the same as --json; here -o is not the global --option)",
	  "table json" },
	{ "include-namespaces", 0, 'i', "NS,...", "all",
	  "create: back up (restore create: restore) pods of these namespaces only" },
	{ "exclude-namespaces", 0, 'x', "NS,...", NULL,
	  "create: skip pods of these namespaces (restore create: source namespaces)" },
	{ "selector", 'l', 'l', "KEY=VALUE,...", NULL,
	  "create: only pods (restore create: claims, by the labels recorded at backup time) "
	  "carrying every one of these labels" },
	{ "ttl", 0, 't', "DURATION", "the controller's --default-ttl",
	  "backup create, schedule create: keep the backup this long (like 720h0m0s)" },
	{ "storage-location", 0, 's', "NAME", "the default location",
	  "backup create, schedule create: the BackupStorageLocation to back up to" },
	{ "default-volumes-to-fs-backup", 0, 'd', NULL, NULL,
	  "backup create, schedule create: back up every volume a pod mounts, not only those "
	  "its annotation backup.velero.io/backup-volumes names" },
	{ "timeout", 0, 'T', "DURATION", "the controller's --backup-timeout",
	  "backup create, schedule create: fail volumes still unfinished after this long" },
	{ "schedule", 0, 'c', "CRON", NULL,
	  "schedule create: when to run (five cron fields, @daily, @every 6h, CRON_TZ=Zone "
	  "prefix; required)" },
	{ "from-backup", 0, 'F', "BACKUP", NULL,
	  "restore create: the Completed or PartiallyFailed Backup to restore (required)" },
	{ "namespace-mappings", 0, 'M', "OLD:NEW,...", "each volume into its own namespace",
	  "restore create: restore the volumes of namespace OLD into namespace NEW" },
	{ "storage-class", 0, 'S', "CLASS", "the class recorded at backup time",
	  "restore create: storage class of the claims the restore makes" },
	{ "pvc-size", 0, 'Z', "SIZE", "the size recorded at backup time",
	  "restore create: size of the claims the restore makes (like 10Gi)" },
	{ "to-pvc", 0, 'P', "NS/PVC", NULL,
	  "restore create: restore one volume (--volume) into this existing claim instead" },
	{ "volume", 0, 'V', "NAME", NULL,
	  "restore create: with --to-pvc, the backed-up pod volume to restore; a namespace "
	  "in --include-namespaces picks among volumes of the same name" },
	{ "overwrite", 0, 'O', NULL, NULL,
	  "restore create: with --to-pvc, restore into the claim even when it is not empty" },
	{ "no-sparse", 0, 'N', NULL, NULL,
	  "restore create: write the holes of sparse files as zeros (spec.writeSparseFiles "
	  "false), for storage where every file must own its blocks" },
	{ "wait", 0, 'w', NULL, NULL,
	  "backup create, restore create: wait until it ends; backup: exit 1 unless it is "
	  "Completed; restore: exit 0 when Completed, 3 when PartiallyFailed (the files not "
	  "restored listed), 1 when Failed" },
	END_FLAGS,
};
static const char *const kube_env[] = { "KUBECONFIG", NULL };
static const struct cmd_example kube_ex[] = {
	{ "Back up the volumes of namespace app and wait for the outcome",
	  "cairn kube backup create app-1 --include-namespaces app --wait" },
	{ "Every volume of pods labelled tier=db, nightly at 03:00 Berlin time",
	  "cairn kube schedule create db --schedule 'CRON_TZ=Europe/Berlin 0 3 * * *' "
	  "--selector tier=db --default-volumes-to-fs-backup" },
	{ "What became of each volume", "cairn kube backup describe app-1" },
	{ "The storage locations as JSON", "cairn kube location get -o json" },
	{ "Restore backup app-1's volumes into new claims in namespace app-copy and wait",
	  "cairn kube restore create r1 --from-backup app-1 --namespace-mappings app:app-copy "
	  "--storage-class fast --wait" },
	{ "One volume into an existing claim, replacing what it holds",
	  "cairn kube restore create r2 --from-backup app-1 --to-pvc app/data --volume data "
	  "--overwrite" },
	{ "Each PodVolumeRestore of a restore", "cairn kube restore describe r1" },
	END_EXAMPLES,
};
static const int kube_exits[] = { 0, 1, 2, 3, 13, 15, 17, -1 };

static const char *const no_env[] = { NULL };
static const struct cmd_example version_ex[] = {
	{ "Versions as JSON", "cairn version --json" },
	END_EXAMPLES,
};
static const int version_exits[] = { 0, -1 };

static const struct cmd_example help_ex[] = {
	{ "Help on backup", "cairn help backup" },
	{ "The same", "cairn backup --help" },
	END_EXAMPLES,
};
static const int help_exits[] = { 0, 2, -1 };

const struct cmd_doc cmdtab[] = {
	{ "init", "create a repository", "[flags]",
	  "Creates an encrypted repository at the location given by -r or CAIRN_REPOSITORY. "
	  "Chunk and pack sizes and the password's key derivation can be set only here.",
	  init_flags, init_env, init_ex, init_exits },
	{ "backup", "back up files and folders",
	  "[flags] PATH... | --stdin | --stdin-from-command -- CMD [ARG...]",
	  "Backs up each PATH into a new snapshot. The newest snapshot of the same host and "
	  "paths is the parent: files whose size, times and inode did not change are not read "
	  "again. On a terminal a progress line shows files and bytes done of the total, the "
	  "percentage, the rate and the time left. With --stdin or --stdin-from-command the "
	  "snapshot holds one file, NAME (mode 0644, owned by the caller, modified now), "
	  "streamed into the repository without a temporary file; a repeated dump adds only "
	  "the chunks that changed.",
	  backup_flags, backup_env, backup_ex, backup_exits, "file" },
	{ "restore", "restore a snapshot into a folder", "[flags] SNAPSHOT[:SUBDIR] --target DIR",
	  "Restores SNAPSHOT (an id, a unique prefix or latest) into DIR. With SUBDIR its "
	  "contents go straight into DIR; without it each backed-up path becomes "
	  "DIR/NAME, NAME being its last component. Before writing anything it compares the "
	  "bytes the restore needs with the free space of DIR's filesystem (of its nearest "
	  "existing parent when DIR does not exist yet) and exits 16 when they do not fit: the "
	  "data of the files to write (holes of sparse files left out, a hard-linked file "
	  "once) plus 4 KiB per entry, less the blocks of files in DIR it replaces (all but "
	  "the largest). When the snapshot summary's sizes (apparent, every link counted) fit, "
	  "no tree is read for it; a summary that claims too little can only skip the check. "
	  "With --json the summary (or the error) carries bytes_needed and bytes_free.",
	  restore_flags, restore_env, restore_ex, restore_exits, "snapshot" },
	{ "snapshots", "list snapshots", "[flags]",
	  "Lists snapshots oldest first in a table: id, time, host, size, tags and paths. "
	  "With --json, one JSON array of snapshot objects.",
	  snapshots_flags, repo_env, snapshots_ex, read_exits },
	{ "ls", "list files in a snapshot", "SNAPSHOT [PATH]",
	  "Lists the files of SNAPSHOT under PATH recursively. Bytes that are not printable "
	  "UTF-8 in names are shown as \\xNN; with --json the exact bytes are in path_b64.",
	  no_flags, repo_env, ls_ex, read_exits, "snapshot" },
	{ "cat", "print a repository object as JSON", "config | snapshot ID | tree ID | index ID",
	  "Prints a decrypted repository object as JSON.", no_flags, repo_env, cat_ex, read_exits,
	  "config snapshot tree index" },
	{ "check", "verify the repository", "[flags]",
	  "Verifies the repository's structure: every snapshot's trees and every indexed "
	  "pack. With --read-data every pack and blob is read and authenticated too; on a "
	  "terminal a line shows the packs and bytes read, the rate and the time left.",
	  check_flags, progress_env, check_ex, check_exits },
	{ "mount", "browse snapshots through FUSE", "[flags] MOUNTPOINT",
	  "Serves the snapshots read-only at MOUNTPOINT, in the foreground, until Ctrl-C, "
	  "SIGTERM or fusermount3 -u.",
	  mount_flags, repo_env, mount_ex, read_exits, "dir" },
	{ "forget", "remove snapshots by policy", "[flags] [ID...]",
	  "Removes the snapshots that no --keep-* rule keeps, per group, or exactly the "
	  "snapshots given by id. Data is freed by prune.",
	  forget_flags, repo_env, forget_ex, maint_exits, "snapshot" },
	{ "prune", "remove unreferenced data", "[flags]",
	  "Deletes packs no snapshot reaches and repacks partly used ones, under an exclusive "
	  "lock. On a terminal a line shows the packs repacked or deleted, the rate and the "
	  "time left.",
	  prune_flags, progress_env, prune_ex, maint_exits },
	{ "restore-wait", "wait until a pod's restored volumes are complete", "[flags] RESTORE_UID",
	  "The init container of a pod whose volumes the node agent restores (Velero's "
	  "restore-helper, same convention): every folder under --root is one volume; the agent "
	  "writes VOLUME/.velero/RESTORE_UID once that volume's data is in. Exits 0 when every "
	  "volume has its file, after removing the .velero folders, so the app starts on "
	  "complete data. Names what it still waits for every --log-interval seconds.",
	  restore_wait_flags, no_env, restore_wait_ex, restore_wait_exits },
	{ "unlock", "remove stale locks", "[flags]",
	  "Removes locks older than 30 minutes, or every lock with --remove-all.", unlock_flags,
	  repo_env, unlock_ex, unlock_exits },
	{ "key", "manage passwords", "list | add | remove ID | passwd [flags]",
	  "Lists, adds, removes or changes the passwords that open the repository. New "
	  "passwords come from a file, never from the command line.",
	  key_flags, key_env, key_ex, key_exits, "list add remove passwd" },
	{ "stats", "repository statistics", "[flags] [ID...]",
	  "Shows what restoring the snapshots would write (restore-size) or the unique data "
	  "they keep stored (raw-data).",
	  stats_flags, repo_env, stats_ex, read_exits, "snapshot" },
	{ "diff", "compare two snapshots", "SNAPSHOT1 SNAPSHOT2",
	  "Lists paths added (+), removed (-), modified (M) and changed in type (T).", no_flags,
	  repo_env, diff_ex, read_exits, "snapshot" },
	{ "repair", "rebuild index or snapshots", "index | snapshots [flags]",
	  "index rebuilds the index from the pack headers; snapshots rewrites snapshots that "
	  "reach missing data, without the damaged files.",
	  repair_flags, repo_env, repair_ex, maint_exits, "index snapshots" },
	{ "agent", "run the Kubernetes node agent", "[flags]",
	  "Runs the node agent: watches backup and restore requests for pods on this node and "
	  "serves them (docs/agent.md).",
	  agent_flags, agent_env, agent_ex, agent_exits },
	{ "controller", "run the Kubernetes cluster controller", "[flags]",
	  "Runs the cluster controller (one replica per cluster): turns each Backup of "
	  "cairn.dev/v1alpha1 into one PodVolumeBackup per selected pod volume for the node "
	  "agents and adds up their outcome, runs pre and post hooks in the pods, fires "
	  "Schedules, deletes expired Backups and their snapshots, prunes repositories, "
	  "validates storage locations and re-creates Backups from a location's repository "
	  "(docs/controller.md). Stops cleanly on SIGTERM.",
	  controller_flags, controller_env, controller_ex, controller_exits },
	{ "kube", "create, list, describe and delete the controller's objects",
	  "[flags] backup|schedule|restore|location VERB [NAME]",
	  "Talks to the API server, like kubectl, about cairn's objects: backup create NAME, "
	  "backup get [NAME], backup describe NAME (every volume's phase, bytes and message), "
	  "backup delete NAME; schedule create NAME --schedule CRON, schedule get [NAME], "
	  "schedule pause|unpause|delete NAME; restore create NAME --from-backup BACKUP, "
	  "restore get [NAME], restore describe NAME (every PodVolumeRestore with its phase, "
	  "bytes and message), restore delete NAME; location get [NAME]. The flags marked "
	  "create: apply to backup, schedule and restore create only; the others name the "
	  "commands they apply to.",
	  kube_flags, kube_env, kube_ex, kube_exits, "backup schedule restore location" },
	{ "version", "print the version", "",
	  "Prints the versions of cairn, its repository format and its libraries.", no_flags,
	  no_env, version_ex, version_exits },
	{ "help", "show help on a command", "[COMMAND]",
	  "Shows the help of COMMAND, or the list of commands.", no_flags, no_env, help_ex,
	  help_exits, "command" },
};

const size_t cmdtab_n = sizeof(cmdtab) / sizeof(cmdtab[0]);
