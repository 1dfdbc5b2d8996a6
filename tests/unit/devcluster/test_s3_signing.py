"""The S3 test store's client signs requests as AWS documents Signature Version 4, so a server
that checks signatures (Versity's S3 gateway) takes them, and a wrong secret is refused."""

from __future__ import annotations

import datetime

from devcluster import s3

# AWS's own example: "GET Bucket (List Objects)" in the Signature Version 4 documentation.
EXAMPLE = s3.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
MOMENT = datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC)
URL = "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J"


def test_the_signature_matches_the_documented_example() -> None:
    headers = s3.signed_headers(EXAMPLE, "GET", URL, b"", MOMENT)
    assert headers["x-amz-date"] == "20130524T000000Z"
    assert headers["x-amz-content-sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    )


def test_query_order_does_not_change_the_signature_and_the_body_does() -> None:
    reordered = "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2"
    assert s3.signed_headers(EXAMPLE, "GET", reordered, b"", MOMENT) == s3.signed_headers(
        EXAMPLE, "GET", URL, b"", MOMENT
    )
    put = "https://examplebucket.s3.amazonaws.com/key"
    assert s3.signed_headers(EXAMPLE, "PUT", put, b"a", MOMENT) != s3.signed_headers(
        EXAMPLE, "PUT", put, b"b", MOMENT
    )


def test_generated_credentials_are_fresh_and_the_secret_is_never_shown() -> None:
    first, second = s3.Credentials.generate(), s3.Credentials.generate()
    assert first.access_key != second.access_key
    assert first.secret_key != second.secret_key
    assert len(first.secret_key) >= 32
    assert first.secret_key not in repr(first)
