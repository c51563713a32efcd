"""The manager<->shim contract, stdlib only: the one place both sides import.

layout (every on-disk name, atomic writes, the exit-status record), argv (the
shim's command line), startup (its start-up result line), controlline (the
control FIFO's lines), logformat (output.log's records and rotated names),
frames (the attach stream), boot (the `python -I -S` command line),
zygotemsg (the zygote's arguments and requests), cjson.
The manager imports nothing else from shim.

VERSION is written by the shim into each process directory (layout.CONTRACT);
a manager leaves a directory of a newer version alone (reported unknown), and
a directory without the file is version 0, the release before this number.
"""

VERSION = 1
