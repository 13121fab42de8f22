"""Drives boto3 1.35 (the last release before 1.36 changed checksum defaults: no CRC32 on
uploads, Content-MD5 on DeleteObjects and bucket configuration) against Lambucket. Runs in
its own venv (scripts/test makes it), prints one JSON line of results and exits non-zero
on any mismatch. Usage: python roundtrip.py ENDPOINT BUCKET"""

import hashlib
import io
import json
import os
import sys
import urllib.request

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

endpoint, bucket = sys.argv[1:3]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
)


def check(ok, what):
    if not ok:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


results = {"boto3": boto3.__version__, "botocore": botocore.__version__}
s3.create_bucket(Bucket=bucket)

small = os.urandom(70000)
put = s3.put_object(Bucket=bucket, Key="dir/a b+c.bin", Body=small, Metadata={"genre": "ambient"})
check(put["ETag"] == f'"{hashlib.md5(small).hexdigest()}"', "PutObject ETag")
results["put_checksum_crc32"] = put.get("ChecksumCRC32")
got = s3.get_object(Bucket=bucket, Key="dir/a b+c.bin", Range="bytes=10-19")
check(got["Body"].read() == small[10:20], "ranged GET")
check(got["Metadata"] == {"genre": "ambient"}, f"metadata {got['Metadata']}")

# 20 MiB through s3transfer: multipart, four threads, 5 MiB parts.
big = os.urandom(20 * 1024 * 1024)
transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_fileobj(io.BytesIO(big), bucket, "multipart/20MiB.bin", Config=transfer)
head = s3.head_object(Bucket=bucket, Key="multipart/20MiB.bin")
check(head["ETag"].endswith('-4"'), f"multipart ETag {head['ETag']}")
out = io.BytesIO()
s3.download_fileobj(bucket, "multipart/20MiB.bin", out, Config=transfer)
check(out.getvalue() == big, "multipart bytes (ranged parallel download)")
results["multipart_etag"] = head["ETag"]

s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "dir/a b+c.bin"})
check(s3.get_object(Bucket=bucket, Key="copy.bin")["Body"].read() == small, "CopyObject bytes")

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "copy.bin"},
                                ExpiresIn=300)
with urllib.request.urlopen(url) as resp:
    check(resp.read() == small, "presigned GET")

# Bucket configuration: this botocore sends Content-MD5 with it.
s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})

keys = sorted(
    obj["Key"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    for obj in page.get("Contents", [])
)
check(keys == ["copy.bin", "dir/a b+c.bin", "multipart/20MiB.bin"], f"listing {keys}")
results["listed"] = keys

# DeleteObjects: this botocore sends Content-MD5 (1.36+ sends a CRC32 instead).
deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
check(len(deleted.get("Deleted", [])) == 3 and not deleted.get("Errors"), f"DeleteObjects {deleted}")
try:
    s3.head_object(Bucket=bucket, Key="copy.bin")
    check(False, "HEAD of a deleted key")
except ClientError as e:
    check(e.response["Error"]["Code"] == "404", f"HEAD error {e.response['Error']}")
try:
    s3.get_object(Bucket=bucket, Key="copy.bin")
    check(False, "GET of a deleted key")
except s3.exceptions.NoSuchKey:
    pass
s3.delete_bucket(Bucket=bucket)
print(json.dumps(results))
