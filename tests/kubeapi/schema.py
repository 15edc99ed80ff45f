"""Structural-schema handling of the API-server double: what a real API server
does with a CustomResourceDefinition's openAPIV3Schema on every write of a
custom object — drop null values of non-nullable fields, prune fields the
schema does not know (unless x-kubernetes-preserve-unknown-fields), then check
types, enums, required fields and simple value limits, collecting every error
with the real server's wording."""

import re

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or
    (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}

# Always kept at the top of a custom object whatever the schema says.
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _json_type(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _quote(v):
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def prune(schema, obj, root=True):
    """Remove, in place, the fields the schema does not know and the nulls it
    does not allow. Returns obj."""
    if not isinstance(schema, dict):
        return obj
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
        for k in list(obj):
            if root and k in _ROOT_KEEP:
                continue
            if props is not None and k in props:
                sub = props[k]
            elif isinstance(extra, dict):
                sub = extra
            elif extra is True or keep_unknown:
                continue
            else:
                del obj[k]
                continue
            if obj[k] is None and not sub.get("nullable"):
                del obj[k]
                continue
            prune(sub, obj[k], False)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for v in obj:
            prune(schema["items"], v, False)
    return obj


def validate(schema, obj, path=""):
    """Errors as "path: Reason: detail" strings, the real server's wording."""
    errs = []
    if not isinstance(schema, dict):
        return errs
    here = path or "<root>"
    if obj is None:
        if not schema.get("nullable"):
            errs.append('%s: Invalid value: "null": %s in body must be of type %s: "null"'
                        % (here, here, schema.get("type", "object")))
        return errs
    t = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not (_TYPES["integer"](obj) or isinstance(obj, str)):
            errs.append('%s: Invalid value: "%s": %s in body must be of type '
                        'integer,string: "%s"' % (here, _json_type(obj), here,
                                                  _json_type(obj)))
            return errs
    elif t and not _TYPES.get(t, lambda v: True)(obj):
        errs.append('%s: Invalid value: "%s": %s in body must be of type %s: "%s"'
                    % (here, _json_type(obj), here, t, _json_type(obj)))
        return errs
    if "enum" in schema and obj not in schema["enum"]:
        errs.append("%s: Unsupported value: %s: supported values: %s"
                    % (here, _quote(obj), ", ".join(_quote(v) for v in schema["enum"])))
    if isinstance(obj, str):
        if "maxLength" in schema and len(obj) > schema["maxLength"]:
            errs.append("%s: Too long: may not be longer than %d"
                        % (here, schema["maxLength"]))
        if "minLength" in schema and len(obj) < schema["minLength"]:
            errs.append('%s: Invalid value: "%s": %s in body should be at least %d '
                        'chars long' % (here, obj, here, schema["minLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], obj):
            errs.append('%s: Invalid value: "%s": %s in body should match \'%s\''
                        % (here, obj, here, schema["pattern"]))
    if _TYPES["number"](obj):
        if "minimum" in schema and obj < schema["minimum"]:
            errs.append("%s: Invalid value: %s: %s in body should be greater than or "
                        "equal to %s" % (here, obj, here, schema["minimum"]))
        if "maximum" in schema and obj > schema["maximum"]:
            errs.append("%s: Invalid value: %s: %s in body should be less than or "
                        "equal to %s" % (here, obj, here, schema["maximum"]))
    if isinstance(obj, dict):
        for r in schema.get("required") or []:
            if r not in obj:
                errs.append("%s: Required value" % ("%s.%s" % (path, r) if path else r))
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in obj.items():
            if not path and k in _ROOT_KEEP:
                continue
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            if sub is not None:
                errs.extend(validate(sub, v, "%s.%s" % (path, k) if path else k))
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(obj):
            errs.extend(validate(schema["items"], v, "%s[%d]" % (here, i)))
    return errs


def check(schema, obj):
    """Prune obj in place and return its validation errors (empty: valid)."""
    if not schema:
        return []
    prune(schema, obj)
    return validate(schema, obj)
