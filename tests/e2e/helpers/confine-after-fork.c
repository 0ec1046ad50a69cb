/* PID 1 forks a helper, then confines itself: no capabilities, uid 1000, no_new_privs.
 * The helper keeps what the container was started with and, with "hop", hands itself
 * on to a fresh process every few milliseconds, each generation exiting once the next runs. */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    signal(SIGCHLD, SIG_IGN);
    if (fork() == 0) {
        while (argc > 1 && strcmp(argv[1], "hop") == 0) {
            usleep(2000);
            if (fork() > 0)
                _exit(0);
        }
        for (;;)
            pause();
    }
    for (int capability = 0; capability <= 63; capability++)
        prctl(PR_CAPBSET_DROP, capability, 0, 0, 0);
    close(open("/ready", O_CREAT | O_WRONLY, 0644));
    if (setgroups(0, NULL) || setgid(1000) || setuid(1000))
        return 1;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    for (;;)
        pause();
}
