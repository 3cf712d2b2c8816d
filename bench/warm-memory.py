#!/usr/bin/env python3
"""Warm host memory before a timed command: map MiB megabytes with
transparent huge pages, touch every page, release it.

On a host that is itself a VM whose free memory goes back to its own host
(virtio-balloon free page reporting), the first touch of memory costs
~2.5 ms per MiB; the benchmarks call this right before every timed command,
the same for each tool, so that this cost does not land in one tool's time
and not in another's.

Usage: bench/warm-memory.py MiB
"""
import mmap
import sys

n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if hasattr(mmap, "MADV_HUGEPAGE"):
    m.madvise(mmap.MADV_HUGEPAGE)
for off in range(0, n, 4096):
    m[off] = 1
m.close()
