"""A Xiaomi camera's miIO side, for camvault's tests: an independent implementation.

Every packet is parsed and built by python-miio's own protocol code (`miio.protocol.Message`,
construct-based: header, MD5 checksum checked on parse, AES-128-CBC from the token). The
request handling follows python-miio's device simulator (rytilahti/python-miio,
`miio/push_server/serverprotocol.py` and `miio/devtools/simulators/miotsimulator.py` at
commit c8ed9a5): a hello gets a bare 32-byte header with the device id and a timestamp; a
request that does not parse with the device's token (wrong token, bad checksum) is dropped
without an answer; `get_properties` answers a list of {did, siid, piid, code, value}.

    miio_sim.py TOKEN MODE LOG [sd_status [nas_state [nas_error]]]

MODE: ok | silent | bad-checksum | replay. Prints "PORT <n>" once listening on 127.0.0.1;
appends one JSON line per request it accepted to LOG. Ends when stdin closes.
"""

import datetime
import json
import socket
import struct
import sys
import threading
import time

from miio.protocol import Message

DEVICE_ID = 0x0A0B0C0D
MEMORY_CARD_SIID = 4  # isa.camera.hlc7's memory-card-management service


def build(token, payload):
    return Message.build(
        {
            "data": {"value": payload},
            "header": {
                "value": {
                    "length": 0,
                    "unknown": 0,
                    "device_id": struct.pack(">I", DEVICE_ID),
                    "ts": datetime.datetime.utcfromtimestamp(int(time.time())),
                }
            },
            "checksum": 0,
        },
        token=token,
    )


def main():
    token = bytes.fromhex(sys.argv[1])
    mode = sys.argv[2]
    log = open(sys.argv[3], "a")
    sd_status = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    nas_state = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    nas_error = int(sys.argv[6]) if len(sys.argv) > 6 else 0

    def answer(method, params, honest=True):
        if method == "nas_get_config":
            return {
                "state": nas_state if honest else 2,
                "sync_interval": 300,
                "video_retention_time": 604800,
                "last_sync_time": 1764000000,
                "error_code": nas_error if honest else 99,
                "share": {"type": 1, "group": "WORKGROUP", "name": "CAMVAULT",
                          "addr": 16777343, "dir": "camera", "user": "camera",
                          "pass": "share-pass-must-not-leak"},
            }
        if method == "get_properties":
            values = {1: sd_status if honest else 3, 2: 30517, 3: 12000, 4: 18517}
            out = []
            for p in params:
                r = dict(p)
                if p.get("siid") == MEMORY_CARD_SIID and p.get("piid") in values:
                    r.update(code=0, value=values[p["piid"]])
                else:
                    r.update(code=-4003, value="")
                out.append(r)
            return out
        return None

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print("PORT", s.getsockname()[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), s.close()), daemon=True).start()
    hello = bytes.fromhex("21310020" + "ff" * 28)
    last_reply = None
    while True:
        try:
            data, addr = s.recvfrom(4096)
        except OSError:
            return
        if mode == "silent":
            continue
        if data == hello:
            ack = struct.pack(">HHIII16s", 0x2131, 32, 0, DEVICE_ID, int(time.time()), bytes(16))
            s.sendto(ack, addr)
            continue
        try:
            msg = Message.parse(data, token=token)
        except Exception as e:  # the upstream simulator logs and drops it, unanswered
            print("dropped:", type(e).__name__, file=sys.stderr, flush=True)
            continue
        req = msg.data.value
        head = msg.header.value
        log.write(json.dumps({
            "id": req["id"], "method": req["method"], "params": req.get("params"),
            "device_id": struct.unpack(">I", head.device_id)[0],
            "ts": int(head.ts.replace(tzinfo=datetime.timezone.utc).timestamp()),
        }) + "\n")
        log.flush()
        result = answer(req["method"], req.get("params"))
        if result is None:
            reply = build(token, {"id": req["id"], "error": {"code": -9999, "message": "unsupported method"}})
        else:
            reply = build(token, {"id": req["id"], "result": result})
        if mode == "bad-checksum":
            # First a damaged answer with other values: camvault must not believe it.
            forged = bytearray(build(token, {"id": req["id"], "result": answer(req["method"], req.get("params"), honest=False)}))
            forged[20] ^= 0x55
            s.sendto(bytes(forged), addr)
            time.sleep(0.05)
        if mode == "replay":
            # A late answer to some earlier message, then the last answer sent, again.
            stale = build(token, {"id": (req["id"] + 5000) % 10000,
                                  "result": answer(req["method"], req.get("params"), honest=False)})
            s.sendto(stale, addr)
            if last_reply is not None:
                s.sendto(last_reply, addr)
            time.sleep(0.05)
        s.sendto(reply, addr)
        last_reply = reply


if __name__ == "__main__":
    main()
