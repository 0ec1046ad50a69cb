/* A main thread that turns to uid 1000 by the raw system call — that thread alone (glibc's
 * setresuid would change every thread) — leaving another thread of the same process root. */
#include <pthread.h>
#include <unistd.h>
#include <sys/syscall.h>

static void *hold(void *unused) { for (;;) pause(); return unused; }

int main(void) {
    pthread_t thread;
    pthread_create(&thread, 0, hold, 0);
    syscall(SYS_setresuid, 1000, 1000, 1000);
    for (;;) pause();
}
