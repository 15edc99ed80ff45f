#!/usr/bin/env python3
"""Make cairn.dev objects the way cairn's controller will (and the way Velero's
backupper makes its own), for tests against the API-server double:

  mkobj.py DIR backup NAME [--location BSL]       prints the Backup's uid
  mkobj.py DIR pvb BACKUP POD_NS POD VOLUME       prints the new PVB's name

DIR is the double's state folder (tests/kubeapi/start.sh DIR): url, token,
ca.crt. The namespace of cairn's objects is $CAIRN_NS (default cairn).

A PodVolumeBackup gets generateName "<backup>-", an ownerReference to its
Backup (controller, blockOwnerDeletion), the labels cairn.dev/backup-name,
cairn.dev/backup-uid (and cairn.dev/pvc-uid for a claim), the annotation
cairn.dev/pvc-name, spec.node from the pod's spec.nodeName, spec.pod, the
volume, the Backup's storage location and the snapshot tags."""

import json
import os
import ssl
import sys
import urllib.error
import urllib.request

API = "/apis/cairn.dev/v1alpha1"


class Client:
    def __init__(self, d):
        self.url = open(os.path.join(d, "url")).read().strip()
        self.token = open(os.path.join(d, "token")).read().strip()
        ca = os.path.join(d, "ca.crt")
        self.ctx = ssl.create_default_context(cafile=ca) if os.path.exists(ca) else None

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": "Bearer " + self.token,
            "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(r, context=self.ctx) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            sys.exit("mkobj: %s %s: %s" % (method, path, e.read().decode()))


def backup(c, ns, name, location="default"):
    obj = {"apiVersion": "cairn.dev/v1alpha1", "kind": "Backup",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"storageLocation": location, "defaultVolumesToFsBackup": False}}
    return c.req("POST", "%s/namespaces/%s/backups" % (API, ns), obj)["metadata"]["uid"]


def pvb(c, ns, bname, pod_ns, pod_name, volume):
    bk = c.req("GET", "%s/namespaces/%s/backups/%s" % (API, ns, bname))
    pod = c.req("GET", "/api/v1/namespaces/%s/pods/%s" % (pod_ns, pod_name))
    buid = bk["metadata"]["uid"]
    puid = pod["metadata"]["uid"]
    vol = next(v for v in pod["spec"]["volumes"] if v["name"] == volume)
    obj = {
        "apiVersion": "cairn.dev/v1alpha1", "kind": "PodVolumeBackup",
        "metadata": {
            "namespace": ns, "generateName": bname + "-",
            "ownerReferences": [{"apiVersion": "cairn.dev/v1alpha1", "kind": "Backup",
                                 "name": bname, "uid": buid, "controller": True,
                                 "blockOwnerDeletion": True}],
            "labels": {"cairn.dev/backup-name": bname, "cairn.dev/backup-uid": buid}},
        "spec": {
            "node": pod["spec"]["nodeName"],
            "pod": {"kind": "Pod", "namespace": pod_ns, "name": pod_name, "uid": puid},
            "volume": volume,
            "backupStorageLocation": bk["spec"].get("storageLocation", "default"),
            "tags": {"backup": bname, "backup-uid": buid, "pod": pod_name,
                     "pod-uid": puid, "ns": pod_ns, "volume": volume}}}
    claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
    if claim:
        pvc = c.req("GET", "/api/v1/namespaces/%s/persistentvolumeclaims/%s"
                    % (pod_ns, claim))
        obj["metadata"]["annotations"] = {"cairn.dev/pvc-name": claim}
        obj["metadata"]["labels"]["cairn.dev/pvc-uid"] = pvc["metadata"]["uid"]
    out = c.req("POST", "%s/namespaces/%s/podvolumebackups" % (API, ns), obj)
    return out["metadata"]["name"]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    c = Client(argv[1])
    ns = os.environ.get("CAIRN_NS", "cairn")
    if argv[2] == "backup" and len(argv) in (4, 6):
        loc = argv[5] if len(argv) == 6 and argv[4] == "--location" else "default"
        print(backup(c, ns, argv[3], loc))
    elif argv[2] == "pvb" and len(argv) == 7:
        print(pvb(c, ns, *argv[3:7]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
