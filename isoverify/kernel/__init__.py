"""What the kernel's numbers and programs mean — capability sets, devices, seccomp filters,
cgroup device programs — without any I/O: pure functions both collection and judgement use."""
