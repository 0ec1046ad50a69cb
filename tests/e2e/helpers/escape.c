/* What a container's binary tries when the verifier runs it: say who it runs as, then
 * mount the host's root block device and leave a marker file on it. Installed setuid
 * root in trap images, so that it also shows whether a setuid binary gains anything.
 *   escape MAJOR MINOR FSTYPE MARKER
 * Prints "escape:" lines (its Uid, CapEff, Seccomp, NoNewPrivs, LSM label and cgroup)
 * and "escaped" when the marker reached the host's disk. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void show(const char *path, const char *prefixes[])
{
    char line[4096];
    FILE *file = fopen(path, "r");
    if (!file)
        return;
    while (fgets(line, sizeof line, file))
        for (const char **prefix = prefixes; *prefix; prefix++)
            if (strncmp(line, *prefix, strlen(*prefix)) == 0)
                printf("escape: %s", line);
    fclose(file);
}

/* The LSM label it runs with ("docker-default (enforce)"), empty where the kernel runs none. */
static void show_label(void)
{
    char label[4096] = "";
    FILE *file = fopen("/proc/self/attr/current", "r");
    if (file) {
        if (!fgets(label, sizeof label, file))
            label[0] = 0;
        fclose(file);
    }
    label[strcspn(label, "\n")] = 0;
    printf("escape: Label:\t%s\n", label);
}

int main(int argc, char **argv)
{
    static const char *status[] = {"Uid:", "CapEff:", "Seccomp:", "NoNewPrivs:", NULL};
    static const char *cgroup[] = {"", NULL};
    const char *disk = "/tmp/.isoverify-disk", *mnt = "/tmp/.isoverify-mnt";
    char marker[4096];

    if (argc != 5)
        return 2;
    show("/proc/self/status", status);
    show_label();
    show("/proc/self/cgroup", cgroup);
    unlink(disk);
    mknod(disk, S_IFBLK | 0600, makedev(atoi(argv[1]), atoi(argv[2])));
    mkdir(mnt, 0700);
    if (mount(disk, mnt, argv[3], 0, NULL) == 0) {
        snprintf(marker, sizeof marker, "%s/%s", mnt, argv[4]);
        int fd = open(marker, O_CREAT | O_WRONLY, 0600);
        if (fd >= 0) {
            puts("escaped");
            close(fd);
        }
        umount(mnt);
    }
    fflush(stdout);
    return 0;
}
