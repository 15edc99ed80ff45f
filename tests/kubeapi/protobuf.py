"""Decoding of Kubernetes protobuf request bodies for the few kinds kubectl's
typed `create` subcommands send that way (`kubectl create namespace`,
`configmap`, `secret`, `serviceaccount`): they POST
`application/vnd.kubernetes.protobuf` and do not fall back to JSON on 415.
Responses stay JSON (kubectl accepts both). Other kinds: 415.

Envelope: the 4 bytes "k8s\\0", then a runtime.Unknown message
{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw object, 3: contentEncoding,
4: contentType}. Field numbers below are those of k8s.io/api's
generated.proto files."""

import base64
import datetime

from objutil import ApiError

MAGIC = b"k8s\x00"

# message name -> {field number: (json name, type)}
# types: str, bytes, int, bool, time, msg:NAME, rep:str, rep:msg:NAME,
# map:str (map<string,string>), map:bytes (map<string,bytes>, base64 in JSON)
SCHEMAS = {
    "Unknown": {1: ("typeMeta", "msg:TypeMeta"), 2: ("raw", "bytes"),
                3: ("contentEncoding", "str"), 4: ("contentType", "str")},
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {1: ("name", "str"), 2: ("generateName", "str"),
                   3: ("namespace", "str"), 5: ("uid", "str"),
                   6: ("resourceVersion", "str"), 7: ("generation", "int"),
                   8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
                   10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map:str"),
                   12: ("annotations", "map:str"),
                   13: ("ownerReferences", "rep:msg:OwnerReference"),
                   14: ("finalizers", "rep:str")},
    "OwnerReference": {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"),
                       5: ("apiVersion", "str"), 6: ("controller", "bool"),
                       7: ("blockOwnerDeletion", "bool")},
    "ObjectReference": {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"),
                        4: ("uid", "str"), 5: ("apiVersion", "str"),
                        6: ("resourceVersion", "str"), 7: ("fieldPath", "str")},
    "LocalObjectReference": {1: ("name", "str")},
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec"),
                  3: ("status", "msg:NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "rep:str")},
    "NamespaceStatus": {1: ("phase", "str")},
    "ConfigMap": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map:str"),
                  3: ("binaryData", "map:bytes"), 4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map:bytes"),
               3: ("type", "str"), 4: ("stringData", "map:str"), 5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", "msg:ObjectMeta"),
                       2: ("secrets", "rep:msg:ObjectReference"),
                       3: ("imagePullSecrets", "rep:msg:LocalObjectReference"),
                       4: ("automountServiceAccountToken", "bool")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "MapEntry": {1: ("key", "bytes"), 2: ("value", "bytes")},
}


def _varint(buf, i):
    shift = out = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return out, i


def _fields(buf):
    """Yield (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, wt, v


def _decode(name, buf):
    schema = SCHEMAS[name]
    out = {}
    for num, wt, v in _fields(buf):
        if num not in schema:
            continue
        key, typ = schema[num]
        if typ == "str":
            out[key] = v.decode()
        elif typ == "bytes":
            out[key] = bytes(v)
        elif typ == "int":
            out[key] = v - (1 << 64) if v >= 1 << 63 else v
        elif typ == "bool":
            out[key] = bool(v)
        elif typ == "time":
            t = _decode("Time", v)
            if not t.get("seconds"):
                continue  # an unset metav1.Time is sent as an empty message
            out[key] = datetime.datetime.fromtimestamp(
                t.get("seconds", 0), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif typ.startswith("msg:"):
            out[key] = _decode(typ[4:], v)
        elif typ == "rep:str":
            out.setdefault(key, []).append(v.decode())
        elif typ.startswith("rep:msg:"):
            out.setdefault(key, []).append(_decode(typ[8:], v))
        elif typ.startswith("map:"):
            e = _decode("MapEntry", v)
            val = e.get("value", b"")
            out.setdefault(key, {})[e.get("key", b"").decode()] = \
                base64.b64encode(val).decode() if typ == "map:bytes" else val.decode()
    return out


def decode(body):
    """A protobuf request body as the JSON object it stands for."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s envelope")
    try:
        env = _decode("Unknown", body[len(MAGIC):])
        tm = env.get("typeMeta", {})
        kind = tm.get("kind", "")
        if kind not in SCHEMAS or kind in ("Unknown", "TypeMeta", "Time", "MapEntry"):
            raise ApiError(415, "UnsupportedMediaType", "this API-server double decodes "
                           "protobuf only for Namespace, ConfigMap, Secret and "
                           "ServiceAccount, not %s; send application/json" % kind)
        obj = _decode(kind, env.get("raw", b""))
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "BadRequest", "the body of the request could not be "
                       "decoded: %s" % e)
    obj["apiVersion"] = tm.get("apiVersion", "v1")
    obj["kind"] = kind
    return obj
