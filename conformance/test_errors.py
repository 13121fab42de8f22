"""Error responses as S3 shapes them: XML body with Code, Message, Resource and RequestId,
the right status, request ids on every response, no body on HEAD."""

import os
import re
import socket
import time
import urllib.parse

import pytest

from conftest import http_get


def signed_url(s3, method, **params):
    return s3.generate_presigned_url(method, Params=params, ExpiresIn=60)


def test_error_document_shape(s3, bucket):
    status, headers, body = http_get(signed_url(s3, "get_object", Bucket=bucket, Key="missing key"))
    assert status == 404
    text = body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    for element in ("Code", "Message", "Resource", "RequestId", "HostId"):
        assert re.search(f"<{element}>[^<]+</{element}>", text), (element, text)
    assert "<Code>NoSuchKey</Code>" in text and "<Key>missing key</Key>" in text
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["x-amz-request-id"] in text
    assert lower["content-type"] == "application/xml"


def test_head_errors_have_no_body(s3, bucket):
    status, headers, body = http_get(signed_url(s3, "head_object", Bucket=bucket, Key="nope"), method="HEAD")
    assert status == 404 and body == b""
    assert "x-amz-id-2" in {k.lower() for k in headers}


def test_success_carries_request_ids(s3, bucket):
    meta = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ResponseMetadata"]
    assert meta["RequestId"] and meta["HostId"]


def test_missing_content_length(server, s3, bucket):
    url = signed_url(s3, "put_object", Bucket=bucket, Key="no-length")
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 411") and "<Code>MissingContentLength</Code>" in reply


def test_entity_too_large_is_refused_before_the_body(server, s3, bucket):
    url = signed_url(s3, "put_object", Bucket=bucket, Key="huge")
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"Content-Length: {6 * 1024 ** 3}\r\n\r\n".encode())
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 400") and "<Code>EntityTooLarge</Code>" in reply



@pytest.mark.tz
def test_time_zone_of_this_run_is_honoured():
    """The tz-marked run must really be in a non-UTC zone (missing tzdata would silently mean UTC)."""
    tz = os.environ.get("TZ", "UTC")
    offset = time.localtime().tm_gmtoff
    assert (offset == 0) == (tz in ("UTC", "Etc/UTC")), (tz, offset)
