#!/bin/sh
# Installs what the API-server double and its tests need on a clean Debian 12:
# python3 (the double), python3-yaml (--load of YAML files, manifest checks),
# curl and openssl (tests/kubeapi/start.sh serves https), and kubectl — only
# when no kubectl is on PATH, from Debian's kubernetes-client package.
# The container-image test (tests/e2e/image-agent.sh) also needs podman, runc
# (podman's default crun cannot apply the test's limits in every sandbox) and
# mmdebstrap (the Debian base image is made from Debian's packages: no image
# registry is reachable from CI).
# Idempotent: does nothing when everything is present.
set -e
need=""
command -v python3 >/dev/null 2>&1 || need="$need python3"
python3 -c 'import yaml' 2>/dev/null || need="$need python3-yaml"
command -v curl >/dev/null 2>&1 || need="$need curl ca-certificates"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v kubectl >/dev/null 2>&1 || need="$need kubernetes-client"
command -v podman >/dev/null 2>&1 || need="$need podman"
command -v runc >/dev/null 2>&1 || need="$need runc"
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
if [ -n "$need" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086 # word splitting intended
	apt-get install -y --no-install-recommends $need
fi
