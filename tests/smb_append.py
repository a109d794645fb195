"""Appends chunks to a file on an SMB share over SMB1, as the camera writes a growing clip.

usage: smb_append.py HOST PORT USER PASSWORD SHARE REMOTE_PATH LOCAL_CHUNK [LOCAL_CHUNK...]
Each chunk is written at the end of the remote file (created if missing), in place, in one
SMB1 session; between chunks the writer pauses $SMB_APPEND_PACE seconds (default 1), the
camera's pace, so the gaps do not depend on how fast a loaded machine starts Python.
"""
import os
import sys
import time

from smb import smb_structs
from smb.SMBConnection import SMBConnection

smb_structs.SUPPORT_SMB2 = False  # the camera speaks SMB1 only

host, port, user, password, share, remote = sys.argv[1:7]
chunks = sys.argv[7:]
assert chunks, __doc__
pace = float(os.environ.get("SMB_APPEND_PACE", "1"))
conn = SMBConnection(user, password, "camera", "camvault", use_ntlm_v2=False, is_direct_tcp=True)
assert conn.connect(host, int(port), timeout=30), "SMB1 login failed"
for i, chunk in enumerate(chunks):
    if i:
        time.sleep(pace)
    try:
        offset = conn.getAttributes(share, remote).file_size
    except Exception:
        offset = 0
    with open(chunk, "rb") as f:
        conn.storeFileFromOffset(share, remote, f, offset=offset, truncate=False)
conn.close()
