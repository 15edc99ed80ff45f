"""Resource catalogue of the API-server double: which kinds exist, how they are
addressed, which verbs and field selectors they accept.

Built-in kinds are fixed; custom kinds come and go with CustomResourceDefinition
objects (see Catalogue.register_crd).
"""

import threading

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch",
             "update", "watch"]

# Field selectors every kind accepts, as the real API server does.
META_FIELDS = ("metadata.name", "metadata.namespace")


class Kind:
    """One served resource (group + plural), with what discovery reports about it."""

    def __init__(self, group, version, plural, kind, namespaced, short=(),
                 status=False, fields=(), categories=(), builtin=True,
                 columns=None, versions=None, schemas=None):
        self.group = group
        self.version = version
        self.versions = list(versions or [version])
        self.plural = plural
        self.kind = kind
        self.singular = kind.lower()
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status          # has a status subresource
        self.fields = set(META_FIELDS) | set(fields)
        self.categories = list(categories)
        self.builtin = builtin        # compiled in (not only defined by a CRD)
        self.columns = columns or []  # additionalPrinterColumns of a CRD
        self.schemas = schemas or {}  # version -> openAPIV3Schema (CRD kinds)
        self.custom = group not in ("", "apps", "rbac.authorization.k8s.io",
                                    "apiextensions.k8s.io", "storage.k8s.io")

    @property
    def key(self):
        return (self.group, self.plural)

    def api_version(self, version=None):
        v = version or self.version
        return "%s/%s" % (self.group, v) if self.group else v

    def qualified(self):
        """Name used in error messages: pods, podvolumebackups.velero.io."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    def discovery(self):
        out = [{
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(ALL_VERBS),
        }]
        if self.short:
            out[0]["shortNames"] = list(self.short)
        if self.categories:
            out[0]["categories"] = list(self.categories)
        if self.status:
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        return out


def _builtin():
    pod_fields = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                  "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                  "status.podIP", "status.nominatedNodeName")
    event_fields = ("involvedObject.kind", "involvedObject.namespace",
                    "involvedObject.name", "involvedObject.uid",
                    "involvedObject.apiVersion", "involvedObject.resourceVersion",
                    "involvedObject.fieldPath", "reason", "reportingComponent",
                    "source", "type")
    return [
        Kind("", "v1", "namespaces", "Namespace", False, ("ns",), status=True,
             fields=("status.phase",)),
        Kind("", "v1", "pods", "Pod", True, ("po",), status=True,
             fields=pod_fields, categories=("all",)),
        Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True,
             ("pvc",), status=True),
        Kind("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",),
             status=True),
        Kind("", "v1", "secrets", "Secret", True, fields=("type",)),
        Kind("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
        Kind("", "v1", "events", "Event", True, ("ev",), fields=event_fields),
        Kind("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
        Kind("", "v1", "nodes", "Node", False, ("no",), status=True,
             fields=("spec.unschedulable",)),
        Kind("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), status=True,
             categories=("all",)),
        Kind("apps", "v1", "deployments", "Deployment", True, ("deploy",),
             status=True, categories=("all",)),
        Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
        Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
             "ClusterRoleBinding", False),
        Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
        Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
        Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions",
             "CustomResourceDefinition", False, ("crd", "crds"), status=True),
        Kind("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    ]


class Catalogue:
    """All kinds currently served, indexed by (group, plural)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.kinds = {}
        self.defaults = {}
        for k in _builtin():
            self.kinds[k.key] = k
            self.defaults[k.key] = k

    def get(self, group, version, plural):
        with self.lock:
            k = self.kinds.get((group, plural))
            if k is None or version not in k.versions:
                return None
            return k

    def all(self):
        with self.lock:
            return list(self.kinds.values())

    def groups(self):
        """{group: [versions]} in a stable order, core group excluded."""
        out = {}
        for k in self.all():
            if k.group:
                vs = out.setdefault(k.group, [])
                for v in k.versions:
                    if v not in vs:
                        vs.append(v)
        return out

    def by_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for k in self.all():
            if k.group == group and k.kind == kind and version in k.versions:
                return k
        return None

    def register_crd(self, crd):
        """Serve the kind a CRD defines, with the schema of every served
        version (enforced on writes, see schema.py)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        plural = names.get("plural", "")
        served = [v for v in spec.get("versions") or [] if v.get("served", True)]
        if not group or not plural or not served:
            return
        storage = next((v for v in served if v.get("storage")), served[0])
        fields = [f.get("jsonPath", "").lstrip(".")
                  for f in storage.get("selectableFields") or []]
        k = Kind(group, storage["name"], plural, names.get("kind", ""),
                 spec.get("scope", "Namespaced") == "Namespaced",
                 names.get("shortNames") or (), status="status" in
                 (storage.get("subresources") or {}), fields=fields,
                 categories=names.get("categories") or (), builtin=False,
                 columns=storage.get("additionalPrinterColumns") or [],
                 versions=[v["name"] for v in served],
                 schemas={v["name"]: (v.get("schema") or {}).get("openAPIV3Schema")
                          for v in served})
        if names.get("singular"):
            k.singular = names["singular"]
        with self.lock:
            if k.key in self.defaults:
                return  # a CRD cannot replace a built-in kind
            self.kinds[k.key] = k

    def unregister_crd(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        with self.lock:
            if key in self.defaults:
                return False
            return self.kinds.pop(key, None) is not None
