"""The tests' independent S3 client (boto3), to set up and inspect the moto server.

usage: s3_tool.py PORT COMMAND ...
  create BUCKET
  create-locked BUCKET                  with Object Lock enabled (and so versioning)
  lock-default BUCKET MODE DAYS          a default retention on a bucket with Object Lock
  put BUCKET KEY FILE [CLASS]           an object written by someone else than camvault
  forge BUCKET KEY FILE META_JSON       an object with the given x-amz-meta-* metadata and a
                                        CRC64NVME checksum of its (own) bytes
  dump BUCKET                           JSON: key -> size, sha256 (null when archived), class,
                                        etag, metadata, restore, lock, checksum (the store's
                                        x-amz-checksum-*, "ALG:value"); plus "_uploads":
                                        incomplete multipart uploads
  put-lifecycle BUCKET JSON             boto3's LifecycleConfiguration as JSON
  get-lifecycle BUCKET                  JSON (null when none)
"""
import hashlib
import json
import sys

import boto3
from botocore.config import Config

port, cmd, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client(
    "s3",
    endpoint_url="http://127.0.0.1:%s" % port,
    region_name="us-east-1",
    aws_access_key_id="AKIDCAMVAULTTEST",
    aws_secret_access_key="camvault-test-secret",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)

if cmd == "create":
    s3.create_bucket(Bucket=rest[0])
elif cmd == "create-locked":
    s3.create_bucket(Bucket=rest[0], ObjectLockEnabledForBucket=True)
elif cmd == "lock-default":
    bucket, mode, days = rest
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": mode, "Days": int(days)}}},
    )
elif cmd == "forge":
    bucket, key, path, meta = rest
    with open(path, "rb") as f:
        s3.put_object(Bucket=bucket, Key=key, Body=f.read(), Metadata=json.loads(meta), ChecksumAlgorithm="CRC64NVME")
elif cmd == "put":
    bucket, key, path = rest[:3]
    with open(path, "rb") as f:
        s3.put_object(Bucket=bucket, Key=key, Body=f.read(), StorageClass=rest[3] if len(rest) > 3 else "STANDARD")
elif cmd == "dump":
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=rest[0]):
        for o in page.get("Contents", []):
            h = s3.head_object(Bucket=rest[0], Key=o["Key"], ChecksumMode="ENABLED")
            sums = ["%s:%s" % (k[len("Checksum"):], v) for k, v in h.items() if k.startswith("Checksum") and k != "ChecksumType"]
            cls = h.get("StorageClass", "STANDARD")
            sha = None
            if cls not in ("GLACIER", "DEEP_ARCHIVE") or 'ongoing-request="false"' in h.get("Restore", ""):
                sha = hashlib.sha256(s3.get_object(Bucket=rest[0], Key=o["Key"])["Body"].read()).hexdigest()
            out[o["Key"]] = {
                "size": h["ContentLength"],
                "sha256": sha,
                "class": cls,
                "etag": h["ETag"].strip('"'),
                "meta": h.get("Metadata", {}),
                "restore": h.get("Restore"),
                "lock_mode": h.get("ObjectLockMode"),
                "lock_until": h["ObjectLockRetainUntilDate"].isoformat() if "ObjectLockRetainUntilDate" in h else None,
                "checksum": sums[0] if sums else None,
            }
    out["_uploads"] = [u["Key"] for u in s3.list_multipart_uploads(Bucket=rest[0]).get("Uploads", [])]
    print(json.dumps(out))
elif cmd == "put-lifecycle":
    s3.put_bucket_lifecycle_configuration(Bucket=rest[0], LifecycleConfiguration=json.loads(rest[1]))
elif cmd == "get-lifecycle":
    try:
        print(json.dumps(s3.get_bucket_lifecycle_configuration(Bucket=rest[0])["Rules"]))
    except s3.exceptions.ClientError as e:
        if "NoSuchLifecycleConfiguration" not in str(e):
            raise
        print("null")
else:
    sys.exit("unknown command " + cmd)
