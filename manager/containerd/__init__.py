"""containerd's shim v2 front end: `containerd-shim-tether-v1` over Tether's core."""
