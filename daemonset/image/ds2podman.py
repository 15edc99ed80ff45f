#!/usr/bin/env python3
"""Turn a DaemonSet's pod template into `podman run` arguments, so that a test
runs the image exactly as the manifest says (command, arguments, environment,
mounts, user, capabilities, read-only root, limits) instead of a copy of them:

  ds2podman.py MANIFEST --image IMG --node NODE [--pod-name NAME]
      [--namespace NS] [--volume NAME=HOSTDIR]... [--container NAME]
      [--probe readiness|liveness]

Prints the arguments that follow `podman run` (options, the image, then the
container's arguments), NUL-separated (read them with `mapfile -d ''`); put
options of your own before them. With --probe it prints "PORT PATH" of that
httpGet probe instead.

What Kubernetes would provide is filled in as the kubelet does: fieldRef
values (spec.nodeName, metadata.namespace, metadata.name), $(VAR) expansion in
command and args, hostPath and Secret volumes from --volume NAME=HOSTDIR
(Secret volumes are always read-only), emptyDir as a tmpfs (sizeLimit as its
size), mountPropagation, runAsUser/runAsGroup, and the runtime's default
capabilities (containerd's) less `drop` plus `add`. Anything it cannot map
(another volume type, subPath, secretKeyRef in env) is an error, so a manifest
change cannot silently escape the test. Networking and the service account are
the caller's (they are the cluster's, not the manifest's)."""

import argparse
import json
import re
import sys

import yaml

# containerd's default capability set for a container without `capabilities`.
DEFAULT_CAPS = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP",
                "SETUID", "SYS_CHROOT"]
UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
         "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "": 1}


def fail(msg):
    sys.exit("ds2podman: " + msg)


def quantity(q):
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|)", str(q))
    if not m:
        fail("cannot read the quantity %r" % q)
    return int(float(m.group(1)) * UNITS[m.group(2)])


def cpus(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def find_daemonset(path):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "DaemonSet":
                return doc
    fail("no DaemonSet in " + path)


def env_of(c, fields):
    env = []
    for e in c.get("env", []):
        if "value" in e:
            env.append((e["name"], str(e["value"])))
            continue
        ref = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if ref not in fields:
            fail("env %s: only fieldRef %s can be filled in" % (e["name"], sorted(fields)))
        env.append((e["name"], fields[ref]))
    return env


def expand(s, env):
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ is a $."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, s)


def mounts_of(c, volumes, hostdirs):
    out = []
    for m in c.get("volumeMounts", []):
        if m.get("subPath") or m.get("subPathExpr"):
            fail("volumeMount %s: subPath is not mapped" % m["name"])
        v = volumes.get(m["name"])
        if v is None:
            fail("volumeMount %s names no volume" % m["name"])
        dest = m["mountPath"]
        ro = bool(m.get("readOnly"))
        if "emptyDir" in v:
            opt = "type=tmpfs,destination=" + dest
            size = (v["emptyDir"] or {}).get("sizeLimit")
            if size:
                opt += ",tmpfs-size=%d" % quantity(size)
        elif "hostPath" in v or "secret" in v:
            src = hostdirs.get(m["name"])
            if src is None:
                fail("volume %s: give its host folder with --volume %s=DIR" % (m["name"], m["name"]))
            if "," in src or "," in dest:
                fail("a comma in %s or %s" % (src, dest))
            if "secret" in v:
                ro = True  # the kubelet mounts Secrets read-only whatever readOnly says
            opt = "type=bind,source=%s,destination=%s" % (src, dest)
            prop = m.get("mountPropagation", "None")
            opt += {"None": ",bind-propagation=rprivate",
                    "HostToContainer": ",bind-propagation=rslave",
                    "Bidirectional": ",bind-propagation=rshared"}[prop]
        else:
            fail("volume %s: type %s is not mapped" % (m["name"], sorted(v)))
        if ro:
            opt += ",ro=true"
        out += ["--mount", opt]
    return out


def security_of(pod_sc, c_sc):
    out = []
    user = c_sc.get("runAsUser", pod_sc.get("runAsUser"))
    group = c_sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if user is not None:
        out += ["--user", str(user) if group is None else "%s:%s" % (user, group)]
    if c_sc.get("privileged"):
        return out + ["--privileged"]
    if c_sc.get("readOnlyRootFilesystem"):
        # No tmpfs on /tmp, /run, /var/tmp: the kubelet adds none either.
        out += ["--read-only", "--read-only-tmpfs=false"]
    if c_sc.get("allowPrivilegeEscalation") is False:
        out += ["--security-opt", "no-new-privileges"]
    caps = c_sc.get("capabilities", {})
    drop = {x.upper() for x in caps.get("drop", [])}
    add = {x.upper() for x in caps.get("add", [])}
    keep = set() if "ALL" in drop else set(DEFAULT_CAPS) - drop
    out += ["--cap-drop", "all"]
    for cap in sorted(keep | add):
        out += ["--cap-add", cap]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("--image")
    ap.add_argument("--node", default="node-1")
    ap.add_argument("--pod-name", default="node-agent-test")
    ap.add_argument("--namespace")
    ap.add_argument("--container")
    ap.add_argument("--volume", action="append", default=[])
    ap.add_argument("--probe", choices=["readiness", "liveness"])
    a = ap.parse_args()

    ds = find_daemonset(a.manifest)
    spec = ds["spec"]["template"]["spec"]
    cs = spec["containers"]
    c = next((x for x in cs if x["name"] == a.container), None) if a.container else cs[0]
    if c is None:
        fail("no container " + a.container)

    if a.probe:
        p = c[a.probe + "Probe"]["httpGet"]
        port = p["port"]
        if not isinstance(port, int):
            port = next(x["containerPort"] for x in c.get("ports", []) if x.get("name") == port)
        print(port, p.get("path", "/"))
        return

    if not a.image:
        fail("--image is required")
    ns = a.namespace or ds["metadata"].get("namespace", "default")
    fields = {"spec.nodeName": a.node, "metadata.namespace": ns,
              "metadata.name": a.pod_name}
    env = env_of(c, fields)
    envmap = dict(env)
    hostdirs = {}
    for v in a.volume:
        name, sep, d = v.partition("=")
        if not sep:
            fail("--volume wants NAME=DIR, not " + v)
        hostdirs[name] = d
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    out = []
    for k, v in env:
        out += ["--env", "%s=%s" % (k, v)]
    out += mounts_of(c, volumes, hostdirs)
    out += security_of(spec.get("securityContext", {}), c.get("securityContext", {}))
    lim = c.get("resources", {}).get("limits", {})
    if "memory" in lim:
        out += ["--memory", str(quantity(lim["memory"]))]
    if "cpu" in lim:
        out += ["--cpus", "%g" % cpus(lim["cpu"])]
    out += ["--stop-timeout", str(spec.get("terminationGracePeriodSeconds", 30))]
    cmd = [expand(x, envmap) for x in c.get("command", [])]
    args = [expand(x, envmap) for x in c.get("args", [])]
    if cmd:
        out += ["--entrypoint", json.dumps(cmd)]
    out += [a.image] + args
    sys.stdout.write("".join(x + "\0" for x in out))


if __name__ == "__main__":
    main()
