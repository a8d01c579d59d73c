#!/bin/bash
# PID 1 of a real-systemd test instance (see real-systemd.ts): runs inside fresh
# pid+mount+cgroup+net+uts+ipc namespaces, builds a throwaway root, then execs the
# distro's systemd. Everything here is namespace-private; nothing reaches the host:
#   - root = overlay (lower=/, upper=tmpfs): what systemd writes never reaches the host disk;
#   - fresh /proc, read-only /sys (no udev, no host knobs), cgroup2 rooted at our subtree;
#   - minimal /dev (tmpfs + binds of the harmless nodes), private devpts;
#   - private tmpfs /run and /tmp: the host's /tmp is not even visible;
#   - /etc/tmpfiles.d/tmp.conf emptied: no `D /tmp` wipe of the binds below /tmp;
#   - only lo, in a private network namespace.
# Binds (same path inside as outside): $RO_BINDS read-only (the worktree: medic runs
# from it), $RW_BINDS read-write (the instance's share dir). Newline-separated.
# Args: SCRATCH (an empty host dir, only a mount point here) then systemd's arguments.
set -eu
R=$1; shift
mount -t tmpfs -o mode=755 tmpfs "$R"
mkdir -p "$R/upper" "$R/work" "$R/root"; N=$R/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$N"
mount -t proc proc "$N/proc"
mount -t sysfs -o ro sysfs "$N/sys"
mount -t cgroup2 cgroup2 "$N/sys/fs/cgroup"
mount -t tmpfs -o mode=755 tmpfs "$N/dev"
for d in null zero full random urandom tty; do touch "$N/dev/$d"; mount --bind "/dev/$d" "$N/dev/$d"; done
mkdir -p "$N/dev/pts" "$N/dev/shm"; mount -t devpts -o newinstance,ptmxmode=0666 devpts "$N/dev/pts"
ln -s pts/ptmx "$N/dev/ptmx"; mount -t tmpfs tmpfs "$N/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$N/run"; mount -t tmpfs -o mode=1777 tmpfs "$N/tmp"
while IFS= read -r b; do
  [ -n "$b" ] || continue
  mkdir -p "$N$b"; mount --bind "$b" "$N$b"; mount -o remount,bind,ro "$N$b"
done <<< "${RO_BINDS:-}"
while IFS= read -r b; do
  [ -n "$b" ] || continue
  mkdir -p "$N$b"; mount --bind "$b" "$N$b"
done <<< "${RW_BINDS:-}"
mkdir -p "$N/etc/tmpfiles.d"; : > "$N/etc/tmpfiles.d/tmp.conf"
ip link set lo up
cd "$N"; mkdir -p oldroot; pivot_root . oldroot; umount -l /oldroot; rmdir /oldroot
exec env -i container=medic-test PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system "$@"
