#!/usr/bin/python3
# Reference signer for test-sigv4: reads one JSON request per line on stdin and prints
# botocore's canonical request and Authorization header as one JSON line each.
# Input keys: method, url (already percent-encoded), headers {name: value},
# payload_hash, amz_date, access_key, secret_key, token (optional), region.
import json
import sys

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class FixedSigner(S3SigV4Auth):
    """S3 signer with an explicit payload hash and timestamp (no clock, no body)."""

    def __init__(self, creds, region, payload_hash):
        super().__init__(creds, "s3", region)
        self.fixed_hash = payload_hash

    def payload(self, request):
        return self.fixed_hash


for line in sys.stdin:
    q = json.loads(line)
    creds = Credentials(q["access_key"], q["secret_key"], q.get("token"))
    req = AWSRequest(method=q["method"], url=q["url"], data=b"", headers=q["headers"])
    signer = FixedSigner(creds, q["region"], q["payload_hash"])
    req.context["timestamp"] = q["amz_date"]
    signer._modify_request_before_signing(req)
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    signer._inject_signature_to_request(req, signer.signature(sts, req))
    print(json.dumps({"canonical": canonical, "authorization": req.headers["Authorization"]}))
    sys.stdout.flush()
