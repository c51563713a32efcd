"""Benchmarks: Tether side by side with runc, conmon and containerd (see README.md)."""
