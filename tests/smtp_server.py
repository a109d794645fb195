"""A local SMTP relay for the e-mail channel's tests (aiosmtpd, from PyPI).

usage: smtp_server.py PORT CERT KEY OUT_DIR
Requires STARTTLS and then AUTH (user "camvault", password "relay-secret"); every
message received is written to OUT_DIR/mail-N.json with the envelope, whether the
session was encrypted, the authenticated user, and the raw message.
"""
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

PORT, CERT, KEY, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "user": session.auth_data.decode() if isinstance(session.auth_data, bytes) else None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(OUT, "mail-%d.json.tmp" % Handler.count)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, tmp[:-4])
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"camvault" and auth_data.password == b"relay-secret"
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(CERT, KEY)
controller = Controller(
    Handler(), hostname="127.0.0.1", port=PORT, tls_context=ctx, require_starttls=True,
    authenticator=authenticate, auth_require_tls=True,
)
controller.start()
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
