"""Signature Version 4, checked server-side, for the AWS-protocol routes.

When the API has a token, an AWS call must be signed with access key id
``whispersync`` and the token as the secret access key. The expected signature
is computed by botocore's own signer (``botocore.auth.SigV4Auth``) over the
request as received: the method, path and query, the headers the client listed
in ``SignedHeaders``, and the body's SHA-256, within the region and service of
the client's credential scope. References: "Create a signed AWS API request" and
"Elements of an AWS API request signature" (IAM User Guide): a request must
arrive within five minutes of its X-Amz-Date.

Refusals use AWS's common error codes: MissingAuthenticationToken and
InvalidClientTokenId and SignatureDoesNotMatch (403), IncompleteSignature and
RequestExpired (400).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from whispersync.web.aws._protocol import AwsError

ACCESS_KEY_ID = "whispersync"
MAX_SKEW = timedelta(minutes=5)
_ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")


def verify(method: str, path: str, query: str, headers: Sequence[tuple[str, str]], body: bytes, secret: str,
           *, host: str, now: datetime | None = None) -> None:
    """Return if the request is signed with ``secret``; raise AwsError saying why not otherwise."""
    lookup = {}
    for name, value in headers:
        lookup.setdefault(name.lower(), []).append(value)
    authorization = (lookup.get("authorization") or [""])[0].strip()
    if not authorization:
        raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token: sign it with SigV4 "
                       f"(access key id {ACCESS_KEY_ID!r}, the API token as the secret key)", status=403)
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != _ALGORITHM:
        raise AwsError("IncompleteSignature", f"Authorization must use {_ALGORITHM}")
    fields = {}
    for part in rest.split(","):
        match = _FIELD.fullmatch(part)
        if match is None:
            raise AwsError("IncompleteSignature", "Authorization must be 'AWS4-HMAC-SHA256 Credential=..., "
                                                  "SignedHeaders=..., Signature=...'")
        fields[match.group(1)] = match.group(2)
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise AwsError("IncompleteSignature", f"Authorization lacks {', '.join(missing)}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise AwsError("IncompleteSignature", "Credential must be KEYID/DATE/REGION/SERVICE/aws4_request")
    key_id, scope_date, region, service, _ = scope
    if key_id != ACCESS_KEY_ID:
        raise AwsError("InvalidClientTokenId", f"The security token included in the request is invalid: use access "
                       f"key id {ACCESS_KEY_ID!r}", status=403)

    stamp = (lookup.get("x-amz-date") or [""])[0].strip()
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AwsError("IncompleteSignature", "the request needs an X-Amz-Date header (YYYYMMDDTHHMMSSZ)") from None
    if scope_date != stamp[:8]:
        raise AwsError("SignatureDoesNotMatch", "the Credential scope's date is not X-Amz-Date's date", status=403)
    now = now or datetime.now(UTC)
    if abs(now - signed_at) > MAX_SKEW:
        raise AwsError("RequestExpired", f"Request has expired: signed at {signed_at:%Y-%m-%dT%H:%M:%SZ}, "
                       f"the server's time is {now:%Y-%m-%dT%H:%M:%SZ} (at most 5 minutes apart)")

    signed = [h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip()]
    if "host" not in signed:
        raise AwsError("IncompleteSignature", "SignedHeaders must include host")
    absent = [h for h in signed if h not in lookup and h != "host"]
    if absent:
        raise AwsError("IncompleteSignature", f"signed header(s) not in the request: {', '.join(absent)[:200]}")
    content_hash = (lookup.get("x-amz-content-sha256") or [None])[0]
    if content_hash is not None and content_hash not in _UNSIGNED \
            and not hmac.compare_digest(content_hash, hashlib.sha256(body).hexdigest()):
        raise AwsError("SignatureDoesNotMatch", "X-Amz-Content-SHA256 is not the body's SHA-256", status=403)

    # Only the headers the client signed, in its spelling: SigV4Auth canonicalises them.
    request = AWSRequest(method=method, url=f"http://{host}{path}" + (f"?{query}" if query else ""), data=body)
    for name in signed:
        for value in lookup.get(name, [host] if name == "host" else []):
            request.headers[name] = value  # an HTTPMessage: assigning adds, so repeated headers stay
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(ACCESS_KEY_ID, secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise AwsError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                       "you provided. Check your AWS Secret Access Key (the API token) and signing method.",
                       status=403)
