"""A minimal OpenAPI v3 for kubectl. kubectl 1.32 refuses `create -f` unless
it can either validate client-side (full schemas) or learn that the server
validates (the PATCH operation of the kind lists the `fieldValidation` query
parameter). We publish only the latter: per group-version, one PATCH
operation per kind tagged with x-kubernetes-group-version-kind, and
open-ended object schemas. Field validation itself is not performed."""

import hashlib
import json


def _gv_path(group, version):
    return "apis/%s/%s" % (group, version) if group else "api/%s" % version


def gv_doc(cat, group, version):
    paths, schemas = {}, {}
    for k in cat.all():
        if k.group != group or version not in k.versions:
            continue
        gvk = {"group": group, "version": version, "kind": k.kind}
        base = "/" + _gv_path(group, version)
        item = base + ("/namespaces/{namespace}/%s/{name}" if k.namespaced
                       else "/%s/{name}") % k.plural
        ref = "%s.%s.%s" % (group or "core", version, k.kind)
        # No x-kubernetes-group-version-kind on the schema: kubectl apply
        # would then compute patches from it; without it, apply falls back
        # to its compiled-in types (built-in kinds) or a JSON merge patch.
        schemas[ref] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        params = [{"name": "name", "in": "path", "required": True,
                   "schema": {"type": "string"}},
                  {"name": "fieldValidation", "in": "query",
                   "schema": {"type": "string", "uniqueItems": True}},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}]
        if k.namespaced:
            params.append({"name": "namespace", "in": "path", "required": True,
                           "schema": {"type": "string"}})
        body = {"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/" + ref}}}}
        paths[item] = {
            "get": {"operationId": "read" + k.kind,
                    "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "get", "parameters": params[:1],
                    "responses": {"200": {"description": "OK", **body}}},
            "patch": {"operationId": "patch" + k.kind,
                      "x-kubernetes-group-version-kind": gvk,
                      "x-kubernetes-action": "patch", "parameters": params,
                      "requestBody": {"content": {
                          t: {"schema": {"type": "object"}} for t in (
                              "application/json-patch+json",
                              "application/merge-patch+json",
                              "application/strategic-merge-patch+json")}},
                      "responses": {"200": {"description": "OK", **body}}},
        }
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def root_doc(cat):
    gvs = [("", "v1")]
    for g, vs in sorted(cat.groups().items()):
        gvs.extend((g, v) for v in vs)
    out = {}
    for g, v in gvs:
        h = hashlib.sha256(json.dumps(gv_doc(cat, g, v), sort_keys=True)
                           .encode()).hexdigest()[:32].upper()
        p = _gv_path(g, v)
        out[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, h)}
    return {"paths": out}
