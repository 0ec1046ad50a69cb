/* A thread with a working directory of its own (unshare(CLONE_FS)) stands in the host's /,
 * bound at /host, while the main thread unmounts /host: the thread keeps the host at hand
 * though no mount of the container's namespace shows it any more. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

static volatile int standing;

static void *holder(void *unused) {
    (void)unused;
    if (unshare(CLONE_FS) || chdir("/host"))
        _exit(1);
    standing = 1;
    for (;;)
        pause();
    return NULL;
}

int main(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, holder, NULL))
        return 1;
    while (!standing)
        usleep(1000);
    if (umount2("/host", MNT_DETACH))
        return 1;
    close(open("/ready", O_CREAT | O_WRONLY, 0644));
    for (;;)
        pause();
}
