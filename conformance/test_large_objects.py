"""Large files through every client's default upload path: aws-cli multipart above 8 MiB and
sync, boto3's threaded TransferConfig (with each checksum setting and CRC64NVME), multipart
by hand with s3api, the JS SDK v3 (aws-chunked with trailing checksums) and s3cmd."""

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from conftest import ACCESS_KEY, SECRET_KEY, make_client

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent


def random_file(path: Path, size: int) -> str:
    """Writes `size` random bytes; returns their MD5."""
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MIB))
            md5.update(block)
            f.write(block)
            left -= len(block)
    return md5.hexdigest()


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MIB), b""):
            md5.update(block)
    return md5.hexdigest()


@pytest.fixture(scope="module")
def hundred_mib(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "100MiB.bin"
    return path, random_file(path, 100 * MIB)


def test_cli_cp_100_mib_multipart(aws, bucket, hundred_mib, tmp_path):
    src, digest = hundred_mib
    aws.run("s3", "cp", str(src), f"s3://{bucket}/big/100MiB.bin")
    head = json.loads(aws.run("s3api", "head-object", "--bucket", bucket, "--key", "big/100MiB.bin").stdout)
    assert head["ContentLength"] == 100 * MIB
    assert head["ETag"].endswith('-13"'), "aws-cli uses 8 MiB parts above 8 MiB"
    dst = tmp_path / "back.bin"
    aws.run("s3", "cp", f"s3://{bucket}/big/100MiB.bin", str(dst))
    assert file_md5(dst) == digest


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_cli_checksum_algorithm(aws, bucket, tmp_path, algorithm):
    src = tmp_path / "f.bin"
    digest = random_file(src, 9 * MIB)
    aws.run("s3", "cp", "--checksum-algorithm", algorithm, str(src), f"s3://{bucket}/ck/{algorithm}")
    head = json.loads(aws.run("s3api", "head-object", "--bucket", bucket, "--key", f"ck/{algorithm}",
                              "--checksum-mode", "ENABLED").stdout)
    assert head.get(f"Checksum{algorithm}"), head
    dst = tmp_path / "back.bin"
    aws.run("s3", "cp", f"s3://{bucket}/ck/{algorithm}", str(dst))
    assert file_md5(dst) == digest


def test_cli_sync_200_files(aws, bucket, tmp_path):
    src = tmp_path / "tree"
    names = []
    for i in range(200):
        rel = Path(f"d{i % 7}/sub {i % 3}/ä+{i}&x=(1).txt" if i % 2 else f"d{i % 5}/file-{i}.bin")
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(os.urandom(100 + i * 37))
        names.append(rel.as_posix())
    aws.run("s3", "sync", str(src), f"s3://{bucket}/tree")
    listed = json.loads(aws.run("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "tree/").stdout)
    assert sorted(o["Key"][len("tree/"):] for o in listed["Contents"]) == sorted(names)
    assert aws.run("s3", "sync", str(src), f"s3://{bucket}/tree").stdout.strip() == ""
    dst = tmp_path / "back"
    aws.run("s3", "sync", f"s3://{bucket}/tree", str(dst))
    for rel in names:
        assert (dst / rel).read_bytes() == (src / rel).read_bytes(), rel


def test_cli_s3api_multipart_by_hand(aws, bucket, tmp_path):
    key = "hand made/object.bin"
    upload_id = json.loads(aws.run("s3api", "create-multipart-upload", "--bucket", bucket, "--key", key).stdout)["UploadId"]
    parts = []
    whole = hashlib.md5()
    for n, size in ((1, 5 * MIB), (2, 1234)):
        part = tmp_path / f"p{n}"
        data = os.urandom(size)
        part.write_bytes(data)
        whole.update(data)
        etag = json.loads(aws.run("s3api", "upload-part", "--bucket", bucket, "--key", key, "--part-number", str(n),
                                  "--upload-id", upload_id, "--body", str(part)).stdout)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    listed = json.loads(aws.run("s3api", "list-parts", "--bucket", bucket, "--key", key, "--upload-id", upload_id).stdout)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2]
    uploads = json.loads(aws.run("s3api", "list-multipart-uploads", "--bucket", bucket, "--prefix", "hand").stdout)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [upload_id]
    aws.run("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", key, "--upload-id", upload_id,
            "--multipart-upload", json.dumps({"Parts": parts}))
    out = tmp_path / "out"
    aws.run("s3api", "get-object", "--bucket", bucket, "--key", key, str(out))
    assert file_md5(out) == whole.hexdigest()

    doomed = json.loads(aws.run("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "doomed").stdout)["UploadId"]
    aws.run("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "doomed", "--upload-id", doomed)
    failed = aws.run("s3api", "list-parts", "--bucket", bucket, "--key", "doomed", "--upload-id", doomed, check=False)
    assert "NoSuchUpload" in failed.stderr


@pytest.mark.parametrize("setting", ["when_supported", "when_required"])
def test_boto3_upload_and_download_file_100_mib(server, bucket, hundred_mib, tmp_path, setting):
    src, digest = hundred_mib
    client = make_client(server.endpoint, request_checksum_calculation=setting, response_checksum_validation=setting)
    client.upload_file(str(src), bucket, f"boto/{setting}.bin", Config=TransferConfig())
    dst = tmp_path / "down.bin"
    client.download_file(bucket, f"boto/{setting}.bin", str(dst), Config=TransferConfig())
    assert file_md5(dst) == digest


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_boto3_multipart_checksums(server, bucket, tmp_path, algorithm):
    src = tmp_path / "f.bin"
    digest = random_file(src, 12 * MIB)
    client = make_client(server.endpoint)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    client.upload_file(str(src), bucket, f"mp/{algorithm}", Config=config, ExtraArgs={"ChecksumAlgorithm": algorithm})
    head = client.head_object(Bucket=bucket, Key=f"mp/{algorithm}", ChecksumMode="ENABLED")
    assert head.get(f"Checksum{algorithm}"), head
    assert head["ETag"].endswith('-3"')
    dst = tmp_path / "down.bin"
    client.download_file(bucket, f"mp/{algorithm}", str(dst))
    assert file_md5(dst) == digest


def test_boto3_multipart_api_and_part_reads(s3, bucket):
    key = "parts/object"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")
    p1, p2 = os.urandom(5 * MIB), os.urandom(100)
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=p1, ChecksumAlgorithm="CRC32")
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=2, Body=p2, ChecksumAlgorithm="CRC32")
    parts = [{"PartNumber": 1, "ETag": e1["ETag"], "ChecksumCRC32": e1["ChecksumCRC32"]},
             {"PartNumber": 2, "ETag": e2["ETag"], "ChecksumCRC32": e2["ChecksumCRC32"]}]
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts})
    assert done["ChecksumCRC32"].endswith("-2")
    part2 = s3.get_object(Bucket=bucket, Key=key, PartNumber=2)
    assert part2["PartsCount"] == 2 and part2["Body"].read() == p2
    assert s3.head_object(Bucket=bucket, Key=key, PartNumber=1)["ContentLength"] == 5 * MIB
    copy = s3.create_multipart_upload(Bucket=bucket, Key="parts/copy")
    cp = s3.upload_part_copy(Bucket=bucket, Key="parts/copy", UploadId=copy["UploadId"], PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": key}, CopySourceRange="bytes=0-99")
    s3.complete_multipart_upload(Bucket=bucket, Key="parts/copy", UploadId=copy["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": cp["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="parts/copy")["Body"].read() == p1[:100]


def test_js_sdk_v3(server, tmp_path):
    js = HERE / "js"
    if not (js / "node_modules" / "@aws-sdk" / "client-s3").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=js, check=True, timeout=600)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    bucket = f"js-{uuid.uuid4().hex[:10]}"
    proc = subprocess.run(["node", "roundtrip.mjs", server.endpoint, bucket], cwd=js, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["multipart"]["size"] == 20 * MIB
    assert result["small.txt"]["crc32"], "the JS SDK sent (and got back) a CRC32 trailer checksum"


@pytest.fixture
def s3cmd(server, tmp_path):
    exe = shutil.which("s3cmd")
    if exe is None:
        pytest.fail("s3cmd is not installed (.ci/run installs the Debian package)")
    host = server.endpoint.removeprefix("http://")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n"
        f"host_base = {host}\nhost_bucket = {host}\n"
        "use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n"
    )

    def run(*args):
        proc = subprocess.run([exe, "-c", str(cfg), *args], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"s3cmd {args}: {proc.stdout}\n{proc.stderr}"
        return proc.stdout

    return run


def test_s3cmd(s3cmd, tmp_path):
    bucket = f"s3cmd-{uuid.uuid4().hex[:10]}"
    s3cmd("mb", f"s3://{bucket}")
    small = tmp_path / "small.txt"
    small.write_text("hello from s3cmd")
    big = tmp_path / "big.bin"
    digest = random_file(big, 40 * MIB)
    s3cmd("put", str(small), f"s3://{bucket}/small.txt")
    s3cmd("put", "--multipart-chunk-size-mb=15", str(big), f"s3://{bucket}/big.bin")
    listing = s3cmd("ls", f"s3://{bucket}")
    assert "small.txt" in listing and "big.bin" in listing
    out = tmp_path / "out.bin"
    s3cmd("get", f"s3://{bucket}/big.bin", str(out))
    assert file_md5(out) == digest
    s3cmd("get", f"s3://{bucket}/small.txt", str(tmp_path / "s.txt"))
    assert (tmp_path / "s.txt").read_text() == "hello from s3cmd"
    s3cmd("del", f"s3://{bucket}/small.txt", f"s3://{bucket}/big.bin")
    assert "big.bin" not in s3cmd("ls", f"s3://{bucket}")
    s3cmd("rb", f"s3://{bucket}")
