#!/usr/bin/env python3
"""Decodes the QR code `xrcp ctrl --qr` or `simplex-agent invite --qr` printed, as a camera
would: the half-block text between the lines "qr begin" and "qr end" of the
file named is turned back into modules (a drawn half is a light module,
a blank half a dark one; the code is square, so the last line's lower half
beyond the width is not a row), written as a scaled grey-scale image with a
light border, and read by zbarimg (zbar-tools). Prints the decoded text.

Usage: qr_decode.py <program output> <folder for the image>
Exit: 0 decoded, 1 no QR block or not decoded, 2 zbarimg missing."""
import os
import shutil
import subprocess
import sys

HALVES = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True), " ": (False, False)}
SCALE, BORDER = 4, 8

def main():
    if shutil.which("zbarimg") is None:
        print("qr_decode: zbarimg not found (zbar-tools: scripts/setup --test)", file=sys.stderr)
        return 2
    lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
    try:
        block = lines[lines.index("qr begin") + 1:lines.index("qr end")]
    except ValueError:
        print("qr_decode: no QR block", file=sys.stderr)
        return 1
    width = len(block[0])
    rows = []
    for line in block:
        if len(line) != width or any(ch not in HALVES for ch in line):
            print("qr_decode: a line of another width or an unknown character", file=sys.stderr)
            return 1
        rows.append([HALVES[ch][0] for ch in line])
        rows.append([HALVES[ch][1] for ch in line])
    if len(rows) not in (width, width + 1):
        print("qr_decode: not square: %d x %d" % (width, len(rows)), file=sys.stderr)
        return 1
    rows = rows[:width]
    side = width * SCALE + 2 * BORDER
    pixels = bytearray([255]) * (side * side)
    for y, row in enumerate(rows):
        for x, light in enumerate(row):
            if light:
                continue
            for dy in range(SCALE):
                start = (BORDER + y * SCALE + dy) * side + BORDER + x * SCALE
                pixels[start:start + SCALE] = bytes(SCALE)
    path = os.path.join(sys.argv[2], "qr.pgm")
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (side, side) + bytes(pixels))
    r = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        print("qr_decode: zbarimg found no code: %s" % r.stderr.decode(errors="replace"), file=sys.stderr)
        return 1
    sys.stdout.write(r.stdout.decode("utf-8").rstrip("\n") + "\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
