"""rclone (Debian's package; `.ci/run` installs it) against the release binary: copy with
single and multipart uploads, check, modification times kept in metadata, ranged reads,
server-side moves, touch, sync deletions, both ListObjects versions, and purge."""

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY

MIB = 1024 * 1024
# A fixed local modification time, so the one rclone reads back is known.
MTIME = datetime.datetime(2021, 6, 7, 8, 9, 10, tzinfo=datetime.timezone.utc)


@pytest.fixture
def rclone(server, tmp_path):
    exe = shutil.which("rclone")
    if exe is None:
        pytest.fail("rclone is not installed (.ci/run installs the Debian package)")
    # A remote named "lb" defined only through the environment; nothing from the user's.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "RCLONE_CONFIG_LB_TYPE": "s3",
        "RCLONE_CONFIG_LB_PROVIDER": "Other",
        "RCLONE_CONFIG_LB_ACCESS_KEY_ID": ACCESS_KEY,
        "RCLONE_CONFIG_LB_SECRET_ACCESS_KEY": SECRET_KEY,
        "RCLONE_CONFIG_LB_ENDPOINT": server.endpoint,
        "RCLONE_CONFIG_LB_REGION": REGION,
    }

    def run(*args, check=True):
        proc = subprocess.run(
            [exe, "--config", os.devnull, *args],
            env=env, capture_output=True, timeout=300,
        )
        if check:
            assert proc.returncode == 0, f"rclone {args}: {proc.stdout!r}\n{proc.stderr.decode()}"
        return proc

    return run


def local_tree(root):
    """Files rclone will upload: names that need encoding, one body big enough for multipart."""
    files = {
        "small.bin": os.urandom(5000),
        "sub/big.bin": os.urandom(12 * MIB + 123),
        "sub/spaced name +plus&amp.txt": b"hello world\n",
        "ünï cödé.txt": b"x\n",
    }
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))
    return files


def remote_listing(rclone, target, *flags):
    out = rclone("lsf", "-R", "--files-only", *flags, target).stdout.decode()
    return sorted(out.splitlines())


def test_rclone_copy_check_times_and_ranges(rclone, tmp_path):
    bucket = f"rclone-{uuid.uuid4().hex[:10]}"
    src = tmp_path / "src"
    files = local_tree(src)
    rclone("mkdir", f"lb:{bucket}")
    # 5 MiB parts: the 12 MiB file goes up as a three-part multipart upload.
    rclone("copy", str(src), f"lb:{bucket}/dir", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")

    check = rclone("check", str(src), f"lb:{bucket}/dir")
    assert b"0 differences found" in check.stderr
    assert f"{len(files)} matching files".encode() in check.stderr

    sums = {}
    for line in rclone("md5sum", f"lb:{bucket}/dir").stdout.decode().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    assert sums == {name: hashlib.md5(body).hexdigest() for name, body in files.items()}

    entries = json.loads(rclone("lsjson", "-R", "--files-only", f"lb:{bucket}/dir").stdout)
    assert {e["Path"]: e["Size"] for e in entries} == {n: len(b) for n, b in files.items()}
    for entry in entries:
        when = datetime.datetime.fromisoformat(entry["ModTime"].replace("Z", "+00:00"))
        assert when == MTIME, entry

    piece = rclone("cat", f"lb:{bucket}/dir/sub/big.bin", "--offset", str(5 * MIB - 10),
                   "--count", "100").stdout
    assert piece == files["sub/big.bin"][5 * MIB - 10:5 * MIB + 90]

    back = tmp_path / "back"
    rclone("copy", f"lb:{bucket}/dir", str(back))
    for name, body in files.items():
        assert (back / name).read_bytes() == body, name


def test_rclone_move_touch_sync_and_purge(rclone, s3, tmp_path):
    bucket = f"rclone-{uuid.uuid4().hex[:10]}"
    src = tmp_path / "src"
    files = local_tree(src)
    rclone("copy", str(src), f"lb:{bucket}/dir")

    # Server-side: CopyObject then DeleteObject, never a download.
    rclone("moveto", f"lb:{bucket}/dir/small.bin", f"lb:{bucket}/moved/small.bin")
    assert s3.get_object(Bucket=bucket, Key="moved/small.bin")["Body"].read() == files["small.bin"]
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket=bucket, Key="dir/small.bin")
    assert gone.value.response["Error"]["Code"] == "404"

    # touch rewrites the object's metadata in place (CopyObject with REPLACE).
    rclone("touch", f"lb:{bucket}/moved/small.bin", "-t", "2020-01-02T03:04:05")
    [entry] = json.loads(rclone("lsjson", f"lb:{bucket}/moved").stdout)
    assert entry["ModTime"].startswith("2020-01-02T03:04:05"), entry
    assert s3.get_object(Bucket=bucket, Key="moved/small.bin")["Body"].read() == files["small.bin"]

    # sync deletes what the source no longer has.
    (src / "ünï cödé.txt").unlink()
    (src / "small.bin").unlink()
    rclone("sync", str(src), f"lb:{bucket}/dir")
    expected = ["dir/sub/big.bin", "dir/sub/spaced name +plus&amp.txt", "moved/small.bin"]
    for flags in (["--s3-list-version", "1"], ["--s3-list-version", "2"],
                  ["--s3-list-url-encode", "false"]):
        assert remote_listing(rclone, f"lb:{bucket}", *flags) == expected, flags

    # purge reads the bucket's versioning, deletes every object in batches, then the bucket.
    purge = rclone("purge", f"lb:{bucket}")
    assert b"ERROR" not in purge.stderr, purge.stderr.decode()
    with pytest.raises(ClientError) as no_bucket:
        s3.head_bucket(Bucket=bucket)
    assert no_bucket.value.response["Error"]["Code"] == "404"
