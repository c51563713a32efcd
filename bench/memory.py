"""Shim memory: mean PSS and USS per shim with N `sleep` containers of one kind at once."""

from bench import peers


def start_tether(ws, n):
    """Start N tether containers; return the shim pids."""
    pids = []
    for i in range(n):
        cid = ws.cid(f"m{i}")
        peers.run_quiet([*ws.tether.cli, "run", "-d", cid, "--bundle", ws.bundles["sleep"]])
        pids.append(ws.tether.client().state(cid)["shim_pid"])
    return pids


def stop_tether(ws, n):
    """Delete the N tether containers."""
    for i in range(n):
        ws.tether.client().delete(ws.cid(f"m{i}"), force=True)


def start_conmon(ws, n):
    """Start N conmon containers; return the conmon pids."""
    pids = []
    for i in range(n):
        pid, _container_pid = ws.conmon.create(ws.cid(f"m{i}"), ws.bundles["sleep"])
        ws.conmon.start(ws.cid(f"m{i}"))
        pids.append(pid)
    return pids


def stop_conmon(ws, n):
    """Delete the N conmon containers."""
    for i in range(n):
        ws.conmon.remove(ws.cid(f"m{i}"))


def start_ctr(ws, n):
    """Start N containerd containers; return the shim pids."""
    for i in range(n):
        peers.run_quiet(ws.containerd.run_argv(ws.cid(f"m{i}"), ws.rootfs, ["/bin/sleep", "100000"], "-d"))
    return ws.containerd.shim_pids()


def stop_ctr(ws, n):
    """Delete the N containerd containers."""
    for i in range(n):
        ws.containerd.remove(ws.cid(f"m{i}"))


KINDS = {"tether": (start_tether, stop_tether), "conmon": (start_conmon, stop_conmon),
         "containerd-shim": (start_ctr, stop_ctr)}


def run(ws, results, n):
    """Measure each kind with N containers alive."""
    for name, (start, stop) in KINDS.items():
        try:
            pids = start(ws, n)
            samples = [peers.memory_kb(pid) for pid in pids]
            daemon_kb = peers.status_kb(ws.containerd.proc.pid, "VmRSS")
        finally:
            stop(ws, n)
        results.add("memory", f"shim PSS (N={n})", name, "kB", [s[0] for s in samples])
        results.add("memory", f"shim USS (N={n})", name, "kB", [s[1] for s in samples])
        if name == "containerd-shim":
            results.add("memory", f"containerd RSS (N={n})", "containerd", "kB",
                        daemon_kb)
