"""Authentication as real clients do it: SigV4 headers, presigned URLs from aws-cli and boto3
(SigV2 and SigV4), and the errors for wrong or missing credentials."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, http_get, make_client


def code(e):
    return e.value.response["Error"]["Code"]


@pytest.mark.tz
def test_cli_presign_url_downloads(aws, s3, bucket):
    s3.put_object(Bucket=bucket, Key="shared file.txt", Body=b"presigned body")
    url = aws.run("s3", "presign", f"s3://{bucket}/shared file.txt", "--expires-in", "120").stdout.strip()
    status, _, body = http_get(url)
    assert (status, body) == (200, b"presigned body")


@pytest.mark.tz
@pytest.mark.parametrize("signature_version", [None, "s3", "s3v4"])
def test_boto3_presigned_get_and_put(server, s3, bucket, signature_version):
    client = make_client(server.endpoint, signature_version=signature_version) if signature_version else s3
    put_url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up/lo ad"}, ExpiresIn=60)
    status, _, _ = http_get(put_url, method="PUT", data=b"uploaded via url")
    assert status == 200
    get_url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "up/lo ad"}, ExpiresIn=60)
    status, _, body = http_get(get_url)
    assert (status, body) == (200, b"uploaded via url")


@pytest.mark.parametrize("signature_version", ["s3", "s3v4"])
def test_expired_presigned_url_is_access_denied(server, bucket, signature_version):
    client = make_client(server.endpoint, signature_version=signature_version)
    client.put_object(Bucket=bucket, Key="soon", Body=b"x")
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "soon"}, ExpiresIn=1)
    time.sleep(2.1)
    status, _, body = http_get(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_wrong_secret_and_unknown_key(server, bucket):
    with pytest.raises(ClientError) as e:
        make_client(server.endpoint, secret_key="wrong").list_objects_v2(Bucket=bucket)
    assert code(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        make_client(server.endpoint, access_key="nobody").list_objects_v2(Bucket=bucket)
    assert code(e) == "InvalidAccessKeyId"


def test_anonymous_is_access_denied(server, bucket):
    status, headers, body = http_get(f"{server.endpoint}/{bucket}")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert "x-amz-request-id" in {k.lower() for k in headers}


def test_unsigned_payload(server, bucket):
    client = make_client(server.endpoint, s3={"payload_signing_enabled": False})
    client.put_object(Bucket=bucket, Key="unsigned", Body=b"u" * 10_000)
    assert client.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == b"u" * 10_000


def test_sigv2_header_auth(server, bucket):
    client = make_client(server.endpoint, signature_version="s3")
    client.put_object(Bucket=bucket, Key="v2 header", Body=b"old")
    assert client.get_object(Bucket=bucket, Key="v2 header")["Body"].read() == b"old"


def test_several_key_pairs(workdir):
    from conftest import Server

    srv = Server(workdir / "multi", extra_args=["--access-key", "first,second", "--secret-key", "s1,s2"]).start()
    try:
        for ak, sk in (("first", "s1"), ("second", "s2"), (ACCESS_KEY, SECRET_KEY)):
            make_client(srv.endpoint, access_key=ak, secret_key=sk).list_buckets()
        with pytest.raises(ClientError) as e:
            make_client(srv.endpoint, access_key="first", secret_key="s2").list_buckets()
        assert code(e) == "SignatureDoesNotMatch"
    finally:
        srv.stop()
