"""A local OSS test server: the subset of the OSS API camvault uses, checking every
request's signature, V4 or V1, with the official SDK (alibabacloud-oss-v2): SignerV4 or
SignerV1 recomputes it, and a mismatch answers 403 SignatureDoesNotMatch.

usage: oss_server.py PORT BUCKET DATA_DIR [--region R] [--fail-puts N] [--stall-puts N] [--restore-secs S] [--stale-head] [--only-v1]
Objects are files under DATA_DIR/objects/<key>; metadata (storage class, crc) beside them
in DATA_DIR/meta/<key>.json. Every request is appended to DATA_DIR/requests.log as
"METHOD PATH STATUS", and the version of each good signature to DATA_DIR/signatures.log
("V4" or "V1", one a line). With --only-v1 the server refuses V4, like an old
OSS-compatible gateway. With --fail-puts N, the first N PUTs answer 503. With
--stall-puts N, the first N PUTs with a body stop reading it for 4 s (a stalled connection).

Archive classes behave as on OSS: GET answers 403 InvalidObjectState until a RestoreObject
(202 the first time, 409 RestoreAlreadyInProgress while it runs, 200 once restored; Days
1-365, an Archive object's 1-7) has
completed, S seconds after it was asked (default 1); HEAD shows x-oss-restore. With
--stale-head, HEAD never shows x-oss-restore, like a replica that lags behind.
Tests archive an object by editing its metadata file ("class"). An object in an archive
class it was not uploaded in was moved by a lifecycle rule: HEAD then shows
x-oss-transition-time, from the metadata's "transitioned" (Unix seconds) or else the time
the metadata file was last written.

Multipart upload: InitiateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload,
AbortMultipartUpload and ListMultipartUploads; parts are kept on disk under
DATA_DIR/uploads/<uploadId>/, the combined object's CRC-64 is computed with the SDK's Crc64,
and Complete answers FileAlreadyExists when the key exists and x-oss-forbid-overwrite is set.
Bucket WORM (GetBucketWorm, InitiateBucketWorm, CompleteBucketWorm) is kept in
DATA_DIR/worm.json.

The bucket's own settings, as GetBucketInfo (GET /?bucketInfo) and GetBucketVersioning
(GET /?versioning) answer them, come from DATA_DIR/bucket.json when it exists
({"redundancy": "ZRS", "versioning": "Enabled", "location": "oss-cn-hangzhou"}; defaults
LRS, never versioned, oss-cn-beijing); PutBucketVersioning (PUT /?versioning) writes its
Status there. GetBucketStat (GET /?stat) counts the objects and bytes under objects/ by
storage class (IA and the archive classes billed at 64 KB at least, as OSS does), plus the
unfinished multipart uploads. PutBucketLifecycle refuses, as OSS does (EC 0014-00000079,
0014-00000084), two enabled rules whose prefixes overlap with the same action (both
transition, or both expire) unless the request carries x-oss-allow-same-action-overlap: true.

Cross-Region Replication: GetBucketReplication (GET /?replication) answers the rules of
DATA_DIR/replication.json ([{"id", "bucket", "location", "status", "prefixes"}]) as the
official SDK serializes its ReplicationConfiguration model (so what camvault parses is
the SDK's XML), or 404 NoSuchReplicationConfiguration without that file; the request must
be the SDK's own GetBucketReplication (GET, the sub-resource `replication` alone, no body;
operations/bucket_replication.py), else 400.

Listing: --page-size N answers at most N keys a page, from the continuation token or after
the start-after key (as OSS's ListObjectsV2); while DATA_DIR/fail-list exists, every page
after the first answers 503 (a listing interrupted half way); while DATA_DIR/slow-list
exists ("SECONDS [FIRST]"), every page from the key at index FIRST (default: every page
after the first) waits SECONDS before answering (a client can be killed in the middle).
"""
import base64
import datetime
import email.utils
import hashlib
import shutil
import uuid
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
from alibabacloud_oss_v2.signer.v1 import SignerV1
from alibabacloud_oss_v2.signer.v4 import SignerV4
from alibabacloud_oss_v2.types import Credentials, HttpRequest, SigningContext

PORT, BUCKET, DATA = int(sys.argv[1]), sys.argv[2], sys.argv[3]
FAIL_PUTS = int(sys.argv[sys.argv.index("--fail-puts") + 1]) if "--fail-puts" in sys.argv else 0
RESTORE_SECS = float(sys.argv[sys.argv.index("--restore-secs") + 1]) if "--restore-secs" in sys.argv else 1.0
STALE_HEAD = "--stale-head" in sys.argv
STALL_PUTS = int(sys.argv[sys.argv.index("--stall-puts") + 1]) if "--stall-puts" in sys.argv else 0
ONLY_V1 = "--only-v1" in sys.argv
PAGE_SIZE = int(sys.argv[sys.argv.index("--page-size") + 1]) if "--page-size" in sys.argv else 1000
# Sub-resources the SDK signs in V1 only when the operation names them (its bucket
# lifecycle and WORM operations do); the others are in SignerV1's own list.
V1_OPERATION_SUB_RESOURCES = ["lifecycle", "worm", "wormId", "wormExtend", "replication"]
ARCHIVE = ("Archive", "ColdArchive", "DeepColdArchive")
AK, SK = "LTAI5tCamvaultTest", "camvault-test-secret"
# --region R: the bucket's region (V4 signatures name it); a second bucket elsewhere.
REGION = sys.argv[sys.argv.index("--region") + 1] if "--region" in sys.argv else "cn-beijing"
LOCK = threading.Lock()
STATE = {"puts": 0, "stalls": 0}


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


def bucket_settings():
    p = os.path.join(DATA, "bucket.json")
    return json.load(open(p)) if os.path.exists(p) else {}


def bucket_stat():
    """GetBucketStat's answer, counted from objects/ (OSS's own figures lag by an hour or more)."""
    root = os.path.join(DATA, "objects")
    names = {"Standard": "Standard", "IA": "InfrequentAccess", "Archive": "Archive",
             "ColdArchive": "ColdArchive", "DeepColdArchive": "DeepColdArchive"}
    per = {n: [0, 0, 0] for n in names.values()}  # objects, billed bytes, real bytes
    total = [0, 0]
    for dirpath, _, files in os.walk(root):
        for f in files:
            k = os.path.relpath(os.path.join(dirpath, f), root)
            size = os.path.getsize(os.path.join(root, k))
            cls = json.load(open(os.path.join(DATA, "meta", k + ".json"))).get("class", "Standard")
            n = names.get(cls, "Standard")
            per[n][0] += 1
            per[n][1] += size if n == "Standard" else max(size, 64 * 1024)
            per[n][2] += size
            total[0] += 1
            total[1] += size
    uploads = os.path.join(DATA, "uploads")
    nup = len(os.listdir(uploads)) if os.path.isdir(uploads) else 0
    out = ["<BucketStat><Storage>%d</Storage><ObjectCount>%d</ObjectCount><MultipartUploadCount>%d</MultipartUploadCount>"
           "<LiveChannelCount>0</LiveChannelCount><LastModifiedTime>%d</LastModifiedTime>" % (total[1], total[0], nup, int(time.time()))]
    for n, (count, billed, real) in per.items():
        if n == "Standard":
            out.append("<StandardStorage>%d</StandardStorage><StandardObjectCount>%d</StandardObjectCount>" % (billed, count))
        else:
            out.append("<%sStorage>%d</%sStorage><%sRealStorage>%d</%sRealStorage><%sObjectCount>%d</%sObjectCount>"
                       % (n, billed, n, n, real, n, n, count, n))
    out.append("</BucketStat>")
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + "".join(out)


def same_action_overlap(xml):
    """(action, id, id) of two enabled rules whose prefixes overlap with the same action, or None."""
    rules = []
    for r in re.findall(r"<Rule>(.*?)</Rule>", xml, re.S):
        rid = (re.search(r"<ID>(.*?)</ID>", r, re.S) or [None, ""])[1]
        prefix = (re.search(r"<Prefix>(.*?)</Prefix>", r, re.S) or [None, ""])[1]
        if "<Status>Enabled</Status>" not in r:
            continue
        actions = [a for a in ("Transition", "Expiration") if "<%s>" % a in r]
        rules.append((rid, prefix, actions))
    for i, (a, pa, acts_a) in enumerate(rules):
        for b, pb, acts_b in rules[i + 1:]:
            if pa.startswith(pb) or pb.startswith(pa):
                for act in acts_a:
                    if act in acts_b:
                        return (act, a, b)
    return None


def crc64(data):
    c = Crc64(0)
    c.update(data)
    return c.sum64()


def upload_dir(upload_id):
    if not re.fullmatch(r"[0-9A-F]{32}", upload_id):
        return None
    d = os.path.join(DATA, "uploads", upload_id)
    return d if os.path.isdir(d) else None


def part_list(d):
    """(number, size, etag, crc) of the parts stored for an upload, in order."""
    out = []
    for name in os.listdir(d):
        if name.startswith("part-"):
            data = open(os.path.join(d, name), "rb").read()
            out.append((int(name[5:]), len(data), '"%s"' % hashlib.md5(data).hexdigest().upper(), crc64(data)))
    return sorted(out)


def store_object(obj, meta, data, cls):
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    os.makedirs(os.path.dirname(meta), exist_ok=True)
    crc = crc64(data)
    with open(obj, "wb") as f:
        f.write(data)
    with open(meta, "w") as f:
        json.dump({"class": cls, "crc": str(crc), "uploaded_class": cls}, f)
    return crc


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def signature_ok(self, key):
        """The signature's version ("V4" or "V1") when it checks out, else None."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("OSS "):
            return "V1" if self.v1_signature_ok(key, auth) else None
        if ONLY_V1:
            return None
        return "V4" if self.v4_signature_ok(key, auth) else None

    def v1_signature_ok(self, key, auth):
        date = self.headers.get("Date")
        if not date:
            return False
        try:
            signing_time = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return False
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        req = HttpRequest(self.command, "http://127.0.0.1" + self.path, headers=headers)
        # No token in the credentials: the client's x-oss-security-token header is signed as
        # sent (the SDK would add its own unsigned security-token header otherwise).
        ctx = SigningContext(
            product="oss", region=REGION, bucket=BUCKET, key=key or None, request=req,
            credentials=Credentials(AK, SK), signing_time=signing_time,
        )
        ctx.sub_resource = V1_OPERATION_SUB_RESOURCES
        SignerV1().sign(ctx)
        # The SDK rewrites Date from the parsed time: a date in another form fails here too.
        return req.headers["Authorization"] == auth and req.headers["Date"] == date

    def v4_signature_ok(self, key, auth):
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
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if self.command != "HEAD" or "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client was killed (tests SIGKILL camvault mid-upload)
        with open(os.path.join(DATA, "requests.log"), "a") as log:
            log.write("%s %s %d\n" % (self.command, self.path, status))

    def handle_any(self):
        parts = urlsplit(self.path)
        key = unquote(parts.path[1:])
        body = b""
        if self.command == "PUT" and key and int(self.headers.get("Content-Length", 0)) > 0:
            with LOCK:
                STATE["stalls"] += 1
                stall = STATE["stalls"] <= STALL_PUTS
            if stall:
                time.sleep(4)
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if len(body) < int(self.headers["Content-Length"]):
                # The client went away mid-body: like OSS, store nothing of it.
                self.close_connection = True
                with open(os.path.join(DATA, "requests.log"), "a") as log:
                    log.write("%s %s incomplete\n" % (self.command, self.path))
                return
        version = self.signature_ok(key)
        if not version:
            return self.reply(*error("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided."))
        with LOCK, open(os.path.join(DATA, "signatures.log"), "a") as log:
            log.write(version + "\n")
        obj = os.path.join(DATA, "objects", key)
        meta = os.path.join(DATA, "meta", key + ".json")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if key and "uploads" in query and self.command == "POST":
            upload_id = uuid.uuid4().hex.upper()
            d = os.path.join(DATA, "uploads", upload_id)
            os.makedirs(d)
            with open(os.path.join(d, "upload.json"), "w") as f:
                json.dump({"key": key, "class": self.headers.get("x-oss-storage-class", "Standard"),
                           "initiated": time.time()}, f)
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult>"
                   "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                   % (BUCKET, escape(key), upload_id))
            return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
        if not key and "uploads" in query and self.command == "GET":
            prefix = query.get("prefix", "")
            root = os.path.join(DATA, "uploads")
            items = []
            for upload_id in sorted(os.listdir(root)) if os.path.isdir(root) else []:
                u = json.load(open(os.path.join(root, upload_id, "upload.json")))
                if u["key"].startswith(prefix):
                    items.append("<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>2026-11-25T10:00:00.000Z</Initiated></Upload>"
                                 % (escape(u["key"]), upload_id))
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult><Bucket>%s</Bucket>"
                   "<Prefix>%s</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>%s"
                   "</ListMultipartUploadsResult>" % (BUCKET, escape(prefix), "".join(items)))
            return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
        if key and "uploadId" in query:
            d = upload_dir(query["uploadId"])
            if d is None or json.load(open(os.path.join(d, "upload.json")))["key"] != key:
                return self.reply(*error("NoSuchUpload", 404, "The specified upload does not exist."))
            if self.command == "PUT" and "partNumber" in query:
                n = int(query["partNumber"])
                if not 1 <= n <= 10000:
                    return self.reply(*error("InvalidArgument", 400, "Part number must be 1-10000."))
                with open(os.path.join(d, "part-%05d" % n), "wb") as f:
                    f.write(body)
                return self.reply(200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest().upper(),
                                             "x-oss-hash-crc64ecma": str(crc64(body))})
            if self.command == "GET":
                marker = int(query.get("part-number-marker") or 0)
                limit = int(query.get("max-parts", 1000))
                parts = [p for p in part_list(d) if p[0] > marker]
                page, more = parts[:limit], len(parts) > limit
                items = "".join(
                    "<Part><PartNumber>%d</PartNumber><LastModified>2026-11-25T10:00:00.000Z</LastModified>"
                    "<ETag>%s</ETag><HashCrc64ecma>%d</HashCrc64ecma><Size>%d</Size></Part>" % (n, etag, crc, size)
                    for n, size, etag, crc in page)
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult><Bucket>%s</Bucket><Key>%s</Key>"
                       "<UploadId>%s</UploadId><NextPartNumberMarker>%d</NextPartNumberMarker><MaxParts>%d</MaxParts>"
                       "<IsTruncated>%s</IsTruncated>%s</ListPartsResult>") % (
                    BUCKET, escape(key), query["uploadId"], page[-1][0] if page else 0, limit,
                    "true" if more else "false", items)
                return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
            if self.command == "DELETE":
                shutil.rmtree(d)
                return self.reply(204)
            if self.command == "POST":
                held = {n: (size, etag) for n, size, etag, _ in part_list(d)}
                asked = [(int(n), e.decode()) for n, e in
                         re.findall(rb"<Part>\s*<PartNumber>(\d+)</PartNumber>\s*<ETag>([^<]*)</ETag>\s*</Part>", body)]
                if not asked or [n for n, _ in asked] != sorted({n for n, _ in asked}):
                    return self.reply(*error("InvalidPartOrder", 400, "The list of parts was not in ascending order."))
                for i, (n, etag) in enumerate(asked):
                    if n not in held or held[n][1] != etag.replace("&quot;", '"'):
                        return self.reply(*error("InvalidPart", 400, "One or more of the specified parts could not be found."))
                    if i < len(asked) - 1 and held[n][0] < 100 * 1024:
                        return self.reply(*error("EntityTooSmall", 400, "Your proposed upload smaller than the minimum allowed size."))
                with LOCK:
                    if os.path.exists(obj) and self.headers.get("x-oss-forbid-overwrite", "").lower() == "true":
                        return self.reply(*error("FileAlreadyExists", 409, "The object you specified already exists and can not be overwritten."))
                    data = b"".join(open(os.path.join(d, "part-%05d" % n), "rb").read() for n, _ in asked)
                    u = json.load(open(os.path.join(d, "upload.json")))
                    crc = store_object(obj, meta, data, u["class"])
                    shutil.rmtree(d)
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult><Location>http://%s.oss-cn-beijing.aliyuncs.com/%s</Location>"
                       "<Bucket>%s</Bucket><Key>%s</Key><ETag>\"%s-%d\"</ETag></CompleteMultipartUploadResult>"
                       % (BUCKET, escape(key), BUCKET, escape(key), hashlib.md5(data).hexdigest().upper(), len(asked)))
                return self.reply(200, xml.encode(), {"Content-Type": "application/xml", "x-oss-hash-crc64ecma": str(crc)})
        if not key and ("worm" in query or "wormId" in query):
            path = os.path.join(DATA, "worm.json")
            w = json.load(open(path)) if os.path.exists(path) else None
            if w and w["state"] == "InProgress" and time.time() > w["created"] + 86400:
                os.remove(path)  # not locked within 24 h: OSS drops it
                w = None
            if self.command == "GET" and "worm" in query:
                if not w:
                    return self.reply(*error("NoSuchWORMConfiguration", 404, "The WORM Configuration does not exist."))
                created = datetime.datetime.fromtimestamp(w["created"], datetime.timezone.utc)
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><WormConfiguration><WormId>%s</WormId><State>%s</State>"
                       "<RetentionPeriodInDays>%d</RetentionPeriodInDays><CreationDate>%s</CreationDate>"
                       "<ExpirationDate>%s</ExpirationDate></WormConfiguration>") % (
                    w["id"], w["state"], w["days"], created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    (created + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
                return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
            if self.command == "POST" and "worm" in query:
                if w and w["state"] == "Locked":
                    return self.reply(*error("WORMConfigurationLocked", 409, "The WORM Configuration is locked."))
                if w:
                    return self.reply(*error("WORMConfigurationAlreadyExist", 409, "The WORM Configuration already exists."))
                days = re.search(rb"<InitiateWormConfiguration>\s*<RetentionPeriodInDays>(\d+)</RetentionPeriodInDays>\s*</InitiateWormConfiguration>", body)
                if not days or not 1 <= int(days.group(1)) <= 25550:
                    return self.reply(*error("InvalidWORMConfiguration", 400, "The WORM Configuration is invalid."))
                w = {"id": uuid.uuid4().hex.upper()[:20], "state": "InProgress", "days": int(days.group(1)), "created": time.time()}
                json.dump(w, open(path, "w"))
                return self.reply(200, b"", {"x-oss-worm-id": w["id"]})
            if self.command == "POST" and "wormId" in query:
                if not w or w["id"] != query["wormId"]:
                    return self.reply(*error("NoSuchWORMConfiguration", 404, "The WORM Configuration does not exist."))
                w["state"] = "Locked"
                json.dump(w, open(path, "w"))
                return self.reply(200)
        if self.command == "PUT" and key:
            with LOCK:
                STATE["puts"] += 1
                if STATE["puts"] <= FAIL_PUTS:
                    return self.reply(*error("ServiceUnavailable", 503, "Please reduce your request rate."))
                if os.path.exists(obj) and self.headers.get("x-oss-forbid-overwrite", "").lower() == "true":
                    return self.reply(*error("FileAlreadyExists", 409, "The object you specified already exists and can not be overwritten."))
                crc = store_object(obj, meta, body, self.headers.get("x-oss-storage-class", "Standard"))
            return self.reply(200, b"", {"x-oss-hash-crc64ecma": str(crc), "ETag": '"x"'})
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
                if m["class"] == "Archive" and int(days.group(1)) > 7:
                    # OSS's text for this refusal is not documented; the limit is.
                    return self.reply(*error("InvalidArgument", 400, "The restore days of an Archive object must be 1-7."))
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
            if m["class"] in ARCHIVE and m.get("uploaded_class") != m["class"]:
                headers["x-oss-transition-time"] = http_date(m.get("transitioned", os.path.getmtime(meta)))
            if self.command == "GET" and m["class"] in ARCHIVE and state in (None, "ongoing"):
                return self.reply(*error("InvalidObjectState", 403, "The operation is not valid for the object's state."))
            if self.command == "HEAD":
                headers["Content-Length"] = str(len(data))
                return self.reply(200, b"", headers)
            rng = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            if rng:
                a, b = int(rng.group(1)), min(int(rng.group(2)), len(data) - 1)
                headers["Content-Range"] = "bytes %d-%d/%d" % (a, b, len(data))
                return self.reply(206, data[a:b + 1], headers)
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
            if "start-after" in query and "continuation-token" not in query:
                start = sum(1 for k in keys if k <= query["start-after"])
            if start > 0 and os.path.exists(os.path.join(DATA, "fail-list")):
                return self.reply(*error("ServiceUnavailable", 503, "Please reduce your request rate."))
            if start > 0 and os.path.exists(os.path.join(DATA, "slow-list")):
                wait, _, first = open(os.path.join(DATA, "slow-list")).read().partition(" ")
                if start >= int(first or 1):
                    time.sleep(float(wait))
            limit = min(int(query.get("max-keys", 1000)), PAGE_SIZE)
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
        if not key and "bucketInfo" in query and self.command == "GET":
            b = bucket_settings()
            region = b.get("location", "oss-" + REGION)
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><BucketInfo><Bucket><AccessMonitor>Disabled</AccessMonitor>"
                   "<CreationDate>2023-07-31T10:56:21.000Z</CreationDate><ExtranetEndpoint>%s.aliyuncs.com</ExtranetEndpoint>"
                   "<IntranetEndpoint>%s-internal.aliyuncs.com</IntranetEndpoint><Location>%s</Location>"
                   "<StorageClass>Standard</StorageClass><TransferAcceleration>Disabled</TransferAcceleration>"
                   "<CrossRegionReplication>Disabled</CrossRegionReplication><Name>%s</Name>"
                   "<ResourceGroupId>rg-default-id</ResourceGroupId><Owner><DisplayName>1234</DisplayName><ID>1234</ID></Owner>"
                   "<AccessControlList><Grant>private</Grant></AccessControlList><Comment></Comment>"
                   "<DataRedundancyType>%s</DataRedundancyType>%s"
                   "<ServerSideEncryptionRule><SSEAlgorithm>None</SSEAlgorithm></ServerSideEncryptionRule>"
                   "<BucketPolicy><LogBucket></LogBucket><LogPrefix></LogPrefix></BucketPolicy></Bucket></BucketInfo>") % (
                region, region, region, BUCKET, b.get("redundancy", "LRS"),
                "<Versioning>%s</Versioning>" % b["versioning"] if b.get("versioning") else "")
            return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
        if not key and "versioning" in query:
            if self.command == "GET":
                b = bucket_settings()
                status = "<Status>%s</Status>" % b["versioning"] if b.get("versioning") else ""
                xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><VersioningConfiguration>%s</VersioningConfiguration>" % status
                return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
            if self.command == "PUT":
                m = re.search(rb"<Status>(Enabled|Suspended)</Status>", body)
                if not m:
                    return self.reply(*error("MalformedXML", 400, "The XML you provided was not well-formed."))
                b = bucket_settings()
                b["versioning"] = m.group(1).decode()
                json.dump(b, open(os.path.join(DATA, "bucket.json"), "w"))
                return self.reply(200)
        if not key and "replication" in query:
            # The SDK's GetBucketReplication: GET, parameters {'replication': ''}, no body.
            if self.command != "GET" or query != {"replication": ""} or body:
                return self.reply(*error("InvalidRequest", 400, "not the SDK's GetBucketReplication request"))
            path = os.path.join(DATA, "replication.json")
            if not os.path.exists(path):
                return self.reply(*error("NoSuchReplicationConfiguration", 404,
                                         "The bucket you specified does not have replication configuration."))
            from alibabacloud_oss_v2 import models, serde
            rules = [models.ReplicationRule(
                id=r["id"], action=r.get("action", "ALL"), status=r.get("status", "doing"),
                historical_object_replication=r.get("historical", "enabled"),
                prefix_set=models.ReplicationPrefixSet(prefixs=r["prefixes"]) if r.get("prefixes") else None,
                destination=models.ReplicationDestination(bucket=r["bucket"], location=r["location"]))
                for r in json.load(open(path))]
            xml = b'<?xml version="1.0" encoding="UTF-8"?>' + serde.serialize_xml(
                models.ReplicationConfiguration(rules=rules))
            return self.reply(200, xml, {"Content-Type": "application/xml"})
        if not key and "stat" in query and self.command == "GET":
            return self.reply(200, bucket_stat().encode(), {"Content-Type": "application/xml"})
        if not key and "lifecycle" in query and self.command == "PUT":
            clash = same_action_overlap(body.decode("utf-8", "replace"))
            if clash and self.headers.get("x-oss-allow-same-action-overlap", "").lower() != "true":
                return self.reply(*error("InvalidArgument", 400,
                                         "Overlap for same action type %s between rule %s and rule %s." % clash))
        if not key and "lifecycle" in query:
            path = os.path.join(DATA, "lifecycle.xml")
            if self.command == "GET":
                if not os.path.exists(path):
                    return self.reply(*error("NoSuchLifecycle", 404, "No Row found in Lifecycle Table."))
                return self.reply(200, open(path, "rb").read(), {"Content-Type": "application/xml"})
            if self.command == "PUT":
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
