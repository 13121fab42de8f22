"""Triggers through the real clients: boto3 and aws-cli configure notifications, handlers
(command, jsonl, webhook) receive AWS-shaped events, the music example computes preferences,
and a kill -9 mid-stream loses no acknowledged change's event."""

import hashlib
import http.server
import json
import random
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT, AwsCli, Server, binary, make_client

REGION = "us-east-1"


def arn(name):
    return f"arn:aws:lambda:{REGION}:000000000000:function:{name}"


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_jsonl(path: Path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def lambda_config(name, events=("s3:ObjectCreated:*",), prefix=None, suffix=None, config_id=None):
    rules = [{"Name": "prefix", "Value": prefix}] if prefix else []
    rules += [{"Name": "suffix", "Value": suffix}] if suffix else []
    cfg = {"LambdaFunctionArn": arn(name), "Events": list(events)}
    if rules:
        cfg["Filter"] = {"Key": {"FilterRules": rules}}
    if config_id:
        cfg["Id"] = config_id
    return cfg


@pytest.fixture
def trigger_server(workdir, request):
    servers = []

    def start(*functions, extra=()):
        args = []
        for f in functions:
            args += ["--function", f]
        srv = Server(workdir / f"events-{len(servers)}-{request.node.name[:40]}", extra_args=[*args, *extra]).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def test_boto3_configures_and_jsonl_receives_aws_events(trigger_server, tmp_path):
    out = tmp_path / "events.jsonl"
    srv = trigger_server(f"audit=jsonl:{out}")
    s3 = make_client(srv.endpoint)
    s3.create_bucket(Bucket="audited")
    s3.put_bucket_notification_configuration(
        Bucket="audited",
        NotificationConfiguration={"LambdaFunctionConfigurations": [
            lambda_config("audit", ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"), prefix="in/", config_id="audit-all")]},
    )
    got = s3.get_bucket_notification_configuration(Bucket="audited")["LambdaFunctionConfigurations"][0]
    assert got["Id"] == "audit-all" and got["LambdaFunctionArn"] == arn("audit")
    assert got["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"}]

    put = s3.put_object(Bucket="audited", Key="in/a b+c.json", Body=b"{}")
    s3.put_object(Bucket="audited", Key="out/ignored", Body=b"x")
    s3.delete_objects(Bucket="audited", Delete={"Objects": [{"Key": "in/a b+c.json"}]})
    events = wait_for(lambda: len(read_jsonl(out)) >= 2 and read_jsonl(out), what="two events")
    created, removed = [e["Records"][0] for e in events]
    assert created["eventName"] == "ObjectCreated:Put" and removed["eventName"] == "ObjectRemoved:Delete"
    assert created["s3"]["object"]["key"] == "in/a+b%2Bc.json"
    assert urllib.parse.unquote_plus(created["s3"]["object"]["key"]) == "in/a b+c.json"
    assert created["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert created["s3"]["configurationId"] == "audit-all"
    assert created["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]
    assert created["eventTime"].endswith("Z") and len(created["eventTime"]) == 24
    assert "size" not in removed["s3"]["object"] and "eTag" not in removed["s3"]["object"]
    assert int(removed["s3"]["object"]["sequencer"], 16) > int(created["s3"]["object"]["sequencer"], 16)


def test_configuration_errors_as_aws_words_them(trigger_server):
    srv = trigger_server("known=jsonl:/dev/null")
    s3 = make_client(srv.endpoint)
    s3.create_bucket(Bucket="strict")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket="strict", NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config("unknown")]})
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket="strict", NotificationConfiguration={"LambdaFunctionConfigurations": [
                lambda_config("known"), lambda_config("known", ("s3:ObjectCreated:Put",))]})
    assert "Configurations overlap" in e.value.response["Error"]["Message"]
    s3.put_bucket_notification_configuration(
        Bucket="strict", SkipDestinationValidation=True,
        NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config("unknown")]})


def test_cli_and_webhook_fan_out(trigger_server, aws, tmp_path):
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        srv = trigger_server(f"hook=webhook:http://127.0.0.1:{hook.server_port}/events")
        cli = AwsCli(srv.endpoint, Path(aws.env["HOME"]))
        cli.run("s3", "mb", "s3://hooked")
        config = {"QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:{REGION}:000000000000:hook",
                                           "Events": ["s3:ObjectCreated:*"]}]}
        cli.run("s3api", "put-bucket-notification-configuration", "--bucket", "hooked",
                "--notification-configuration", json.dumps(config))
        src = tmp_path / "f.txt"
        src.write_text("hi")
        cli.run("s3", "cp", str(src), "s3://hooked/f.txt")
        wait_for(lambda: len(received) >= 2, what="test event and object event")
        assert received[0]["Event"] == "s3:TestEvent" and received[0]["Bucket"] == "hooked"
        assert received[1]["Records"][0]["s3"]["object"]["key"] == "f.txt"
    finally:
        hook.shutdown()


@pytest.mark.parametrize("handler", ["python-command", "rust"])
def test_music_preferences_example(trigger_server, workdir, handler):
    if handler == "rust":
        example = Path(binary()).parent / "examples" / "music_prefs"
        srv = Server(workdir / "music-rust", command=[str(example)]).start()
    else:
        script = ROOT / "examples" / "music-prefs" / "prefs.py"
        srv = trigger_server(f"update-prefs=command:{sys.executable} {script}")
    try:
        run_music_example(srv)
    finally:
        srv.stop()


def run_music_example(srv):
    s3 = make_client(srv.endpoint)
    s3.create_bucket(Bucket="music-events")
    s3.create_bucket(Bucket="music-prefs")
    s3.put_bucket_notification_configuration(
        Bucket="music-events",
        NotificationConfiguration={"LambdaFunctionConfigurations": [
            lambda_config("update-prefs", prefix="events/", suffix=".json", config_id="listening")]},
    )
    listens = [
        ("alice", "Finlandia", "Sibelius", "like"),
        ("alice", "Valse triste", "Sibelius", "skip"),
        ("alice", "Valse triste", "Sibelius", "skip"),
        ("alice", "Aurora", "Nielsen", "playlist_add"),
        ("bob", "Finlandia", "Sibelius", "skip"),
    ]
    for i, (user, track, artist, action) in enumerate(listens):
        body = json.dumps({"user": user, "track": track, "artist": artist, "action": action}).encode()
        s3.put_object(Bucket="music-events", Key=f"events/{user}/2026-12-04T10:0{i}:00Z.json", Body=body)
    # The same event object written again (a client retry) is a duplicate delivery for the handler.
    first = json.dumps({"user": "alice", "track": "Finlandia", "artist": "Sibelius", "action": "like"}).encode()
    s3.put_object(Bucket="music-events", Key="events/alice/2026-12-04T10:00:00Z.json", Body=first)

    def prefs(user):
        try:
            return json.loads(s3.get_object(Bucket="music-prefs", Key=f"prefs/{user}.json")["Body"].read())
        except ClientError:
            return None

    alice = wait_for(lambda: (p := prefs("alice")) and len(p["applied"]) == 4 and p, what="alice's 4 listens")
    bob = wait_for(lambda: prefs("bob"), what="bob's prefs")
    assert alice["liked_tracks"] == ["Finlandia", "Aurora"] or sorted(alice["liked_tracks"]) == ["Aurora", "Finlandia"]
    assert alice["skips"] == {"Valse triste": 2}
    assert alice["artist_scores"] == {"Sibelius": 0, "Nielsen": 3}
    assert bob == {"liked_tracks": [], "skips": {"Finlandia": 1}, "artist_scores": {"Sibelius": -1},
                   "applied": bob["applied"]}
    time.sleep(0.5)
    assert len(prefs("alice")["applied"]) == 4, "the duplicate delivery changed nothing"


@pytest.mark.crash
def test_kill_minus_nine_loses_no_acknowledged_event(workdir, tmp_path):
    out = tmp_path / "crash-events.jsonl"
    srv = Server(workdir / "events-crash", extra_args=["--function", f"log=jsonl:{out}"])
    acknowledged = []   # (event name, key, etag or None) of every acknowledged write
    attempted = set()   # every (key, etag) a PUT tried, acknowledged or not
    rng = random.Random(7)
    for round_no in range(5):
        srv.start()
        s3 = make_client(srv.endpoint, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)
        if round_no == 0:
            s3.create_bucket(Bucket="crashing")
            s3.put_bucket_notification_configuration(
                Bucket="crashing", NotificationConfiguration={"LambdaFunctionConfigurations": [
                    lambda_config("log", ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"))]})
        stop = threading.Event()

        def writer(seed):
            r = random.Random(seed)
            n = 0
            while not stop.is_set():
                n += 1
                key = f"r{round_no}/w{seed}/k{n % 15}"
                data = r.randbytes(r.choice([10, 5000, 100_000]))
                etag = hashlib.md5(data).hexdigest()
                try:
                    if r.random() < 0.2:
                        s3.delete_object(Bucket="crashing", Key=key)
                        acknowledged.append(("ObjectRemoved:Delete", key, None))
                    else:
                        attempted.add((key, etag))
                        s3.put_object(Bucket="crashing", Key=key, Body=data)
                        acknowledged.append(("ObjectCreated:Put", key, etag))
                except Exception:
                    return

        threads = [threading.Thread(target=writer, args=(round_no * 10 + i,)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.2))
        srv.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
    srv.start()
    try:
        puts = [(k, e) for name, k, e in acknowledged if name == "ObjectCreated:Put"]
        assert len(puts) >= 20, f"only {len(puts)} acknowledged PUTs; the test proved little"

        def delivered():
            seen = set()
            for event in read_jsonl(out):
                rec = event["Records"][0]
                seen.add((rec["eventName"], urllib.parse.unquote_plus(rec["s3"]["object"]["key"]), rec["s3"]["object"].get("eTag")))
            return seen

        missing = lambda: [p for p in puts if ("ObjectCreated:Put", p[0], p[1]) not in delivered()]
        wait_for(lambda: not missing(), timeout=60, what="every acknowledged PUT's event")
        for name, key, etag in delivered():
            if name == "ObjectCreated:Put":
                assert (key, etag) in attempted, f"an event for a write that never happened: {key} {etag}"
    finally:
        srv.stop()


def test_lambucket_toml_declares_the_dev_environment(workdir, tmp_path):
    """A lambucket.toml in the working directory is picked up: its bucket exists with its rule
    (as boto3 reads it back) and its jsonl function receives the matching events."""
    events_file = tmp_path / "audit.jsonl"
    (tmp_path / "lambucket.toml").write_text(f"""
[functions]
audit = "jsonl:{events_file}"

[[buckets]]
name = "listening-events"

[[buckets.notifications]]
id = "audit-events"
function = "audit"
events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
prefix = "events/"
""")
    srv = Server(workdir / "toml-data", cwd=tmp_path).start()
    try:
        s3 = make_client(srv.endpoint)
        assert "listening-events" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        config = s3.get_bucket_notification_configuration(Bucket="listening-events")
        [rule] = config["LambdaFunctionConfigurations"]
        assert rule["Id"] == "audit-events"
        assert rule["LambdaFunctionArn"] == arn("audit")
        assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "events/"}]
        s3.put_object(Bucket="listening-events", Key="events/u1/1.json", Body=b"{}")
        s3.put_object(Bucket="listening-events", Key="other/x", Body=b"{}")
        s3.delete_object(Bucket="listening-events", Key="events/u1/1.json")
        records = wait_for(lambda: len(read_jsonl(events_file)) >= 2 and read_jsonl(events_file),
                           what="two audit events")
        names = sorted(r["Records"][0]["eventName"] for r in records)
        assert names == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
        assert "Config: lambucket.toml" in srv.log.read_text()
    finally:
        srv.stop()


def test_lambucket_toml_mistakes_stop_the_server_with_the_reason(workdir, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[buckets]]\nname = "bucket-one"\n[[buckets.notifications]]\nfunction = "missing"\n'
                   'events = ["s3:ObjectCreated:*"]\n')
    srv = Server(workdir / "bad-toml-data", extra_args=["--config", str(bad)])
    with pytest.raises(RuntimeError) as failed:
        srv.start()
    assert "Unable to validate the following destination configurations" in str(failed.value)
