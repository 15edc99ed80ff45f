"""Kubelet (and scheduler and volume provisioner) simulator beside the API-server
double, for the restore tests.

    python3 kubelet.py --dir KA_DIR --node n1=HOSTPODS1 [--node n2=...] \
        --pv-root DIR --cairn BIN [--log FILE]

Every 0.1 s it polls the double and:
- binds each unbound PersistentVolumeClaim to a new PersistentVolume `pvc-<uid>`
  whose data is the folder PV_ROOT/<pv>;
- schedules each pod without spec.nodeName to the first node;
- for a pod on one of its nodes: makes its volume folders under the node's
  host-pods tree (<uid>/volumes/kubernetes.io~empty-dir/<vol> for emptyDir,
  <uid>/volumes/kubernetes.io~local-volume/<pv> for a claim: the PV folder is
  moved there while the pod lives, as a mount would show it, and moved back when
  the pod goes), then runs its init containers in order: `cairn restore-wait`
  runs as a process with --root at a folder holding one symlink per mount
  (/restores/<vol> -> the volume folder); others succeed at once. Status follows
  (Pending with the running init container, then Running, or Failed with the
  exit code);
- for a pod that is gone: stops its process and removes its folder.
Nothing here is cairn's code: it plays the cluster around the agent."""

import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request


class Api:
    def __init__(self, d):
        self.url = open(os.path.join(d, "url")).read().strip()
        self.token = open(os.path.join(d, "token")).read().strip()
        ca = os.path.join(d, "ca.crt")
        self.ctx = ssl.create_default_context(cafile=ca) if self.url.startswith(
            "https") else None

    def call(self, method, path, body=None, ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code in (404, 409):
                return None
            raise

    def patch(self, path, body):
        return self.call("PATCH", path, body, "application/merge-patch+json")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Kubelet:
    def __init__(self, args):
        self.api = Api(args.dir)
        self.nodes = dict(n.split("=", 1) for n in args.node)
        self.first = args.node[0].split("=", 1)[0]
        self.pv_root = args.pv_root
        self.cairn = args.cairn
        self.pods = {}  # uid -> state
        os.makedirs(self.pv_root, exist_ok=True)

    def log(self, msg):
        print("%s kubelet: %s" % (now(), msg), flush=True)

    # ---- claims ----
    def bind(self):
        pvcs = self.api.call("GET", "/api/v1/persistentvolumeclaims") or {}
        for c in pvcs.get("items", []):
            m, spec = c["metadata"], c.get("spec", {})
            if spec.get("volumeName"):
                continue
            pv = "pvc-" + m["uid"]
            os.makedirs(os.path.join(self.pv_root, pv), exist_ok=True)
            size = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
            self.api.call("POST", "/api/v1/persistentvolumes", {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": pv},
                "spec": {"capacity": {"storage": size},
                         "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                         "storageClassName": spec.get("storageClassName", ""),
                         "persistentVolumeReclaimPolicy": "Retain",
                         "claimRef": {"namespace": m["namespace"], "name": m["name"],
                                      "uid": m["uid"]},
                         "local": {"path": os.path.join(self.pv_root, pv)}}})
            base = "/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (m["namespace"],
                                                                          m["name"])
            self.api.patch(base, {"spec": {"volumeName": pv}})
            self.api.patch(base + "/status", {"status": {"phase": "Bound",
                                                         "capacity": {"storage": size}}})
            self.log("bound claim %s/%s to %s" % (m["namespace"], m["name"], pv))

    # ---- pods ----
    def volume_dirs(self, pod):
        """{volume name: folder} or None while a claim is not bound."""
        m = pod["metadata"]
        hp = self.nodes[pod["spec"]["nodeName"]]
        out = {}
        for v in pod["spec"].get("volumes", []):
            if "persistentVolumeClaim" in v:
                c = self.api.call("GET", "/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (
                    m["namespace"], v["persistentVolumeClaim"]["claimName"]))
                pv = c and c.get("spec", {}).get("volumeName")
                if not pv:
                    return None
                out[v["name"]] = (os.path.join(hp, m["uid"], "volumes",
                                               "kubernetes.io~local-volume", pv),
                                  os.path.join(self.pv_root, pv))
            else:
                out[v["name"]] = (os.path.join(hp, m["uid"], "volumes",
                                               "kubernetes.io~empty-dir", v["name"]), None)
        return out

    def status(self, pod, st):
        m = pod["metadata"]
        self.api.patch("/api/v1/namespaces/%s/pods/%s/status" % (m["namespace"], m["name"]),
                       {"status": st})

    def start_pod(self, pod, dirs):
        uid = pod["metadata"]["uid"]
        for name, (d, pvdir) in dirs.items():
            os.makedirs(os.path.dirname(d), exist_ok=True)
            if pvdir:  # "mount" the PV: its folder moves into the pod while it lives
                if not os.path.isdir(pvdir):
                    os.makedirs(pvdir)
                os.rename(pvdir, d)
            else:
                os.makedirs(d, exist_ok=True)
        self.pods[uid] = {"pod": pod, "dirs": dirs, "init": 0, "proc": None}
        self.log("pod %s/%s started on %s" % (pod["metadata"]["namespace"],
                                               pod["metadata"]["name"],
                                               pod["spec"]["nodeName"]))

    def run_init(self, st):
        pod = st["pod"]
        inits = pod["spec"].get("initContainers", [])
        while st["init"] < len(inits):
            c = inits[st["init"]]
            cmd = (c.get("command") or []) + (c.get("args") or [])
            if st["proc"] is None:
                if len(cmd) >= 3 and os.path.basename(cmd[0]) == "cairn" and \
                        cmd[1] == "restore-wait":
                    root = os.path.join(self.nodes[pod["spec"]["nodeName"]],
                                        pod["metadata"]["uid"], "restore-wait-root")
                    os.makedirs(root, exist_ok=True)
                    for vm in c.get("volumeMounts", []):
                        link = os.path.join(root, os.path.basename(vm["mountPath"]))
                        if not os.path.lexists(link):
                            os.symlink(st["dirs"][vm["name"]][0], link)
                    logf = open(root + ".log", "ab")
                    st["proc"] = subprocess.Popen(
                        [self.cairn, "restore-wait", "--root", root, "--log-interval", "1"] +
                        cmd[2:], stdout=logf, stderr=logf)
                    logf.close()
                    self.status(pod, {"phase": "Pending", "initContainerStatuses": [
                        {"name": c["name"], "ready": False,
                         "state": {"running": {"startedAt": now()}}}]})
                    self.log("pod %s/%s: init container %s runs %s" % (
                        pod["metadata"]["namespace"], pod["metadata"]["name"], c["name"],
                        " ".join(cmd)))
                    return
                st["init"] += 1
                continue
            rc = st["proc"].poll()
            if rc is None:
                return
            st["proc"] = None
            cs = {"name": c["name"], "ready": rc == 0,
                  "state": {"terminated": {"exitCode": rc, "finishedAt": now()}}}
            self.log("pod %s/%s: init container %s exited %d" % (
                pod["metadata"]["namespace"], pod["metadata"]["name"], c["name"], rc))
            if rc != 0:
                st["init"] = -1
                self.status(pod, {"phase": "Failed", "initContainerStatuses": [cs]})
                return
            st["init"] += 1
        if st["init"] >= 0 and not st.get("running"):
            st["running"] = True
            self.status(pod, {"phase": "Running", "containerStatuses": [
                {"name": c["name"], "ready": True, "state": {"running": {"startedAt": now()}}}
                for c in pod["spec"].get("containers", [])]})

    def stop_pod(self, uid):
        st = self.pods.pop(uid)
        if st["proc"] and st["proc"].poll() is None:
            st["proc"].terminate()
            st["proc"].wait()
        for name, (d, pvdir) in st["dirs"].items():
            if pvdir and os.path.isdir(d):
                os.rename(d, pvdir)
        hp = self.nodes[st["pod"]["spec"]["nodeName"]]
        shutil.rmtree(os.path.join(hp, uid), ignore_errors=True)
        self.log("pod %s/%s removed" % (st["pod"]["metadata"]["namespace"],
                                        st["pod"]["metadata"]["name"]))

    def pods_pass(self):
        pods = (self.api.call("GET", "/api/v1/pods") or {}).get("items", [])
        alive = set()
        for pod in pods:
            m, spec = pod["metadata"], pod.get("spec", {})
            node = spec.get("nodeName")
            if not node:
                self.api.patch("/api/v1/namespaces/%s/pods/%s" % (m["namespace"], m["name"]),
                               {"spec": {"nodeName": self.first}})
                continue
            if node not in self.nodes:
                continue
            alive.add(m["uid"])
            if m["uid"] not in self.pods:
                phase = pod.get("status", {}).get("phase")
                if phase in ("Running", "Succeeded", "Failed"):
                    continue  # set up by the test itself
                dirs = self.volume_dirs(pod)
                if dirs is None:
                    continue
                self.start_pod(pod, dirs)
            self.run_init(self.pods[m["uid"]])
        for uid in list(self.pods):
            if uid not in alive:
                self.stop_pod(uid)

    def run(self):
        stop = []
        signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
        while not stop:
            try:
                self.bind()
                self.pods_pass()
            except Exception as e:  # the double restarting, a race with a delete
                self.log("pass failed: %r" % (e,))
            time.sleep(0.1)
        for uid in list(self.pods):
            st = self.pods[uid]
            if st["proc"] and st["proc"].poll() is None:
                st["proc"].terminate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--node", action="append", required=True)
    ap.add_argument("--pv-root", required=True)
    ap.add_argument("--cairn", required=True)
    Kubelet(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
