"""Memory stays bounded by streaming: a 2 GiB upload, as one PUT and as multipart, keeps the
server's peak RSS (VmHWM from /proc) under 200 MiB. Writes the figures to
target/memory-figures.json for the record."""

import http.client
import io
import json
import os
import urllib.parse
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from conftest import ROOT, Server, make_client

GIB = 1024 ** 3
LIMIT_MIB = 200
BLOCK = os.urandom(4 * 1024 * 1024)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def blocks(total: int):
    sent = 0
    while sent < total:
        piece = BLOCK[: min(len(BLOCK), total - sent)]
        sent += len(piece)
        yield piece


class Generated(io.RawIOBase):
    """A non-seekable 2 GiB stream that is never held in memory."""

    def __init__(self, total):
        self.source = blocks(total)
        self.pending = b""

    def readable(self):
        return True

    def readinto(self, buf):
        while not self.pending:
            self.pending = next(self.source, None)
            if self.pending is None:
                return 0
        n = min(len(buf), len(self.pending))
        buf[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


@pytest.mark.memory
def test_two_gib_uploads_keep_rss_bounded(workdir):
    srv = Server(workdir / "memory").start()
    figures = {}
    try:
        client = make_client(srv.endpoint, signature_version="s3v4")
        client.create_bucket(Bucket="memory")
        url = client.generate_presigned_url("put_object", Params={"Bucket": "memory", "Key": "single"}, ExpiresIn=600)
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        conn.putrequest("PUT", f"{parts.path}?{parts.query}")
        conn.putheader("Content-Length", str(2 * GIB))
        conn.endheaders()
        for piece in blocks(2 * GIB):
            conn.send(piece)
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        conn.close()
        figures["single_put_2gib_peak_rss_mib"] = peak_rss_mib(srv.proc.pid)
        assert client.head_object(Bucket="memory", Key="single")["ContentLength"] == 2 * GIB
        client.delete_object(Bucket="memory", Key="single")

        config = TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)
        client.upload_fileobj(Generated(2 * GIB), "memory", "multipart", Config=config)
        figures["multipart_2gib_peak_rss_mib"] = peak_rss_mib(srv.proc.pid)
        assert client.head_object(Bucket="memory", Key="multipart")["ContentLength"] == 2 * GIB
    finally:
        srv.stop()
    out = ROOT / "target" / "memory-figures.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print("memory figures:", figures)
    for name, mib in figures.items():
        assert mib < LIMIT_MIB, f"{name} = {mib:.0f} MiB"
