"""What to do with a process whose shim is gone without an exit status (one pure function).

The table is docs/durability.md's "What the manager decides". The facts are
gathered elsewhere (the scan, the fd store, shim.contract.pidexit); deciding
here keeps every case testable without a process (as scan.classify).
"""

import collections

ADOPT = "adopt"  # start an adopting shim: output kept (it runs, or exited unseen)
ADOPT_OUTPUT_LOST = "adopt-output-lost"  # it runs, but nobody held its pipes meanwhile
RECORD_EXIT = "record-exit"  # it exited and its status is known: write it
UNKNOWN = "unknown"  # it exited unseen: say so, invent nothing
# The adopting shim did not start (a full disk, for one): the rescue is tried again.
ADOPT_FAILED = "adopting shim failed"

# process: "alive" | "zombie" | "gone"; exit_known: a status was read (zombie or pidfd);
# fds_stored: the fd store holds its stdio; watched: the exit was seen as it happened.
Facts = collections.namedtuple("Facts", "process exit_known fds_stored watched")
Decision = collections.namedtuple("Decision", "action exited_at_observed reason")


def decide(facts):
    """Return the Decision for a process directory whose shim died before exitStatus."""
    if facts.process == "alive" or facts.fds_stored:
        # Also a process that exited while no shim lived: its output may still
        # wait in the stored pipes, and the adopting shim drains it, reads the
        # exit from the pidfd and writes it.
        if facts.fds_stored:
            return Decision(ADOPT, facts.process != "alive" and not facts.watched, None)
        return Decision(ADOPT_OUTPUT_LOST, False,
                        "its shim died while the manager was down: output written since "
                        "then was lost (nobody held its pipes)")
    if facts.exit_known:
        # A zombie's status, or the pidfd's: the code is true; the time is the
        # moment it was seen unless the exit was watched as it happened.
        return Decision(RECORD_EXIT, not facts.watched, None)
    return Decision(UNKNOWN, False,
                    "exited while neither its shim nor the manager watched: "
                    "exit code not seen")
