"""A local OSS test server: the subset of the OSS API camvault uses, checking every
request's V4 signature with the official SDK (alibabacloud-oss-v2).

usage: oss_server.py PORT BUCKET DATA_DIR [--fail-puts N] [--restore-secs S] [--stale-head]
Objects are files under DATA_DIR/objects/<key>; metadata (storage class, crc) beside them
in DATA_DIR/meta/<key>.json. Every request is appended to DATA_DIR/requests.log as
"METHOD PATH STATUS". With --fail-puts N, the first N PUTs answer 503.

Archive classes behave as on OSS: GET answers 403 InvalidObjectState until a RestoreObject
(202 the first time, 409 RestoreAlreadyInProgress while it runs, 200 once restored) has
completed, S seconds after it was asked (default 1); HEAD shows x-oss-restore. With
--stale-head, HEAD never shows x-oss-restore, like a replica that lags behind.
Tests archive an object by editing its metadata file ("class").
"""
import datetime
import email.utils
import json
import re
import time
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, unquote, parse_qsl
from xml.sax.saxutils import escape

from alibabacloud_oss_v2.crc import Crc64
from alibabacloud_oss_v2.signer.v4 import SignerV4
from alibabacloud_oss_v2.types import Credentials, HttpRequest, SigningContext

PORT, BUCKET, DATA = int(sys.argv[1]), sys.argv[2], sys.argv[3]
FAIL_PUTS = int(sys.argv[sys.argv.index("--fail-puts") + 1]) if "--fail-puts" in sys.argv else 0
RESTORE_SECS = float(sys.argv[sys.argv.index("--restore-secs") + 1]) if "--restore-secs" in sys.argv else 1.0
STALE_HEAD = "--stale-head" in sys.argv
ARCHIVE = ("Archive", "ColdArchive", "DeepColdArchive")
AK, SK, REGION = "LTAI5tCamvaultTest", "camvault-test-secret", "cn-beijing"
LOCK = threading.Lock()
STATE = {"puts": 0}


def restore_state(m):
    """None, "ongoing" or the expiry time of the restored copy."""
    r = m.get("restore")
    if not r:
        return None
    now = time.time()
    if now < r["ready_at"]:
        return "ongoing"
    if now < r["expires_at"]:
        return r["expires_at"]
    return None


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def error(code, status, message):
    return status, (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>%s</Message>"
        "<RequestId>5C3D9175B6FC201293AD****</RequestId><HostId>%s.oss-cn-beijing.aliyuncs.com</HostId>"
        "<EC>0003-00000001</EC></Error>" % (code, escape(message), BUCKET)
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def signature_ok(self, key):
        auth = self.headers.get("Authorization", "")
        date = self.headers.get("x-oss-date")
        if not auth.startswith("OSS4-HMAC-SHA256 ") or not date:
            return False
        fields = dict(p.split("=", 1) for p in auth[len("OSS4-HMAC-SHA256 "):].split(","))
        additional = set(fields["AdditionalHeaders"].split(";")) if "AdditionalHeaders" in fields else None
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        req = HttpRequest(self.command, "http://127.0.0.1" + self.path, headers=headers)
        token = self.headers.get("x-oss-security-token")
        ctx = SigningContext(
            product="oss", region=REGION, bucket=BUCKET, key=key or None, request=req,
            credentials=Credentials(AK, SK, token),
            signing_time=datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc),
            additional_headers=additional,
        )
        SignerV4().sign(ctx)
        return req.headers["Authorization"] == auth

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.command != "HEAD" or "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        with open(os.path.join(DATA, "requests.log"), "a") as log:
            log.write("%s %s %d\n" % (self.command, self.path, status))

    def handle_any(self):
        parts = urlsplit(self.path)
        key = unquote(parts.path[1:])
        body = b""
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        if not self.signature_ok(key):
            return self.reply(*error("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided."))
        obj = os.path.join(DATA, "objects", key)
        meta = os.path.join(DATA, "meta", key + ".json")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.command == "PUT" and key:
            with LOCK:
                STATE["puts"] += 1
                if STATE["puts"] <= FAIL_PUTS:
                    return self.reply(*error("ServiceUnavailable", 503, "Please reduce your request rate."))
                if os.path.exists(obj) and self.headers.get("x-oss-forbid-overwrite", "").lower() == "true":
                    return self.reply(*error("FileAlreadyExists", 409, "The object you specified already exists and can not be overwritten."))
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                os.makedirs(os.path.dirname(meta), exist_ok=True)
                crc = Crc64(0)
                crc.update(body)
                with open(obj, "wb") as f:
                    f.write(body)
                with open(meta, "w") as f:
                    json.dump({"class": self.headers.get("x-oss-storage-class", "Standard"), "crc": str(crc.sum64())}, f)
            return self.reply(200, b"", {"x-oss-hash-crc64ecma": str(crc.sum64()), "ETag": '"x"'})
        if self.command == "POST" and key and "restore" in query:
            if not os.path.exists(obj):
                return self.reply(*error("NoSuchKey", 404, "The specified key does not exist."))
            with LOCK:
                m = json.load(open(meta))
                if m["class"] not in ARCHIVE:
                    return self.reply(*error("OperationNotSupported", 400, "The operation is not supported for this resource."))
                days = re.search(rb"<Days>(\d+)</Days>", body)
                tier = re.search(rb"<Tier>(\w+)</Tier>", body)
                if not days or not (1 <= int(days.group(1)) <= 365):
                    return self.reply(*error("MalformedXML", 400, "Days must be 1-365."))
                if m["class"] == "DeepColdArchive" and (not tier or tier.group(1) not in (b"Expedited", b"Standard")):
                    return self.reply(*error("InvalidArgument", 400, "Deep Cold Archive restores take Tier Expedited or Standard."))
                state = restore_state(m)
                if state == "ongoing":
                    return self.reply(*error("RestoreAlreadyInProgress", 409, "The restore operation is in progress."))
                now = time.time()
                if state is not None:
                    m["restore"]["expires_at"] = now + int(days.group(1)) * 86400
                    status = 200
                else:
                    m["restore"] = {"ready_at": now + RESTORE_SECS, "expires_at": now + RESTORE_SECS + int(days.group(1)) * 86400}
                    status = 202
                json.dump(m, open(meta, "w"))
            return self.reply(status)
        if self.command in ("HEAD", "GET") and key:
            if not os.path.exists(obj):
                return self.reply(*error("NoSuchKey", 404, "The specified key does not exist."))
            m = json.load(open(meta))
            data = open(obj, "rb").read()
            headers = {"x-oss-hash-crc64ecma": m["crc"], "x-oss-storage-class": m["class"],
                       "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"}
            state = restore_state(m) if m["class"] in ARCHIVE else None
            if state == "ongoing" and not STALE_HEAD:
                headers["x-oss-restore"] = 'ongoing-request="true"'
            elif state is not None and not STALE_HEAD:
                headers["x-oss-restore"] = 'ongoing-request="false", expiry-date="%s"' % http_date(state)
            if self.command == "GET" and m["class"] in ARCHIVE and state in (None, "ongoing"):
                return self.reply(*error("InvalidObjectState", 403, "The operation is not valid for the object's state."))
            if self.command == "HEAD":
                headers["Content-Length"] = str(len(data))
                return self.reply(200, b"", headers)
            return self.reply(200, data, headers)
        if self.command == "GET" and not key and query.get("list-type") == "2":
            prefix = query.get("prefix", "")
            root = os.path.join(DATA, "objects")
            keys = []
            for dirpath, _, files in os.walk(root):
                for f in files:
                    k = os.path.relpath(os.path.join(dirpath, f), root)
                    if k.startswith(prefix):
                        keys.append(k)
            keys.sort()
            start = int(query.get("continuation-token") or 0)
            limit = int(query.get("max-keys", 1000))
            page = keys[start:start + limit]
            more = start + limit < len(keys)
            items = "".join(
                "<Contents><Key>%s</Key><LastModified>2026-11-25T10:00:00.000Z</LastModified><Size>%d</Size>"
                "<StorageClass>%s</StorageClass></Contents>"
                % (escape(k), os.path.getsize(os.path.join(root, k)), json.load(open(os.path.join(DATA, "meta", k + ".json")))["class"])
                for k in page)
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>%s</Name><Prefix>%s</Prefix>"
                   "<MaxKeys>%d</MaxKeys><KeyCount>%d</KeyCount><IsTruncated>%s</IsTruncated>%s%s</ListBucketResult>") % (
                BUCKET, escape(prefix), limit, len(page), "true" if more else "false", items,
                "<NextContinuationToken>%d</NextContinuationToken>" % (start + limit) if more else "")
            return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
        if not key and "lifecycle" in query:
            path = os.path.join(DATA, "lifecycle.xml")
            if self.command == "GET":
                if not os.path.exists(path):
                    return self.reply(*error("NoSuchLifecycle", 404, "No Row found in Lifecycle Table."))
                return self.reply(200, open(path, "rb").read(), {"Content-Type": "application/xml"})
            if self.command == "PUT":
                import base64, hashlib
                if self.headers.get("Content-MD5") != base64.b64encode(hashlib.md5(body).digest()).decode():
                    return self.reply(*error("InvalidDigest", 400, "The Content-MD5 you specified is not valid."))
                open(path, "wb").write(body)
                return self.reply(200)
        if self.command == "DELETE" and key:
            if os.path.exists(obj):
                os.remove(obj)
                os.remove(meta)
            return self.reply(204)
        return self.reply(*error("NotImplemented", 501, "not in the test server"))

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_any


os.makedirs(os.path.join(DATA, "objects"), exist_ok=True)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
