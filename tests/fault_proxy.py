"""A fault-injecting HTTP proxy between camvault and an S3 server (moto), for the tests.

usage: fault_proxy.py PORT UPSTREAM_PORT LOG [--faults F1,F2,...] [--fault-methods PUT,POST]
                      [--sigv4 ACCESS_KEY SECRET REGION] [--checksums verify|refuse|ignore]

Every request is forwarded to 127.0.0.1:UPSTREAM_PORT and logged to LOG as one line:
"METHOD PATH STATUS FAULT md5=… class=… inm=… sum=…", PATH without the signature's X-Amz-*
parameters, md5= whether it carried Content-MD5 (1 or -), sum= the x-amz-checksum-*
algorithm it carried.
The first requests whose method is in --fault-methods get the faults, in order; a fault
written FAULT@TEXT waits for the first such request whose PATH (as logged) contains TEXT:
  500, 503        answer that error (S3's XML) without forwarding
  status:N:CODE   answer status N with error code CODE, without forwarding
  delay:S         forward, then wait S seconds before answering
  reset           read the request, then reset the connection without forwarding
  reset-mid       read half the body, then reset the connection
  reset-after     forward (the store acts on it), then reset instead of answering
--checksums (S3's additional checksums, which moto keeps without checking):
  verify (default)  a body's x-amz-checksum-{crc64nvme,crc32c,sha256} is recomputed with
                    awscrt / hashlib, as S3 does; a mismatch answers 400 BadDigest, logged
                    with the fault "BADSUM"
  refuse            any x-amz-checksum-* header answers 400 InvalidRequest (an older store)
  ignore            x-amz-checksum-* headers are dropped both ways (a store that ignores them)
Otherwise, ListParts answers name the checksum algorithm the upload was created with, as
AWS does (moto does not).
With --sigv4, each request's SigV4 query signature is recomputed with botocore (an
independent implementation) and a mismatch answers 403 SignatureDoesNotMatch, logged
with the fault "SIGFAIL".
"""
import http.client
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

PORT, UPSTREAM, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
args = sys.argv[4:]


def opt(name, n=1):
    if name not in args:
        return None
    i = args.index(name)
    return args[i + 1 : i + 1 + n] if n > 1 else args[i + 1]


FAULTS = [f for f in (opt("--faults") or "").split(",") if f]
FAULT_METHODS = set((opt("--fault-methods") or "PUT,POST").split(","))
SIGV4 = opt("--sigv4", 3)
CHECKSUMS = opt("--checksums") or "verify"
UPLOAD_ALGORITHM = {}  # upload id -> x-amz-checksum-algorithm it was created with
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "content-length"}


def next_fault(method, path):
    with LOCK:
        if method not in FAULT_METHODS:
            return None
        for i, f in enumerate(FAULTS):
            kind, _, where = f.partition("@")
            if where in path:
                del FAULTS[i]
                return kind
    return None


def signature_ok(method, path, headers):
    """Recomputes the presigned-URL signature with botocore's own SigV4 code."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(path)
    q = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(q)
    if given.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return False
    key_id, date, region, service, term = given["X-Amz-Credential"].split("/")
    if (key_id, region, service, term) != (SIGV4[0], SIGV4[2], "s3", "aws4_request"):
        return False
    if date != given["X-Amz-Date"][:8]:
        return False
    signed = given["X-Amz-SignedHeaders"].split(";")
    if "host" not in signed:
        return False
    # S3 refuses x-amz-* headers left out of the signature.
    if any(h.lower().startswith("x-amz-") and h.lower() not in signed for h in headers.keys()):
        return False
    # The query as S3 canonicalizes it: decoded, then encoded AWS-style.
    query = "&".join(
        "%s=%s" % (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in q if k != "X-Amz-Signature"
    )
    url = "http://%s%s?%s" % (headers["Host"], parts.path, query)
    req = AWSRequest(method=method, url=url, headers={h: headers[h] for h in signed if h != "host"})
    req.context["timestamp"] = given["X-Amz-Date"]
    auth = S3SigV4QueryAuth(
        Credentials(SIGV4[0], SIGV4[1], given.get("X-Amz-Security-Token")), "s3", SIGV4[2], expires=int(given["X-Amz-Expires"])
    )
    canonical = auth.canonical_request(req)
    return auth.signature(auth.string_to_sign(req, canonical), req) == given["X-Amz-Signature"]


def checksum(alg, body):
    """S3's value of an x-amz-checksum-* header for `body`: base64 of the big-endian digest."""
    import base64
    import hashlib

    from awscrt import checksums

    if alg == "crc64nvme":
        raw = checksums.crc64nvme(body).to_bytes(8, "big")
    elif alg == "crc32c":
        raw = checksums.crc32c(body).to_bytes(4, "big")
    elif alg == "sha256":
        raw = hashlib.sha256(body).digest()
    else:
        return None
    return base64.b64encode(raw).decode()


def sum_headers(headers):
    """The x-amz-checksum-ALG value headers of a request: [(alg, value)]."""
    return [
        (k.lower()[len("x-amz-checksum-"):], v)
        for k, v in headers.items()
        if k.lower().startswith("x-amz-checksum-")
        and k.lower() not in ("x-amz-checksum-type", "x-amz-checksum-mode", "x-amz-checksum-algorithm")
    ]


def shown(path):
    parts = urlsplit(path)
    q = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("X-Amz-")]
    return parts.path + ("?" + "&".join("%s=%s" % kv if kv[1] else kv[0] for kv in q) if q else "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log(self, status, fault):
        sums = [a for a, _ in sum_headers(self.headers)]
        algo = self.headers.get("x-amz-checksum-algorithm")
        line = "%s %s %s %s md5=%s class=%s inm=%s sum=%s\n" % (
            self.command,
            shown(self.path),
            status,
            fault or "-",
            "1" if self.headers.get("Content-MD5") else "-",
            self.headers.get("x-amz-storage-class", "-"),
            self.headers.get("If-None-Match", "-"),
            ",".join(sums) or (algo.lower() if algo else "-"),
        )
        with LOCK, open(LOG, "a") as f:
            f.write(line)

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        if self.command == "HEAD":
            length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        fault = next_fault(self.command, shown(self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if fault == "reset-mid":
            self.rfile.read(length // 2)
            self.log("RESET", fault)
            return self.reset()
        body = self.rfile.read(length) if length else b""
        if SIGV4 and not signature_ok(self.command, self.path, self.headers):
            self.log(403, "SIGFAIL")
            xml = b"<Error><Code>SignatureDoesNotMatch</Code><Message>botocore computes another signature</Message></Error>"
            return self.reply(403, [("Content-Type", "application/xml")], xml)
        if fault in ("500", "503"):
            code = "InternalError" if fault == "500" else "SlowDown"
            self.log(int(fault), fault)
            xml = ("<Error><Code>%s</Code><Message>injected</Message><RequestId>fault</RequestId></Error>" % code).encode()
            return self.reply(int(fault), [("Content-Type", "application/xml")], xml)
        if fault and fault.startswith("status:"):
            _, status, code = fault.split(":")
            self.log(int(status), fault)
            xml = ("<Error><Code>%s</Code><Message>injected</Message><RequestId>fault</RequestId></Error>" % code).encode()
            return self.reply(int(status), [("Content-Type", "application/xml")], xml)
        if fault == "reset":
            self.log("RESET", fault)
            return self.reset()
        carries = sum_headers(self.headers) or self.headers.get("x-amz-checksum-algorithm")
        if CHECKSUMS == "refuse" and carries:
            self.log(400, "NOSUM")
            xml = b"<Error><Code>InvalidRequest</Code><Message>x-amz-checksum headers are not supported</Message></Error>"
            return self.reply(400, [("Content-Type", "application/xml")], xml)
        if CHECKSUMS == "verify" and self.command == "PUT":
            for alg, value in sum_headers(self.headers):
                if checksum(alg, body) != value:
                    self.log(400, "BADSUM")
                    xml = ("<Error><Code>BadDigest</Code><Message>The %s you specified did not match the calculated checksum.</Message></Error>" % alg.upper()).encode()
                    return self.reply(400, [("Content-Type", "application/xml")], xml)
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if CHECKSUMS == "ignore":
            headers = {k: v for k, v in headers.items() if "checksum" not in k.lower()}
        if length:
            headers["Content-Length"] = str(length)
        conn.request(self.command, self.path, body=body if length else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if fault == "reset-after":
            self.log("%d-RESET" % resp.status, fault)
            return self.reset()
        if fault and fault.startswith("delay:"):
            time.sleep(float(fault.split(":")[1]))
        self.log(resp.status, fault)
        answer = resp.getheaders()
        data = self.track_algorithm(resp.status, data)
        if CHECKSUMS == "ignore":
            answer = [(k, v) for k, v in answer if "checksum" not in k.lower()]
        self.reply(resp.status, answer, data)

    def track_algorithm(self, status, data):
        """Remembers the checksum algorithm of each upload created, and names it in ListParts."""
        import re

        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        algo = self.headers.get("x-amz-checksum-algorithm")
        if self.command == "POST" and "uploads" in query and status == 200 and algo and CHECKSUMS != "ignore":
            m = re.search(rb"<UploadId>([^<]+)</UploadId>", data)
            if m:
                UPLOAD_ALGORITHM[m.group(1).decode()] = algo
        if self.command == "GET" and "uploadId" in query and status == 200 and b"<ChecksumAlgorithm>" not in data:
            algo = UPLOAD_ALGORITHM.get(query["uploadId"])
            if algo:
                data = data.replace(b"</UploadId>", b"</UploadId><ChecksumAlgorithm>%s</ChecksumAlgorithm>" % algo.encode(), 1)
        return data

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # camvault hung up (a timeout it was meant to hit): not the proxy's problem.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


Server(("127.0.0.1", PORT), Handler).serve_forever()
