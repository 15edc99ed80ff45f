"""Pure helpers of the API-server double: selectors, patches, Status objects.
No state here, so selftest.py can exercise every function directly."""

import copy
import re


class ApiError(Exception):
    """An error the server answers with a metav1.Status object."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {},
             "status": "Failure", "message": self.message, "reason": self.reason,
             "code": self.code}
        if self.details:
            s["details"] = self.details
        return s


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


# ---------------------------------------------------------------- selectors

_LABEL_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VAL = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_OP_RE = re.compile(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$")


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _check_key(key, sel):
    if not _LABEL_KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise bad_request("unable to parse requirement: invalid label key %r in %r"
                          % (key, sel))


def _check_val(val, sel):
    if not _LABEL_VAL.match(val) or len(val) > 63:
        raise bad_request("unable to parse requirement: invalid label value %r in %r"
                          % (val, sel))


def parse_label_selector(sel):
    """Return a list of (key, op, values) with op in
    eq, ne, in, notin, exists, notexists, gt, lt."""
    reqs = []
    for part in _split_top(sel or ""):
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key, sel)
            reqs.append((key, "notexists", []))
            continue
        m = _SET_RE.match(part)
        if m:
            key, op = m.group(1), m.group(2)
            vals = [v.strip() for v in m.group(3).split(",")]
            _check_key(key, sel)
            for v in vals:
                _check_val(v, sel)
            reqs.append((key, op, vals))
            continue
        m = _OP_RE.match(part)
        if m:
            key, op, val = m.group(1), m.group(2), m.group(3).strip()
            _check_key(key, sel)
            if op in ("<", ">"):
                if not re.match(r"^-?[0-9]+$", val):
                    raise bad_request("unable to parse requirement: for 'gt', 'lt' "
                                      "operators, the value must be an integer")
                reqs.append((key, "gt" if op == ">" else "lt", [val]))
                continue
            _check_val(val, sel)
            reqs.append((key, "ne" if op == "!=" else "eq", [val]))
            continue
        _check_key(part, sel)
        reqs.append((part, "exists", []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "eq" and not (has and v == vals[0]):
            return False
        if op == "ne" and has and v == vals[0]:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "notexists" and has:
            return False
        if op in ("gt", "lt"):
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            if op == "gt" and not n > int(vals[0]):
                return False
            if op == "lt" and not n < int(vals[0]):
                return False
    return True


def parse_field_selector(sel, kind):
    """Return a list of (path, negate, value); refuse fields the kind does
    not index, with the real server's wording."""
    reqs = []
    for part in _split_top(sel or ""):
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise bad_request("invalid selector: '%s'; can't understand '%s'"
                              % (sel, part))
        path, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
        if path not in kind.fields:
            if kind.custom:
                raise bad_request('"%s" is not a known field selector: only %s'
                                  % (path, ", ".join('"%s"' % f for f in
                                                     sorted(kind.fields))))
            raise bad_request("field label not supported: %s" % path)
        reqs.append((path, op == "!=", val))
    return reqs


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):
        # Event's "source" field selector means source.component.
        return str(cur.get("component", ""))
    return str(cur)


def fields_match(reqs, obj):
    for path, negate, val in reqs:
        if (field_value(obj, path) == val) == negate:
            return False
    return True


# ---------------------------------------------------------------- patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# Merge keys of the lists strategic merge patch merges element-wise.
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "imagePullSecrets": "name",
    "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "ports": "containerPort", "conditions": "type", "tolerations": None,
    "ownerReferences": "uid", "hostAliases": "ip", "topologySpreadConstraints":
    "topologyKey",
}
# Lists of strings strategic merge patch treats as sets (union).
_SET_LISTS = ("finalizers",)


def strategic_merge_patch(target, patch, field=None):
    """The parts of strategic merge patch kubectl sends (label, annotate,
    apply, patch --type strategic): maps merge like RFC 7386, lists of
    objects with a known merge key merge by key, `finalizers` merges as a
    set, $patch/$setElementOrder/$retainKeys/$deleteFromPrimitiveList
    directives are honoured or dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [x for x in out[name] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list):
            out[k] = _smp_list(out.get(k), v, k)
        else:
            out[k] = strategic_merge_patch(out.get(k), v, k)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _smp_list(cur, patch, field):
    key = _MERGE_KEYS.get(field)
    if field in _SET_LISTS and isinstance(cur, list):
        out = list(cur)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    if key is None or not isinstance(cur, list) or \
            not all(isinstance(x, dict) and key in x for x in patch if
                    not (isinstance(x, dict) and x.get("$patch") == "delete")):
        return [copy.deepcopy(x) for x in patch]
    out = [copy.deepcopy(x) for x in cur]
    for item in patch:
        idx = next((i for i, x in enumerate(out)
                    if isinstance(x, dict) and x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge_patch({}, item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            cur = cur[p]
        else:
            raise KeyError(p)
    return cur


def json_patch(doc, ops):
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    for op in ops:
        try:
            kind = op["op"]
            parts = _pointer(op["path"])
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                val = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    doc = _remove(doc, src)
                doc = _add(doc, parts, val)
            elif kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                doc = _remove(doc, parts)
            elif kind == "replace":
                _walk(doc, parts)
                doc = _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise ApiError(422, "Invalid", "testing value %s failed"
                                   % op["path"])
            else:
                raise bad_request("unknown json patch op %r" % kind)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", "json patch %s %s: %s"
                           % (op.get("op"), op.get("path"), e))
    return doc


def _add(doc, parts, val):
    if not parts:
        return val
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(val)
        else:
            i = int(last)
            if i < 0 or i > len(parent):
                raise IndexError(last)
            parent.insert(i, val)
    elif isinstance(parent, dict):
        parent[last] = val
    else:
        raise KeyError(last)
    return doc


def _remove(doc, parts):
    if not parts:
        return None
    parent = _walk(doc, parts[:-1])
    if isinstance(parent, list):
        parent.pop(int(parts[-1]))
    else:
        del parent[parts[-1]]
    return doc
