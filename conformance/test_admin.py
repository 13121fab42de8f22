"""Inspecting and acting on deliveries through the CLI (`lambucket events`, `dead-letters`,
`redrive`, `replay`, `backfill`, `functions`), which call the running server's admin endpoint."""

import json
import subprocess
import time

from conftest import ACCESS_KEY, SECRET_KEY, Server, binary, make_client
from test_events import lambda_config, read_jsonl, wait_for


def cli(srv, *args):
    proc = subprocess.run([binary(), *args, "--endpoint", srv.endpoint, "--access-key", ACCESS_KEY,
                           "--secret-key", SECRET_KEY], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def test_dead_letters_redrive_replay_and_backfill(workdir, tmp_path):
    flag = tmp_path / "healthy"
    calls = tmp_path / "calls.jsonl"
    audit = tmp_path / "audit.jsonl"
    handler = f"test -f {flag} && cat >> {calls} && echo >> {calls}"
    srv = Server(workdir / "admin", extra_args=[
        "--function", f"picky=command:{handler}", "--function", f"audit=jsonl:{audit}",
        "--max-retry-attempts", "0"]).start()
    try:
        s3 = make_client(srv.endpoint)
        s3.create_bucket(Bucket="admin-test")
        s3.put_bucket_notification_configuration(
            Bucket="admin-test",
            NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config("picky", prefix="in/")]})
        assert cli(srv, "functions") == ["audit", "picky"]

        s3.put_object(Bucket="admin-test", Key="in/first.json", Body=b"1")
        dead = wait_for(lambda: cli(srv, "dead-letters"), what="a dead letter")
        assert dead[0]["attempts"] == 1 and "exited with" in dead[0]["last_error"]
        assert dead[0]["event"]["Records"][0]["s3"]["object"]["key"] == "in/first.json"
        attempts = cli(srv, "events")["recent_attempts"]
        assert attempts[-1]["outcome"] == "failed" and attempts[-1]["handler"] == "picky"

        flag.write_text("ok")
        assert cli(srv, "redrive")["redriven"] == 1
        wait_for(lambda: len(read_jsonl(calls)) == 1, what="the redriven delivery")
        assert cli(srv, "dead-letters") == []

        replayed = cli(srv, "replay", "--seq", str(dead[0]["seq"]))
        assert replayed["as"] > dead[0]["seq"]
        wait_for(lambda: len(read_jsonl(calls)) == 2, what="the replayed delivery")

        for key in ("old/a", "old/b", "other/c"):
            s3.put_object(Bucket="admin-test", Key=key, Body=b"x")
        assert cli(srv, "backfill", "--bucket", "admin-test", "--prefix", "old/", "--function", "audit")["queued"] == 2
        lines = wait_for(lambda: len(read_jsonl(audit)) == 2 and read_jsonl(audit), what="backfilled events")
        assert sorted(l["Records"][0]["s3"]["object"]["key"] for l in lines) == ["old/a", "old/b"]
        assert all(l["Records"][0]["eventName"] == "ObjectCreated:Put" for l in lines)
    finally:
        srv.stop()


def test_admin_endpoint_needs_credentials(server):
    from conftest import http_get

    status, headers, _ = http_get(f"{server.endpoint}/_lambucket/events")
    assert status == 401


def test_a_handler_that_overruns_its_timeout_is_stopped_and_dead_lettered(workdir, tmp_path):
    marker = tmp_path / "finished"
    srv = Server(workdir / "timeout", extra_args=[
        "--function", f"slow=command:sleep 2 && touch {marker}",
        "--handler-timeout", "0.5", "--max-retry-attempts", "0"]).start()
    try:
        s3 = make_client(srv.endpoint)
        s3.create_bucket(Bucket="timeout-test")
        s3.put_bucket_notification_configuration(
            Bucket="timeout-test",
            NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config("slow")]})
        s3.put_object(Bucket="timeout-test", Key="k", Body=b"1")
        put_at = time.time()
        dead = wait_for(lambda: cli(srv, "dead-letters"), timeout=10, what="a dead letter")
        assert "timed out" in dead[0]["last_error"]
        attempts = cli(srv, "events")["recent_attempts"]
        assert attempts[-1]["outcome"] == "failed" and attempts[-1]["latency_ms"] < 3000
        # The overrunning program was killed, not left to finish.
        time.sleep(max(0.0, put_at + 3 - time.time()))
        assert not marker.exists()
    finally:
        srv.stop()
