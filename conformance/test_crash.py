"""Acknowledged writes survive kill -9: stream uploads (and overwrites and deletes) at the
release binary, SIGKILL it mid-stream, restart on the same data dir, and check every
acknowledged object byte for byte and that no partial object is visible. Ten rounds, with
bodies of every kind, then with small ones only (the body log's frames, which a restart
commits again where sled had not flushed them)."""

import hashlib
import os
import random
import threading
import time

import pytest
from botocore.config import Config

from conftest import Server, make_client

ROUNDS = 10
SIZES = {
    "mixed": [10, 3000, 70_000, 300_000, 1_500_000],
    "small": [10, 1500, 3000, 4096],
}


def writer(endpoint, bucket, acked, stop, seed, sizes):
    client = make_client(endpoint, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)
    rng = random.Random(seed)
    n = 0
    while not stop.is_set():
        n += 1
        key = f"w{seed}/obj-{n % 40}"
        size = rng.choice(sizes)
        data = rng.randbytes(size)
        try:
            if rng.random() < 0.1:
                client.delete_object(Bucket=bucket, Key=key)
                acked[key] = None
            else:
                client.put_object(Bucket=bucket, Key=key, Body=data)
                acked[key] = hashlib.md5(data).hexdigest()
        except Exception:
            # The server died under this request: its outcome is unknown, so forget the key.
            acked.pop(key, "unknown")
            acked[key] = "unknown"
            return


@pytest.mark.crash
@pytest.mark.parametrize("mix", SIZES)
def test_kill_minus_nine_loses_no_acknowledged_write(workdir, mix):
    srv = Server(workdir / f"crash-{mix}", durability="sync")
    bucket = "crash-test"
    expected = {}
    rng = random.Random(1234)
    for round_no in range(ROUNDS):
        srv.start()
        client = make_client(srv.endpoint)
        if round_no == 0:
            client.create_bucket(Bucket=bucket)
        verify(client, bucket, expected)

        stop = threading.Event()
        acked = [dict() for _ in range(3)]
        threads = [threading.Thread(target=writer,
                                    args=(srv.endpoint, bucket, acked[i], stop, round_no * 10 + i, SIZES[mix]))
                   for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.5))
        srv.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for a in acked:
            expected.update(a)

    srv.start()
    try:
        verify(make_client(srv.endpoint), bucket, expected)
    finally:
        srv.stop()
    checked = sum(1 for v in expected.values() if v not in (None, "unknown"))
    assert checked >= 20, f"only {checked} acknowledged objects were checked; the test proved little"


def verify(client, bucket, expected):
    listed = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o["ETag"].strip('"')
    for key, md5 in expected.items():
        if md5 == "unknown":
            continue
        if md5 is None:
            assert key not in listed, f"{key} was deleted and acknowledged, yet it is back"
            continue
        assert key in listed, f"acknowledged {key} is missing"
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5, f"{key} content differs from what was acknowledged"
    # Nothing visible is partial: every listed object's bytes hash to its ETag.
    for key, etag in listed.items():
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == etag, f"{key} is partial or corrupt"
