"""boto3 1.35, the last release before 1.36 changed what uploads send (no CRC32 by default,
Content-MD5 on DeleteObjects and bucket configuration), in a venv of its own: users pinned
to it must keep working."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import ACCESS_KEY, ROOT, SECRET_KEY

HERE = Path(__file__).resolve().parent / "old_boto3"
VENV = ROOT / ".venv-old-boto3"


def old_boto3_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():  # scripts/test makes it; this is for a bare pytest run
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(HERE / "requirements.txt")], check=True, timeout=600)
    return python


def test_boto3_before_the_checksum_change(server):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    bucket = f"oldboto-{uuid.uuid4().hex[:10]}"
    proc = subprocess.run([str(old_boto3_python()), "roundtrip.py", server.endpoint, bucket],
                          cwd=HERE, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["boto3"].startswith("1.35."), result
    assert result["put_checksum_crc32"] is None, "1.35 sends no CRC32, so none is echoed"
    assert result["multipart_etag"].endswith('-4"')
    assert result["listed"] == ["copy.bin", "dir/a b+c.bin", "multipart/20MiB.bin"]
