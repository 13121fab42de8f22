"""Listing through boto3 paginators (v1, v2, object versions) and aws-cli (s3 ls, s3api list-*)."""

import json
import re
import urllib.parse

import boto3
import pytest

from conftest import ACCESS_KEY, REGION, SECRET_KEY

KEYS = [
    "a.txt",
    "events/alice/2026-01-01T10:00:00.json",
    "events/alice/2026-01-02T10:00:00.json",
    "events/bob/2026-01-01T09:00:00.json",
    "events/bob b/x.json",
    "events/top.json",
    "prefs/alice.json",
    "z+plus.txt",
]


@pytest.fixture
def seeded(s3, bucket):
    for k in KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


def test_v2_paginator_with_delimiter(s3, seeded):
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=seeded, Prefix="events/", Delimiter="/", PaginationConfig={"PageSize": 2}))
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert keys == ["events/top.json"]
    assert prefixes == ["events/alice/", "events/bob b/", "events/bob/"]
    assert len(pages) == 2
    assert all(p["KeyCount"] == len(p.get("Contents", [])) + len(p.get("CommonPrefixes", [])) for p in pages)


def test_v1_paginator_without_and_with_delimiter(s3, seeded):
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=seeded, PaginationConfig={"PageSize": 3}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(KEYS)
    assert len(pages) == 3
    pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=seeded, Delimiter="/", PaginationConfig={"PageSize": 1}))
    names = [o["Key"] for p in pages for o in p.get("Contents", [])] + \
            [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert sorted(names) == ["a.txt", "events/", "prefs/", "z+plus.txt"]


def test_entries_carry_every_field(s3, seeded):
    entry = s3.list_objects_v2(Bucket=seeded, Prefix="a.txt")["Contents"][0]
    assert entry["Size"] == len("a.txt")
    assert entry["ETag"].startswith('"') and entry["StorageClass"] == "STANDARD"
    assert entry["LastModified"].tzinfo is not None
    assert "Owner" not in entry
    assert "Owner" in s3.list_objects_v2(Bucket=seeded, Prefix="a.txt", FetchOwner=True)["Contents"][0]
    assert "Owner" in s3.list_objects(Bucket=seeded, Prefix="a.txt")["Contents"][0]


def test_start_after_and_max_keys(s3, seeded):
    resp = s3.list_objects_v2(Bucket=seeded, StartAfter="events/top.json", MaxKeys=1)
    assert [o["Key"] for o in resp["Contents"]] == ["prefs/alice.json"]
    assert resp["IsTruncated"] is True and resp["MaxKeys"] == 1


def test_cli_ls(aws, seeded):
    top = aws.run("s3", "ls", f"s3://{seeded}").stdout
    assert "PRE events/" in top and "PRE prefs/" in top and "a.txt" in top
    recursive = aws.run("s3", "ls", "--recursive", f"s3://{seeded}").stdout
    assert sorted(re.findall(r"^\S+ \S+ +\d+ (.*)$", recursive, re.M)) == sorted(KEYS)
    bob = aws.run("s3", "ls", f"s3://{seeded}/events/bob").stdout
    assert "PRE bob b/" in bob and "PRE bob/" in bob


@pytest.mark.tz
def test_cli_s3api_list_objects(aws, seeded):
    out = json.loads(aws.run("s3api", "list-objects-v2", "--bucket", seeded, "--prefix", "events/alice/").stdout)
    assert [o["Key"] for o in out["Contents"]] == KEYS[1:3]
    assert all(o["LastModified"].endswith("+00:00") or o["LastModified"].endswith("Z") for o in out["Contents"])
    out = json.loads(aws.run("s3api", "list-objects", "--bucket", seeded, "--delimiter", "/").stdout)
    assert [c["Prefix"] for c in out["CommonPrefixes"]] == ["events/", "prefs/"]


def test_url_encoding_type(s3, seeded):
    # botocore adds encoding-type=url by itself and decodes; keys with + and spaces survive that.
    keys = [o["Key"] for o in s3.list_objects(Bucket=seeded)["Contents"]]
    assert keys == sorted(KEYS)
    # Asked for explicitly, the caller gets the encoded form and decodes it as S3 users do.
    raw = [o["Key"] for o in s3.list_objects_v2(Bucket=seeded, EncodingType="url")["Contents"]]
    assert "z%2Bplus.txt" in raw and "events/bob%20b/x.json" in raw
    assert sorted(urllib.parse.unquote_plus(k) for k in raw) == sorted(KEYS)


def test_object_versions_paginator_and_bucket_teardown_idiom(s3, seeded):
    pages = list(s3.get_paginator("list_object_versions").paginate(
        Bucket=seeded, PaginationConfig={"PageSize": 3}))
    versions = [v for p in pages for v in p.get("Versions", [])]
    assert [v["Key"] for v in versions] == sorted(KEYS)
    assert all(v["VersionId"] == "null" and v["IsLatest"] for v in versions)
    assert all(v["Size"] == len(v["Key"]) and v["ETag"].startswith('"') for v in versions)
    assert len(pages) == 3

    # The usual way tests empty a bucket: every version, deleted in batches by VersionId.
    resource = boto3.resource("s3", endpoint_url=s3.meta.endpoint_url, aws_access_key_id=ACCESS_KEY,
                              aws_secret_access_key=SECRET_KEY, region_name=REGION)
    deleted = resource.Bucket(seeded).object_versions.delete()
    assert sorted(d["Key"] for batch in deleted for d in batch["Deleted"]) == sorted(KEYS)
    assert all(d["VersionId"] == "null" for batch in deleted for d in batch["Deleted"])
    assert s3.list_objects_v2(Bucket=seeded)["KeyCount"] == 0
    s3.delete_bucket(Bucket=seeded)


def test_cli_list_object_versions(aws, seeded):
    out = json.loads(aws.run("s3api", "list-object-versions", "--bucket", seeded,
                             "--prefix", "events/", "--delimiter", "/").stdout)
    assert [v["Key"] for v in out["Versions"]] == ["events/top.json"]
    assert [c["Prefix"] for c in out["CommonPrefixes"]] == ["events/alice/", "events/bob b/", "events/bob/"]
