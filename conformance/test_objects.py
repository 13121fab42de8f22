"""Objects through aws-cli (s3 cp/rm, s3api) and boto3: bodies, metadata, ranges,
conditionals, checksums, deletes and copies."""

import base64
import hashlib
import json
import os
import zlib

import pytest
from botocore.exceptions import ClientError

AWKWARD_KEYS = [
    "with space.txt",
    "plus+sign.txt",
    "per%cent.txt",
    "amp&ersand.txt",
    "unicode-é-ü-🎵.txt",
    "deep/nested/path/file.json",
    "q?mark#hash.txt",
    "tilde~star*(parens)!.txt",
    "semi;colon=equals,comma.txt",
]


def code(e):
    return e.value.response["Error"]["Code"]


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_cli_cp_up_and_down_byte_for_byte(aws, bucket, tmp_path):
    src = tmp_path / "src.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)  # below aws-cli's 8 MiB multipart threshold
    src.write_bytes(data)
    aws.run("s3", "cp", str(src), f"s3://{bucket}/dir/src.bin")
    dst = tmp_path / "dst.bin"
    aws.run("s3", "cp", f"s3://{bucket}/dir/src.bin", str(dst))
    assert dst.read_bytes() == data
    listing = aws.run("s3", "ls", f"s3://{bucket}/dir/").stdout
    assert str(len(data)) in listing and "src.bin" in listing
    aws.run("s3", "rm", f"s3://{bucket}/dir/src.bin")
    assert aws.run("s3", "ls", f"s3://{bucket}/dir/", check=False).stdout == ""


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_round_trip_with_both_clients(aws, s3, bucket, tmp_path, key):
    body = f"body of {key}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert key in listed
    listed_v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert key in listed_v1
    out = tmp_path / "out"
    aws.run("s3", "cp", f"s3://{bucket}/{key}", str(out))
    assert out.read_bytes() == body
    aws.run("s3", "rm", f"s3://{bucket}/{key}")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert status(e) == 404


def test_metadata_and_content_headers(s3, bucket):
    s3.put_object(
        Bucket=bucket, Key="song.json", Body=b"{}",
        ContentType="application/json", ContentEncoding="identity",
        ContentDisposition='attachment; filename="song.json"', ContentLanguage="sv",
        CacheControl="max-age=3600", Expires="Wed, 21 Oct 2043 07:28:00 GMT",
        Metadata={"user": "alice", "track-id": "42"},
    )
    head = s3.head_object(Bucket=bucket, Key="song.json")
    assert head["ContentType"] == "application/json"
    assert head["ContentEncoding"] == "identity"
    assert head["ContentDisposition"] == 'attachment; filename="song.json"'
    assert head["ContentLanguage"] == "sv"
    assert head["CacheControl"] == "max-age=3600"
    assert head["Metadata"] == {"user": "alice", "track-id": "42"}
    assert head["ContentLength"] == 2
    assert head["ETag"] == '"%s"' % hashlib.md5(b"{}").hexdigest()
    got = s3.get_object(Bucket=bucket, Key="song.json", ResponseContentType="text/plain",
                        ResponseCacheControl="no-cache")
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "no-cache"


def test_ranges(s3, bucket):
    data = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=65000-70000")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == "bytes 65000-70000/300000"
    assert part["Body"].read() == data[65000:70001]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-100")["Body"].read() == data[-100:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=299990-")["Body"].read() == data[299990:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=300000-")
    assert code(e) == "InvalidRange" and status(e) == 416


@pytest.mark.tz
def test_conditionals(s3, bucket):
    s3.put_object(Bucket=bucket, Key="c", Body=b"cond")
    head = s3.head_object(Bucket=bucket, Key="c")
    etag, modified = head["ETag"], head["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert code(e) == "PreconditionFailed" and status(e) == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status(e) == 304
    # boto3 formats datetimes (aware, from the response) itself; the local TZ must not matter.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified)
    assert status(e) == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="c", IfUnmodifiedSince=modified.replace(year=2001))
    assert status(e) == 412
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified.replace(year=2001))["Body"].read() == b"cond"


def test_missing_key_and_bucket(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-here", Key="nope")
    assert code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert code(e) == "NoSuchBucket"


def test_key_too_long(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"


def test_bad_content_md5_stores_nothing(s3, bucket):
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"payload" * 1000, ContentMD5=wrong)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")
    good = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=bucket, Key="good", Body=b"payload", ContentMD5=good)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksum_algorithms(s3, bucket, algorithm):
    data = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key=f"ck-{algorithm}", Body=data, ChecksumAlgorithm=algorithm)
    field = f"Checksum{algorithm}"
    assert put[field]
    head = s3.head_object(Bucket=bucket, Key=f"ck-{algorithm}", ChecksumMode="ENABLED")
    assert head[field] == put[field]
    got = s3.get_object(Bucket=bucket, Key=f"ck-{algorithm}", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got[field] == put[field]


def test_wrong_checksum_is_bad_digest(s3, bucket):
    data = b"checked body"
    wrong = base64.b64encode((zlib.crc32(b"other") & 0xFFFFFFFF).to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="wrong-crc", Body=data, ChecksumCRC32=wrong)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="wrong-crc")


def test_default_checksum_settings(server, bucket):
    """boto3 >= 1.36 sends CRC checksums by default; both settings must work."""
    from conftest import make_client

    for setting in ("when_supported", "when_required"):
        client = make_client(server.endpoint, request_checksum_calculation=setting,
                             response_checksum_validation=setting)
        client.put_object(Bucket=bucket, Key=f"default-{setting}", Body=b"x" * 100_000)
        assert client.get_object(Bucket=bucket, Key=f"default-{setting}")["Body"].read() == b"x" * 100_000


def test_delete_object_and_delete_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    assert s3.delete_object(Bucket=bucket, Key="one")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="never")["ResponseMetadata"]["HTTPStatusCode"] == 204
    keys = [f"multi/{i} x&y" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys] + [{"Key": "ghost"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys + ["ghost"])
    assert "Errors" not in resp
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="multi/")
    s3.put_object(Bucket=bucket, Key="quiet", Body=b"x")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "quiet"}], "Quiet": True})
    assert "Deleted" not in quiet


def test_cli_s3api_delete_objects(aws, s3, bucket):
    for k in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = aws.run("s3api", "delete-objects", "--bucket", bucket,
                  "--delete", json.dumps({"Objects": [{"Key": "a"}, {"Key": "b"}]})).stdout
    assert sorted(d["Key"] for d in json.loads(out)["Deleted"]) == ["a", "b"]


def test_copy_object(aws, s3, bucket):
    data = os.urandom(150_000)
    s3.put_object(Bucket=bucket, Key="src key", Body=data, ContentType="audio/flac", Metadata={"artist": "Sibelius"})
    other = bucket + "-dst"
    s3.create_bucket(Bucket=other)
    copied = s3.copy_object(Bucket=other, Key="copy", CopySource={"Bucket": bucket, "Key": "src key"})
    assert copied["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    got = s3.get_object(Bucket=other, Key="copy")
    assert got["Body"].read() == data
    assert got["ContentType"] == "audio/flac" and got["Metadata"] == {"artist": "Sibelius"}

    s3.copy_object(Bucket=bucket, Key="src key", CopySource={"Bucket": bucket, "Key": "src key"},
                   MetadataDirective="REPLACE", Metadata={"artist": "Nielsen"}, ContentType="audio/ogg")
    head = s3.head_object(Bucket=bucket, Key="src key")
    assert head["Metadata"] == {"artist": "Nielsen"} and head["ContentType"] == "audio/ogg"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src key", CopySource={"Bucket": bucket, "Key": "src key"})
    assert code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src key"},
                       CopySourceIfMatch='"nope"')
    assert code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code(e) == "NoSuchKey"

    # aws-cli s3 cp between buckets uses CopyObject.
    aws.run("s3", "cp", f"s3://{bucket}/src key", f"s3://{other}/via cli")
    assert s3.get_object(Bucket=other, Key="via cli")["Body"].read() == data


def test_not_implemented_operations_say_so(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert code(e) == "NotImplemented" and status(e) == 501
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(e) == "NotImplemented" and status(e) == 501


def test_acls_read_as_owner_full_control(s3, aws, bucket):
    s3.put_object(Bucket=bucket, Key="song.ogg", Body=b"x")
    for acl in (s3.get_bucket_acl(Bucket=bucket), s3.get_object_acl(Bucket=bucket, Key="song.ogg")):
        [grant] = acl["Grants"]
        assert grant["Permission"] == "FULL_CONTROL"
        assert grant["Grantee"]["Type"] == "CanonicalUser"
        assert grant["Grantee"]["ID"] == acl["Owner"]["ID"]
    out = json.loads(aws.run("s3api", "get-object-acl", "--bucket", bucket, "--key", "song.ogg").stdout)
    assert [g["Permission"] for g in out["Grants"]] == ["FULL_CONTROL"]
    with pytest.raises(ClientError) as e:
        s3.get_object_acl(Bucket=bucket, Key="absent")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=bucket, Key="song.ogg", ACL="public-read")
    assert code(e) == "NotImplemented" and status(e) == 501


def test_versioning_reads_as_never_enabled(s3, aws, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    assert aws.run("s3api", "get-bucket-versioning", "--bucket", bucket).stdout.strip() == ""


def test_cli_sync_tree_up_and_down(aws, bucket, tmp_path):
    src = tmp_path / "tree"
    files = {"a.txt": b"a", "dir/b c.txt": b"b" * 5000, "dir/sub/ü+.bin": os.urandom(70_000), "z/empty": b""}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    aws.run("s3", "sync", str(src), f"s3://{bucket}/tree")
    again = aws.run("s3", "sync", str(src), f"s3://{bucket}/tree").stdout
    assert again.strip() == "", "a second sync finds nothing to upload"
    dst = tmp_path / "back"
    aws.run("s3", "sync", f"s3://{bucket}/tree", str(dst))
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
