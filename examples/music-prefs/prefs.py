#!/usr/bin/env python3
"""A Lambucket `command` trigger: keeps each user's music preferences up to date.

Lambucket runs this once per event with the S3 event JSON on stdin (exactly what S3 hands a
Lambda function) and the endpoint and credentials in the environment, so plain boto3 calls back
into the store. For every listening event object `events/<user>/<timestamp>.json` with
{"user", "track", "artist", "action": like | skip | playlist_add} it updates
`prefs/<user>.json` in the preferences bucket:
  - liked_tracks: tracks the user liked or added to a playlist
  - skips: how often each track was skipped
  - artist_scores: like +2, playlist_add +3, skip -1 per artist
It is idempotent: the prefs document remembers which event objects (key and ETag) it already
applied, so a redelivered event changes nothing; concurrent updates of one user's document are
serialised with conditional writes (If-Match / If-None-Match) and retried.
"""

import json
import os
import sys
import urllib.parse

import boto3
from botocore.exceptions import ClientError

PREFS_BUCKET = os.environ.get("PREFS_BUCKET", "music-prefs")
SCORES = {"like": 2, "playlist_add": 3, "skip": -1}


def client():
    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def load(s3, key):
    try:
        obj = s3.get_object(Bucket=PREFS_BUCKET, Key=key)
        return json.loads(obj["Body"].read()), obj["ETag"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchKey":
            return {"liked_tracks": [], "skips": {}, "artist_scores": {}, "applied": []}, None
        raise


def apply(prefs, event_id, listen):
    if event_id in prefs["applied"]:
        return False
    track, artist, action = listen["track"], listen["artist"], listen["action"]
    if action in ("like", "playlist_add") and track not in prefs["liked_tracks"]:
        prefs["liked_tracks"].append(track)
    if action == "skip":
        prefs["skips"][track] = prefs["skips"].get(track, 0) + 1
    prefs["artist_scores"][artist] = prefs["artist_scores"].get(artist, 0) + SCORES.get(action, 0)
    prefs["applied"].append(event_id)
    return True


def handle_record(s3, record):
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    event_id = f'{key}#{record["s3"]["object"]["eTag"]}'
    listen = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    prefs_key = f'prefs/{listen["user"]}.json'
    for _ in range(20):
        prefs, etag = load(s3, prefs_key)
        if not apply(prefs, event_id, listen):
            return
        body = json.dumps(prefs, sort_keys=True).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=PREFS_BUCKET, Key=prefs_key, Body=body, ContentType="application/json", **condition)
            return
        except ClientError as e:
            if e.response["Error"]["Code"] != "PreconditionFailed":
                raise
            # Another delivery updated this user meanwhile: read again and re-apply.
    raise RuntimeError(f"could not update {prefs_key}: too much contention")


def main():
    event = json.load(sys.stdin)
    s3 = client()
    for record in event.get("Records", []):
        if record["eventName"].startswith("ObjectCreated:"):
            handle_record(s3, record)


if __name__ == "__main__":
    main()
