"""Check an answer against the OpenAPI document with schemathesis's response checks.

Status code, content type, headers and body schema. An NDJSON answer is
checked line by line: OpenAPI 3.0 has no item schema, so the document's
schema for application/x-ndjson is that of each line (manager/server/openapi.py).
"""

import json

import schemathesis
from schemathesis import checks as st_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

NDJSON = "application/x-ndjson"
CHECKS = [st_checks.status_code_conformance, st_checks.content_type_conformance,
          st_checks.response_headers_conformance, st_checks.response_schema_conformance]


@schemathesis.deserializer(NDJSON)
def deserialize_line(_ctx, response):
    """Return the JSON value of one NDJSON line (check() hands over one line at a time)."""
    return json.loads(response.content)


def content_type(response):
    """Return the Content-Type of a requests or a schemathesis Response ('' if none)."""
    for name, value in response.headers.items():
        if name.lower() == "content-type":
            return value[0] if isinstance(value, list) else value
    return ""


def failures_of(case, response):
    """Return one line per way RESPONSE differs from the document (requests or schemathesis)."""
    checks, answers = CHECKS, [response]
    if content_type(response).startswith(NDJSON):
        lines = [line for line in response.content.split(b"\n") if line.strip()]
        if lines:
            base = Response.from_any(response)
            answers = [Response(status_code=base.status_code, headers=base.headers,
                                content=line, request=base.request, elapsed=base.elapsed,
                                verify=base.verify, message=base.message,
                                http_version=base.http_version, encoding=base.encoding)
                       for line in lines]
        else:  # an empty stream: nothing to validate but its status and headers
            checks = CHECKS[:3]
    found = []
    for answer in answers:
        try:
            case.validate_response(answer, checks=checks)
        except (FailureGroup, Failure) as err:
            for failure in getattr(err, "exceptions", [err]):
                text = f"{getattr(failure, 'title', failure)}: {getattr(failure, 'message', '')}"
                found.append(" ".join(text.split())[:400])
    return found
