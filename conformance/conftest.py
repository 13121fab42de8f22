"""Fixtures: the release binary started as a subprocess on a free port, and the real clients
(boto3, aws-cli v1) pointed at it with nothing changed but the endpoint."""

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "conformance-key"
SECRET_KEY = "conformance-secret"
REGION = "us-east-1"


def binary() -> str:
    path = os.environ.get("LAMBUCKET_BIN", str(ROOT / "target" / "release" / "lambucket"))
    if not Path(path).exists():
        pytest.exit(f"release binary not found at {path}; run cargo build --release", returncode=2)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One lambucket process on a data dir; can be killed and restarted on the same dir."""

    def __init__(self, data_dir: Path, durability: str = "sync", extra_args=(), command=None,
                 cwd=None):
        self.command = command
        self.cwd = cwd
        self.data_dir = data_dir
        self.durability = durability
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.proc = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        args = [
            *(self.command or [binary(), "serve"]),
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", str(self.data_dir),
            "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
            "--region", REGION, "--durability", self.durability,
            *self.extra_args,
        ]
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, cwd=self.cwd)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lambucket exited early: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("lambucket did not start listening")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="lambucket-conformance-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def server(workdir):
    srv = Server(workdir / "data").start()
    yield srv
    srv.stop()


def make_client(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, **config):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(**config) if config else None,
    )


@pytest.fixture(scope="session")
def s3(server):
    return make_client(server.endpoint)


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


class AwsCli:
    """aws-cli v1 from the venv, isolated from any user config."""

    def __init__(self, endpoint: str, home: Path):
        self.endpoint = endpoint
        self.exe = str(Path(sys.executable).parent / "aws")
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "TZ": os.environ.get("TZ", "UTC"),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        }

    def run(self, *args, check=True, input=None):
        cmd = [self.exe, "--endpoint-url", self.endpoint, *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, input=input, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture(scope="session")
def aws(server, workdir):
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    return AwsCli(server.endpoint, home)


def http_get(url, method="GET", data=None, headers=None):
    """A plain HTTP request (no signing, no added headers); returns (status, headers, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=data, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()
