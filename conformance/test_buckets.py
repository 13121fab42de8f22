"""Buckets through aws-cli (s3 mb/ls/rb) and boto3 (create/head/delete/list/location)."""

import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import make_client


def error_code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def test_aws_cli_mb_ls_rb(aws):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    assert f"make_bucket: {name}" in aws.run("s3", "mb", f"s3://{name}").stdout
    assert name in aws.run("s3", "ls").stdout
    failed = aws.run("s3", "mb", f"s3://{name}", check=False)
    assert failed.returncode != 0 and "BucketAlreadyOwnedByYou" in failed.stderr
    assert f"remove_bucket: {name}" in aws.run("s3", "rb", f"s3://{name}").stdout
    assert name not in aws.run("s3", "ls").stdout


def test_aws_cli_rb_force_empties_the_bucket(aws, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    aws.run("s3", "mb", f"s3://{name}")
    f = tmp_path / "x.txt"
    f.write_text("x")
    for key in ("a.txt", "dir/b.txt", "dir/sub/c d.txt"):
        aws.run("s3", "cp", str(f), f"s3://{name}/{key}")
    failed = aws.run("s3", "rb", f"s3://{name}", check=False)
    assert "BucketNotEmpty" in failed.stderr
    aws.run("s3", "rb", "--force", f"s3://{name}")
    assert name not in aws.run("s3", "ls").stdout


def test_boto3_bucket_calls(s3):
    name = f"boto-{uuid.uuid4().hex[:10]}"
    resp = s3.create_bucket(Bucket=name)
    assert resp["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None

    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket=name, Key="k", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_code(e) == "NoSuchBucket"


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "under_score", "10.0.0.1", "ends-"])
def test_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_code(e) == "InvalidBucketName"


def test_location_constraint(server):
    client = make_client(server.endpoint)
    name = f"eu-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert client.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"


def test_aws_cli_mb_in_another_region(aws):
    # aws-cli adds a LocationConstraint for regions other than us-east-1.
    name = f"cli-{uuid.uuid4().hex[:10]}"
    aws.run("s3", "mb", f"s3://{name}", "--region", "eu-north-1")
    out = aws.run("s3api", "get-bucket-location", "--bucket", name).stdout
    assert "eu-north-1" in out
