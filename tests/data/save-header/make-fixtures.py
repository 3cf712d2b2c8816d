#!/usr/bin/env python3
# Derives the damaged-image fixtures from the real captures (real-raw.head,
# real-raw.stream), so that every crafted file differs from what libvirt 9.0
# wrote in exactly the way its name says. Run from this directory; the
# output is committed, the script documents how it was made. See README.
import struct

HDR = 92  # magic[16] + 5 x uint32 + unused[14] x uint32


def u32(v):
    return struct.pack('<I', v)


head = open('real-raw.head', 'rb').read()
stream = open('real-raw.stream', 'rb').read()


def write(name, data):
    assert len(data) < 64 * 1024, name
    with open(name, 'wb') as f:
        f.write(data)


# The save was interrupted: libvirt writes this magic first and replaces it
# only after QEMU finished the stream.
write('partial.sav', b'LibvirtQemudPart' + head[16:])

# Cut inside the fixed header, and inside the domain XML.
write('truncated-fixed.sav', head[:50])
write('truncated-data.sav', head[:600])

# A header version this libvirt never wrote.
write('version3.sav', head[:16] + u32(3) + head[20:])

# Not a save image at all: a bare QEMU migration stream (magic QEVM).
write('garbage-magic.sav', stream[:256])

# Domain XML that runs to the end of its data area without a NUL.
xml = b"<domain type='qemu'><name>unterminated</name></domain>"
xml = xml + b' ' * (64 - len(xml))
write('xml-unterminated.sav',
      b'LibvirtQemudSave' + u32(2) + u32(len(xml)) + u32(1) + u32(0) + u32(0)
      + bytes(56) + xml + stream[:64])

# Valid header and data area (the real XML and cookie with 16 bytes of
# padding instead of 64 KiB) but no stream after it.
body = head[HDR:]
data_len = len(body) + 16
write('no-stream.sav',
      head[:20] + u32(data_len) + head[24:HDR] + body + bytes(16))
