"""Appends a chunk to a file on an SMB share over SMB1, as the camera writes a growing clip.

usage: smb_append.py HOST PORT USER PASSWORD SHARE REMOTE_PATH LOCAL_CHUNK
The chunk is written at the end of the remote file (created if missing), in place.
"""
import sys

from smb import smb_structs
from smb.SMBConnection import SMBConnection

smb_structs.SUPPORT_SMB2 = False  # the camera speaks SMB1 only

host, port, user, password, share, remote, chunk = sys.argv[1:8]
conn = SMBConnection(user, password, "camera", "camvault", use_ntlm_v2=False, is_direct_tcp=True)
assert conn.connect(host, int(port), timeout=30), "SMB1 login failed"
try:
    offset = conn.getAttributes(share, remote).file_size
except Exception:
    offset = 0
with open(chunk, "rb") as f:
    conn.storeFileFromOffset(share, remote, f, offset=offset, truncate=False)
conn.close()
