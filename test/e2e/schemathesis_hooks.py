"""Schemathesis hooks for the contract test: the Cognito-compatible route speaks AWS JSON 1.1
(`application/x-amz-json-1.1`), which is JSON on the wire; without these, schemathesis can neither
send a request body to it nor validate its answers."""

import json

import schemathesis

schemathesis.serializer.alias("application/x-amz-json-1.1", "application/json")


@schemathesis.deserializer("application/x-amz-json-1.1")
def amz_json(ctx, response):
    return json.loads(response.content)
