"""Measure the fd store's memory per container: python tests/durability/measure_store.py N."""
import os, sys, signal, time, tracemalloc, resource
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from manager.core import fdstore
from shim.contract import layout
N = int(sys.argv[1])
def slab():
    d = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":"); d[k] = int(v.split()[0])
    return d["Slab"]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"): return int(line.split()[1])
kids = []
for i in range(N):
    pid = os.fork()
    if pid == 0:
        signal.pause(); os._exit(0)
    kids.append(pid)
pipes = [os.pipe() for _ in range(N)]
def asleep(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0] == b"S"
deadline = time.monotonic() + 10  # every child in signal.pause() before measuring
while not all(map(asleep, kids)) and time.monotonic() < deadline:
    os.sched_yield()
store = fdstore.FdStore()
tracemalloc.start()
s0, r0 = slab(), rss()
t0 = time.perf_counter()
for i, pid in enumerate(kids):
    key = (f"c{i}", "init")
    from shim.contract import pidexit
    fd = pidexit.open_pidfd(pid, layout.proc_starttime(pid))
    store.put(key, "process", fd)
    store.put(key, "stdout", os.dup(pipes[i][0]))
    store.put(key, "stderr", os.dup(pipes[i][0]))
t1 = time.perf_counter()
s1, r1 = slab(), rss()
cur, peak = tracemalloc.get_traced_memory()
print(f"N={N} fds={len(store)} slab +{(s1-s0)*1024/N:.0f} B/container, rss +{(r1-r0)*1024/N:.0f} B/container, "
      f"python heap {cur/N:.0f} B/container, {1e6*(t1-t0)/N:.1f} us/container")
store.close()
for pid in kids: os.kill(pid, 9)
for pid in kids: os.waitpid(pid, 0)
