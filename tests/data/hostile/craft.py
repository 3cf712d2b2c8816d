#!/usr/bin/env python3
"""Makers of hostile input for tests/e2e/hostile.sh.

Every subcommand edits a copy the test made (of a good image in the store
or of a good export unpacked into a directory); nothing here touches the
store by itself.

  header FILE FIELD VALUE       set a field of libvirt's save header in place
                                (magic, version, data_len, format, cookie)
  flip FILE OFFSET              xor one byte (negative OFFSET: from the end)
  sub FILE ERE REPL [COUNT]     regex substitution in a text file (Python re,
                                DOTALL); fails when nothing matched
  state-xml FILE ERE REPL       the same substitution on the domain XML in a
                                save header, rewritten in place as libvirt
                                does (XML, NUL, cookie, NUL padding: the
                                stream offset does not move)
  state-cut FILE KEEP           keep the header, data area and KEEP bytes of
                                the stream
  sidecar-state DIR             record state.sav's size and SHA-256 in DIR's
                                image.xml
  manifest DIR [NAME...]        write DIR/manifest.json for the members
                                (default: those of an export, as present)
  tar OUT DIR SPEC...           write a tar stream; SPEC is one member:
                                  NAME                file DIR/NAME
                                  NAME=PATH           file PATH as NAME
                                  symlink:NAME=TARGET hardlink:NAME=TARGET
                                  chr:NAME blk:NAME fifo:NAME dir:NAME
                                  raw:NAME=TEXT       a file holding TEXT
                                  gnu                 (first) GNU format
  deep FILE N                   a JSON document nested N deep
  xml FILE KIND                 hostile domain XML for pin/define
"""
import hashlib
import json
import os
import re
import struct
import sys
import tarfile

EXPORT_ORDER = ["image.xml", "state.sav", "disks/vda.qcow2", "disks/vda.raw", "nvram.fd"]
FIELDS = {"version": 16, "data_len": 20, "was_running": 24, "format": 28, "cookie": 32}
FIXED = 92


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def header(path, field, value):
    with open(path, "r+b") as f:
        if field == "magic":
            f.write(value.encode().ljust(16, b"\0")[:16])
        else:
            f.seek(FIELDS[field])
            f.write(struct.pack("<I", int(value, 0)))


def flip(path, offset):
    off = int(offset)
    if off < 0:
        off += os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x5A]))


def sub(path, pattern, repl, count="0"):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new, n = re.subn(pattern, repl, text, count=int(count), flags=re.S)
    if n == 0:
        sys.exit("craft.py sub: /%s/ matched nothing in %s" % (pattern, path))
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def state_xml(path, pattern, repl):
    with open(path, "r+b") as f:
        head = f.read(FIXED)
        data_len, cookie_off = struct.unpack_from("<I", head, 20)[0], struct.unpack_from("<I", head, 32)[0]
        data = f.read(data_len)
        xml = data[: data.index(b"\0")].decode()
        cookie = b""
        if cookie_off:
            end = data.index(b"\0", cookie_off)
            cookie = data[cookie_off:end]
        new, n = re.subn(pattern, repl, xml, flags=re.S)
        if n == 0:
            sys.exit("craft.py state-xml: /%s/ matched nothing in the XML of %s" % (pattern, path))
        area = new.encode() + b"\0"
        new_cookie_off = 0
        if cookie:
            new_cookie_off = len(area)
            area += cookie + b"\0"
        if len(area) > data_len:
            sys.exit("craft.py state-xml: the new XML does not fit the data area of %s" % path)
        area = area.ljust(data_len, b"\0")
        f.seek(32)
        f.write(struct.pack("<I", new_cookie_off))
        f.seek(FIXED)
        f.write(area)


def state_cut(path, keep):
    with open(path, "r+b") as f:
        data_len = struct.unpack_from("<I", f.read(FIXED), 20)[0]
        f.truncate(FIXED + data_len + int(keep))


def sidecar_state(d):
    st = os.path.join(d, "state.sav")
    size, digest = os.path.getsize(st), sha256(st)
    sub(os.path.join(d, "image.xml"), r'(<state [^>]*?size=")\d+(")', r"\g<1>%d\g<2>" % size)
    sub(os.path.join(d, "image.xml"), r'(<state [^>]*?sha256=")[0-9a-fA-F]+(")', r"\g<1>%s\g<2>" % digest)


def manifest(d, names):
    if not names:
        names = [n for n in EXPORT_ORDER if os.path.exists(os.path.join(d, n))]
    members = []
    for n in names:
        p = os.path.join(d, n)
        m = {"name": n, "size": os.path.getsize(p), "sha256": sha256(p)}
        if n.startswith("disks/"):
            base = os.path.basename(n)
            m.update({"target": base.split(".")[0], "format": base.split(".")[1], "flattened": False})
        members.append(m)
    doc = {"format": "vmkeep-image-export", "version": 1, "image": "good", "domain": "x",
           "uuid": "x", "exported": "2024-01-01T00:00:00Z", "exported_by": "craft.py",
           "host": "elsewhere", "members": members}
    if os.path.exists(os.path.join(d, "manifest.json")):
        with open(os.path.join(d, "manifest.json")) as f:
            old = json.load(f)
        for k in ("image", "domain", "uuid"):
            doc[k] = old.get(k, doc[k])
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(doc, f, indent=2)


def tar(out, d, specs):
    fmt = tarfile.PAX_FORMAT
    if specs and specs[0] == "gnu":
        fmt, specs = tarfile.GNU_FORMAT, specs[1:]
    with tarfile.open(out, "w", format=fmt) as t:
        for spec in specs:
            kind, _, rest = spec.partition(":") if re.match(r"^(symlink|hardlink|chr|blk|fifo|dir|raw):", spec) else ("file", "", spec)
            name, _, arg = rest.partition("=")
            i = tarfile.TarInfo(name)
            i.mode, i.mtime = 0o600, 1700000000
            if kind == "file":
                path = arg or os.path.join(d, name)
                i.size = os.path.getsize(path)
                with open(path, "rb") as f:
                    t.addfile(i, f)
                continue
            if kind == "raw":
                data = arg.encode()
                i.size = len(data)
                import io
                t.addfile(i, io.BytesIO(data))
                continue
            i.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
                      "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE, "dir": tarfile.DIRTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                i.linkname = arg
            if kind in ("chr", "blk"):
                i.devmajor, i.devminor = 1, 3
            t.addfile(i)


def deep(path, n):
    n = int(n)
    with open(path, "w") as f:
        f.write('{"format": "vmkeep-image-export", "version": 1, "members": [], "x": ')
        f.write("[" * n + "]" * n + "}\n")


def xml(path, kind):
    """Hostile domain XML for pin and define."""
    name = os.environ.get("HOSTILE_DOMAIN", "vkt-hostile-x")
    base = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='%s'>hvm</type></os>
  <devices>%s
  </devices>
</domain>
"""
    nic = "\n    <interface type='network'><source network='default'/><mac address='52:54:00:00:00:01'/><model type='virtio'/>%s</interface>"
    secret = os.environ.get("HOSTILE_SECRET", "/etc/shadow")
    if kind == "xxe":
        text = ("<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY xxe SYSTEM 'file://%s'>]>\n" % secret
                + (base % (name, "pc", "")).replace("<memory", "<description>&xxe;</description>\n  <memory"))
    elif kind == "xxe-name":
        text = ("<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY xxe SYSTEM '%s'>]>\n" % secret
                + base % ("&xxe;", "pc", ""))
    elif kind == "xxe-param":
        text = ("<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY %% p SYSTEM 'file://%s'> %%p;]>\n" % secret
                + base % (name, "pc", ""))
    elif kind == "laughs":
        ents = "<!ENTITY l0 'lol'>" + "".join(
            "<!ENTITY l%d '%s'>" % (i, ("&l%d;" % (i - 1)) * 10) for i in range(1, 10))
        text = ("<?xml version='1.0'?>\n<!DOCTYPE domain [%s]>\n" % ents
                + (base % (name, "pc", "")).replace("<memory", "<description>&l9;</description>\n  <memory"))
    elif kind == "laughs-name":
        ents = "<!ENTITY l0 'lol'>" + "".join(
            "<!ENTITY l%d '%s'>" % (i, ("&l%d;" % (i - 1)) * 10) for i in range(1, 10))
        text = "<?xml version='1.0'?>\n<!DOCTYPE domain [%s]>\n" % ents + base % ("&l9;", "pc", "")
    elif kind == "dtd":
        text = ("<?xml version='1.0'?>\n<!DOCTYPE domain SYSTEM 'file://%s'>\n" % secret
                + base % (name, "pc", ""))
    elif kind == "dtd-net":
        text = ("<?xml version='1.0'?>\n<!DOCTYPE domain SYSTEM 'http://127.0.0.1:9/x.dtd'>\n"
                + base % (name, "pc", ""))
    elif kind == "deep":
        text = base % (name, "pc", "<x>" * 10000 + "</x>" * 10000)
    elif kind == "deep-root":
        text = "<domain>" * 10000 + "</domain>" * 10000
    elif kind.startswith("addr-"):
        attr, _, value = kind[5:].partition("=")
        a = {"domain": "0x0000", "bus": "0x00", "slot": "0x03", "function": "0x0"}
        a[attr] = value
        addr = "<address type='pci' domain='%(domain)s' bus='%(bus)s' slot='%(slot)s' function='%(function)s'/>" % a
        text = base % (name, "pc", nic % addr)
    elif kind == "switch":
        # q35: an upstream and a downstream switch port that share an
        # index, behind a root port placed in the NIC range.
        devs = """
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></controller>
    <controller type='pci' index='2' model='pcie-switch-upstream-port'><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></controller>
    <controller type='pci' index='2' model='pcie-switch-downstream-port'><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></controller>
    <disk type='file' device='disk'><source file='/nonexistent/x.qcow2'/><target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></disk>"""
        text = base % (name, "q35", devs)
    elif kind == "switch-loop":
        devs = """
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-switch-upstream-port'><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></controller>
    <controller type='pci' index='2' model='pcie-switch-downstream-port'><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></controller>"""
        text = base % (name, "q35", devs)
    elif kind == "bigindex":
        devs = "\n    <controller type='pci' index='4294967296' model='pcie-root-port'/>"
        text = base % (name, "q35", devs)
    elif kind == "not-domain":
        text = "<network><name>x</name></network>\n"
    elif kind == "empty":
        text = ""
    elif kind == "nul":
        text = "<domain type='qemu'>\0<name>x</name></domain>"
    else:
        sys.exit("craft.py xml: unknown kind " + kind)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def main(argv):
    # several commands in one run, separated by "--" (an interpreter start
    # per step would cost more than the steps)
    if "--" in argv[2:]:
        start = 1
        for i in range(1, len(argv) + 1):
            if i == len(argv) or argv[i] == "--":
                main(["craft.py"] + argv[start:i])
                start = i + 1
        return
    cmd, args = argv[1], argv[2:]
    if cmd == "header":
        header(*args)
    elif cmd == "flip":
        flip(*args)
    elif cmd == "sub":
        sub(*args)
    elif cmd == "state-xml":
        state_xml(*args)
    elif cmd == "state-cut":
        state_cut(*args)
    elif cmd == "sidecar-state":
        sidecar_state(*args)
    elif cmd == "manifest":
        manifest(args[0], args[1:])
    elif cmd == "tar":
        tar(args[0], args[1], args[2:])
    elif cmd == "deep":
        deep(*args)
    elif cmd == "xml":
        xml(*args)
    else:
        sys.exit("craft.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
