#!/bin/sh
# A container made by hand, as in the lesson's sequel: run by `unshare` in new
# namespaces, it mounts an overlay of a busybox root, its own /proc, /sys and
# /dev, pivot_root's into it and becomes a long sleep (PID 1 of its namespace).
#   handmade-container.sh LOWER_DIR WORK_DIR
set -e
lower=$1 work=$2
mkdir -p "$work/upper" "$work/work" "$work/merged"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$work/merged"
cd "$work/merged"
mount -t proc proc proc
mount -t sysfs -o ro sysfs sys
mount -t tmpfs -o mode=755 tmpfs dev
for device in null zero random urandom; do
    touch "dev/$device"
    mount --bind "/dev/$device" "dev/$device"
done
hostname handmade
mkdir -p oldroot
pivot_root . oldroot
umount -l /oldroot
rmdir /oldroot
exec sleep 100000
