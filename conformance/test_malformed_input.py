"""Seeded sweeps of odd and malformed requests, each signed correctly by botocore, so they get
past authentication into the operations: every answer must be a success or an S3 error (XML
with a Code, never a 5xx other than 501 NotImplemented), no request may hang, and a mangled
aws-chunked upload may never store bytes its checksum trailer does not vouch for."""

import base64
import random
import re
import urllib.parse
import zlib

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, http_get

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


@pytest.fixture(scope="module")
def server(workdir):
    """A server of its own: the sweeps create and delete buckets with made-up names."""
    srv = Server(workdir / "sweep-data").start()
    yield srv
    srv.stop()


class UnsignedTrailerAuth(S3SigV4Auth):
    """Signs the headers only, the body being aws-chunked with a checksum trailer (as the
    SDKs send uploads by default now)."""

    def payload(self, request):
        return UNSIGNED_TRAILER


def send(endpoint, method, path, query="", body=b"", headers=None, auth=S3SigV4Auth):
    """Signs and sends one request; returns (status, error code or None, body)."""
    url = f"{endpoint}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    # http_get's socket timeout turns a hang into a failure.
    status, _, data = http_get(prepared.url, method, data=body, headers=dict(prepared.headers))
    code = re.search(rb"<Code>(\w+)</Code>", data)
    return status, code and code.group(1).decode(), data


def assert_s3_answer(method, status, code, body, what):
    if method == "HEAD":  # no body to say which error
        assert status < 500 or status == 501, (what, status)
        return
    if status >= 500:
        assert status == 501 and code == "NotImplemented", (what, status, body[:300])
    if status >= 400:
        assert body.startswith(b"<?xml") and code, (what, status, body[:300])


QUERY_NAMES = ["list-type", "max-keys", "prefix", "delimiter", "continuation-token",
               "start-after", "encoding-type", "fetch-owner", "marker", "uploads", "key-marker",
               "upload-id-marker", "max-uploads", "uploadId", "part-number-marker", "max-parts",
               "location", "notification", "acl", "partNumber", "response-content-type",
               "versionId", "x-id", "delete"]
HEADER_NAMES = ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
                "x-amz-copy-source", "x-amz-copy-source-range", "x-amz-metadata-directive",
                "content-md5", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
                "x-amz-checksum-sha256", "x-amz-checksum-crc64nvme",
                "x-amz-sdk-checksum-algorithm", "content-type", "x-amz-meta-a",
                "content-encoding", "x-amz-decoded-content-length", "x-amz-acl",
                "x-amz-storage-class", "x-amz-copy-source-if-match", "x-amz-tagging"]
VALUES = ["", "0", "1", "-1", "1001", "99999999999999999999", "url", "true", "*", '"abc"',
          "bytes=0-0", "bytes=-1", "bytes=5-1", "bytes=a-b", "bytes=0-1,2-3",
          "Wed, 21 Oct 2015 07:28:00 GMT", "/sweep/k1", "/sweep/%ZZ", "/no-such-bucket/x",
          "COPY", "REPLACE", "AAAA", "1B2M2Y8AsgTpgAmY7PhCfg==", "aws-chunked", "CRC32"]
XML_PIECES = ["<", ">", "</", "/>", '<?xml version="1.0"?>', "<Delete>", "</Delete>",
              "<Object>", "</Object>", "<Key>", "</Key>", "<Quiet>true</Quiet>", "<Part>",
              "<PartNumber>", "1", "-1", "10001", "</PartNumber>", "<ETag>", '"abc"', "</ETag>",
              "</Part>", "<CompleteMultipartUpload>", "</CompleteMultipartUpload>",
              "<NotificationConfiguration>", "</NotificationConfiguration>",
              "<CloudFunctionConfiguration>", "<Event>", "s3:ObjectCreated:*", "</Event>",
              "<Filter><S3Key><FilterRule><Name>", "prefix", "</Name><Value>", "</Value>",
              "<CloudFunction>", "arn:aws:lambda:us-east-1:000000000000:function:f",
              "</CloudFunction>", "&amp;", "&bogus;", "<![CDATA[x]]>",
              "<!DOCTYPE x [<!ENTITY a 'b'>]>", "<CreateBucketConfiguration>",
              "<LocationConstraint>eu-west-1</LocationConstraint>", "\u2603", "\x00"]


def odd_text(rng, most=40):
    alphabet = "abc/%&=+ ?#\t\r\n\x00\x01\x7f\u00e9\u2603-._~" + "xyz"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, most)))


def odd_request(rng, upload_id):
    key = rng.choice(["k1", "k2", "mp", "new", "a/b/c", "x" * 1100, "",
                      urllib.parse.quote(odd_text(rng), safe="")])
    path = f"/sweep/{key}" if key else "/sweep"
    if rng.random() < 0.1:
        path = "/" + rng.choice(["no-such-bucket", "a", "UPPER", "x" * 70, "sweep"])
    query = "&".join(
        f"{rng.choice(QUERY_NAMES)}="
        + urllib.parse.quote(rng.choice(VALUES + [upload_id, odd_text(rng)]), safe="")
        for _ in range(rng.randint(0, 3)))
    headers = {rng.choice(HEADER_NAMES): rng.choice(VALUES) for _ in range(rng.randint(0, 3))}
    method = rng.choice(["GET", "HEAD", "PUT", "POST", "DELETE", "GET", "PUT"])
    body = b""
    if method in ("PUT", "POST"):
        if rng.random() < 0.6:
            body = "".join(rng.choice(XML_PIECES) for _ in range(rng.randint(0, 30))).encode()
        else:
            body = odd_text(rng, 3000).encode()
        if method == "POST" and rng.random() < 0.5:
            query = rng.choice(["delete", f"uploadId={upload_id}", "uploads"])
    return method, path, query, body, headers


def test_odd_requests_get_s3_answers(server):
    endpoint = server.endpoint
    assert send(endpoint, "PUT", "/sweep")[0] == 200
    for key in ("k1", "k2"):
        assert send(endpoint, "PUT", f"/sweep/{key}", body=b"x" * 3000)[0] == 200
    status, _, body = send(endpoint, "POST", "/sweep/mp", "uploads")
    assert status == 200
    upload_id = re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()
    rng = random.Random(20261205)
    answered = set()
    for _ in range(1500):
        method, path, query, body, headers = odd_request(rng, upload_id)
        status, code, data = send(endpoint, method, path, query, body, headers)
        assert_s3_answer(method, status, code, data, (method, path, query, headers))
        answered.add(status)
    # The sweep reached the operations, not only the front door.
    assert {200, 204, 400, 404}.issubset(answered), answered
    assert send(endpoint, "GET", "/")[0] == 200


def chunked(rng, data):
    """`data` as aws-chunked pieces of random sizes, with its CRC-32 as the trailer."""
    body, start = b"", 0
    while start < len(data):
        piece = data[start:start + rng.randint(1, 4096)]
        body += b"%x\r\n" % len(piece) + piece + b"\r\n"
        start += len(piece)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big"))
    return body + b"0\r\nx-amz-checksum-crc32:" + crc + b"\r\n\r\n"


def mangle(rng, body):
    body = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(body))
        roll = rng.random()
        if roll < 0.35:
            body[at] = rng.randrange(256)
        elif roll < 0.55:
            del body[at:at + rng.randint(1, 40)]
        elif roll < 0.8:
            body[at:at] = rng.choice([b"\r\n", b"ffffffffffffffff\r\n", b";chunk-signature=0",
                                      b"0\r\n\r\n", b"-1\r\n", b"x" * 50])
        else:
            del body[at:]
    return bytes(body)


def test_mangled_aws_chunked_uploads_are_refused_or_stored_as_their_trailer_says(server):
    endpoint = server.endpoint
    assert send(endpoint, "PUT", "/chunked-sweep")[0] == 200
    rng = random.Random(5)
    stored = refused = 0
    for n in range(400):
        data = rng.randbytes(rng.randint(0, 12000))
        body = chunked(rng, data)
        if rng.random() < 0.85:
            body = mangle(rng, body)
        headers = {"content-encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
                   "x-amz-decoded-content-length": str(len(data))}
        key = f"/chunked-sweep/o{n}"
        status, code, answer = send(endpoint, "PUT", key, body=body, headers=headers,
                                    auth=UnsignedTrailerAuth)
        assert_s3_answer("PUT", status, code, answer, (n, body[-80:]))
        if status == 200:
            stored += 1
            status, _, got = send(endpoint, "GET", key)
            assert status == 200 and got == data, (n, len(got), len(data))
        else:
            refused += 1
            assert send(endpoint, "HEAD", key)[0] == 404, n  # nothing partial left behind
    assert stored > 0 and refused > 0, (stored, refused)
    assert send(endpoint, "GET", "/")[0] == 200
