"""Transcode speed and time to first frame of camvault's playback variants (bench/playback.sh).

For each variant it runs ffmpeg as `serve` does (the same options as `Variant::ffmpeg_args`
in src/web/media.rs; keep them in step), reads the fragmented MP4 from its stdout like the
browser would, and reports:
  - time to first frame: from starting ffmpeg to the end of the first `mdat` box (the
    first fragment a player can show; the `moov` of an `empty_moov` file has no samples);
  - speed: the clip's duration / ffmpeg's wall time (x real time; >= 1 keeps up);
  - CPU: ffmpeg's user+system seconds, and the speed that gives on one idle core (clip
    duration / CPU seconds): a number that does not depend on what else the machine runs.
    ffmpeg spreads these jobs poorly over two cores (the issue's 127 s wall time for the old
    settings on the idle box is close to its 112 s of CPU), so this is near the idle box's.
Usage: python3 bench/playback.py CLIP.mp4 [RUNS] [VARIANT-SUBSTRING...]
"""
import json
import resource
import subprocess
import sys
import time

CLIP = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 1

FRAG = ["-c:a", "aac", "-b:a", "48k", "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
        "-frag_duration", "1000000", "-f", "mp4", "pipe:1"]
H264 = lambda preset: ["-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-crf", "23",
                       "-pix_fmt", "yuv420p", "-force_key_frames", "expr:gte(t,n_forced*2)"]
SCALE = ["-vf", "scale=-2:'min(720,ih)'"]
MAP = ["-map", "0:v:0", "-map", "0:a:0?"]
VARIANTS = {
    # What `serve` did before (issue 17): full size, veryfast, fragments per camera GOP.
    "old: H.264 full size, veryfast": MAP + ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                                              "-c:a", "aac", "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
                                              "-f", "mp4", "pipe:1"],
    "720p veryfast": MAP + SCALE + H264("veryfast") + FRAG,
    "720p superfast (default)": MAP + SCALE + H264("superfast") + FRAG,
    "720p ultrafast": MAP + SCALE + H264("ultrafast") + FRAG,
    "full size superfast (on request)": MAP + H264("superfast") + FRAG,
    "HEVC pass-through, AAC audio": MAP + ["-c:v", "copy", "-tag:v", "hvc1"] + FRAG,
}


def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["format"]["duration"])


def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args):
    c0 = cpu()
    t0 = time.monotonic()
    p = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", CLIP] + args,
                         stdout=subprocess.PIPE)
    buf = b""
    first = None
    total = 0
    while True:
        chunk = p.stdout.read1(1 << 16)
        if not chunk:
            break
        total += len(chunk)
        if first is None:
            buf += chunk
            # Walk the top-level boxes: the first complete `mdat` is the first frame's data.
            off = 0
            while off + 8 <= len(buf):
                size = int.from_bytes(buf[off:off + 4], "big")
                kind = buf[off + 4:off + 8]
                if size < 8 or off + size > len(buf):
                    break
                if kind == b"mdat":
                    first = time.monotonic() - t0
                    break
                off += size
    p.wait()
    if p.returncode != 0:
        raise SystemExit(f"ffmpeg failed ({p.returncode}) for {args}")
    return first, time.monotonic() - t0, total, cpu() - c0


def main():
    secs = duration(CLIP)
    only = sys.argv[3:]
    print(f"clip: {CLIP}, {secs:.1f} s")
    print(f"| variant | time to first frame | wall time | speed (x real time) | CPU time | speed per CPU (x real time on one idle core) | output |")
    print("|---|---|---|---|---|---|---|")
    for name, args in VARIANTS.items():
        if only and not any(o in name for o in only):
            continue
        best = None
        for _ in range(RUNS):
            r = run(args)
            best = r if best is None or r[1] < best[1] else best
        first, wall, size, used = best
        print(f"| {name} | {first:.2f} s | {wall:.1f} s | {secs / wall:.2f}x | {used:.1f} s | "
              f"{secs / used:.2f}x | {size / 1e6:.1f} MB |", flush=True)


main()
