"""Shims forked by a zygote the serving process keeps itself, without the spawner helper.

The manager starts its shims through a helper process (manager/spawn/helper.py)
that owns the zygote, so that the big manager never forks. The serving process
is small, and the helper cost 6.1 MB PSS, about 300 kB per container at N=20
(docs/containerd.md): here the same zygote (helper.Zygotes) is kept in this
process. The object has the helper's interface for runtime.Spawn: runtime
commands are refused with SpawnerGone, so runc runs directly (vfork+exec on
the loop), as it does whenever the helper is gone.
"""

import asyncio
import os

from manager.spawn import helper, helper_client, launcher


class LocalZygote:
    """runtime.Spawn's helper: start_shim through our own zygote."""

    def __init__(self):
        self.zygotes = helper.Zygotes()

    async def start_shim(self, options, timeout):
        """Have the zygote fork a shim with OPTIONS; return (None, its start-up line)."""
        zygote = self.zygotes.get()
        read_fd = zygote.fork_shim(options) if zygote is not None else None
        if read_fd is None:
            raise helper_client.SpawnerGone("no zygote")  # the launcher starts it directly
        try:
            line = await asyncio.wait_for(launcher.read_line(os.dup(read_fd), timeout), timeout)
        except asyncio.TimeoutError as err:
            raise OSError(f"start shim: no start-up result within {timeout}s") from err
        finally:
            os.close(read_fd)
        return None, line

    async def run(self, argv, timeout):
        """Runtime commands run directly (runtime.Runc falls back on SpawnerGone)."""
        raise helper_client.SpawnerGone("runtime commands run directly")

    async def close(self):
        """End the zygote."""
        current = self.zygotes.current
        if current is not None:
            await asyncio.get_running_loop().run_in_executor(None, current.close)
