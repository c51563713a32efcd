"""CRI tests: containerd's CRI plugin driven as a kubelet would, on the runc and tether handlers."""
