#!/usr/bin/env python3
"""Write the save-header harness's seed inputs (fuzz/run.sh calls this).

libvirt save images cut to what the parser reads: the 92-byte header
(magic, version, data_len, was_running, format, cookie offset, 14 unused
words), the data area (domain XML, NUL, the cookie, NUL padding) and the
first bytes of the stream. Built from the text files in fuzz/seeds/, so no
binary is committed: both byte orders, the "Part" magic libvirt writes
first, version 3, every stream format vmkeep knows (raw, gzip, zstd,
sparse), with and without a cookie, without a stream, and a tight one.

    fuzz/save-header-seeds.py OUTDIR
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def text(name):
    with open(os.path.join(HERE, "seeds", name), "rb") as f:
        return f.read()


def image(xml, cookie, data_len, was_running=1, fmt=0, tail=b"", magic=b"LibvirtQemudSave",
          version=2, endian="<"):
    data = xml + b"\0"
    offset = 0
    if cookie is not None:
        offset = len(data)
        data += cookie + b"\0"
    data += b"\0" * (data_len - len(data))
    head = magic + struct.pack(endian + "5I", version, data_len, was_running, fmt, offset)
    head += b"\0" * (92 - len(head))
    return head + data + tail


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    dom, short, cookie = (text("save-header-domain.xml"), text("save-header-domain-short.xml"),
                          text("save-header-cookie.xml"))
    qevm = b"QEVM\0\0\0\x03" + b"\0" * 56
    gzip = b"\x1f\x8b\x08" + b"\0" * 61
    seeds = {
        "raw-cookie": image(dom, cookie, 1130, tail=qevm),
        "big-endian": image(dom, cookie, 1130, tail=qevm, endian=">"),
        "partial": image(dom, cookie, 1130, tail=qevm, magic=b"LibvirtQemudPart"),
        "version3": image(dom, cookie, 1130, tail=qevm, version=3),
        "no-stream": image(dom, cookie, 1130),
        "raw-no-cookie": image(dom, None, 894, was_running=0, tail=qevm),
        "sparse": image(dom, None, 894, fmt=6, tail=qevm),
        "gzip-cookie": image(short, cookie, 1067, fmt=1, tail=gzip),
        "zstd": image(short, cookie, 1067, fmt=5, tail=qevm),
        "tight": image(b"<domain type='kvm'><name>a</name></domain>", b"<qemu-migration/>", 61,
                       tail=b"Q"),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name + ".sav"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
