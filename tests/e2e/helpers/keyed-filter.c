/* Installs a seccomp filter of one kind, then touches /ready and sleeps (as PID 1).
 *
 * On x86-64 each kind singles out the calls a default profile refuses (by their numbers;
 * clone with CLONE_NEWUSER among its flags; clone3 gets ENOSYS, as Docker answers, so that
 * libc falls back to clone); every kind but arch refuses every x32 and i386 call. What it
 * does with those calls:
 *   strict  refuses them whatever their words: honest
 *   ip      refuses them only when the instruction pointer is 0 (no real call is made from there)
 *   arg     refuses them only when their sixth argument is 0 (a raw syscall passes any)
 *   arch    refuses them, but lets x32's numbers (it forgets X32_SYSCALL_BIT) and i386's (int 0x80) through
 *   trace   hands them to a tracer (SECCOMP_RET_TRACE)
 *   notify  hands them to a supervisor (SECCOMP_RET_USER_NOTIF), which lets them go on
 *   log     allows and logs them (SECCOMP_RET_LOG)
 * It sets no_new_privs first, as an unprivileged filter needs. A child then tries
 * unshare(CLONE_NEWUSER) under the filter and says how it went: where the kind lets it
 * through, the call the filter seems to refuse succeeds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARCH_X86_64 0xC000003E
#define X32_BIT 0x40000000
#define WORD(field) offsetof(struct seccomp_data, field)
#define HIGH(field) (offsetof(struct seccomp_data, field) + 4)

/* x86-64 numbers of the calls a default profile refuses, but clone (judged by its flags) and clone3
 * (ENOSYS, as Docker answers, so that libc falls back to clone: threads and fork go on) */
static const unsigned GUARDED[] = {165, 166, 272, 308, 155, 430, 432, 429, 428, 212, 179, 250, 248, 249, 321, 298,
                                   323, 175, 313, 176, 246, 320, 304, 169, 167, 168, 163, 164, 227, 172, 173, 103};
#define COUNT (sizeof GUARDED / sizeof *GUARDED)

static struct sock_filter steps[128];
static unsigned length;

static void emit(unsigned short code, unsigned char jt, unsigned char jf, unsigned k) {
    steps[length++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

/* What the kind does with a guarded call, A = nr: refuse it, or refuse it only when a word is 0, or hand it on. */
static int decide(const char *kind) {
    if (strcmp(kind, "strict") == 0 || strcmp(kind, "arch") == 0) {
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM);
    } else if (strcmp(kind, "ip") == 0 || strcmp(kind, "arg") == 0) {
        int ip = kind[0] == 'i';
        emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ip ? WORD(instruction_pointer) : WORD(args[5]));
        emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0);
        emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ip ? HIGH(instruction_pointer) : HIGH(args[5]));
        emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    } else if (strcmp(kind, "trace") == 0) {
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRACE);
    } else if (strcmp(kind, "notify") == 0) {
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_USER_NOTIF);
    } else if (strcmp(kind, "log") == 0) {
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_LOG);
    } else {
        return -1;
    }
    return 0;
}

static int build(const char *kind) {
    unsigned i;
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, WORD(arch));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, ARCH_X86_64);
    /* "arch" lets every other ABI through; the others refuse them */
    emit(BPF_RET | BPF_K, 0, 0, strcmp(kind, "arch") == 0 ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | EPERM);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, WORD(nr));
    if (strcmp(kind, "arch") != 0) {  /* "arch" forgets x32's bit: its numbers are never matched */
        emit(BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_BIT);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM);
    }
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 435);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS);
    for (i = 0; i < COUNT; i++)  /* a guarded call jumps to the decision, past the clone test below */
        emit(BPF_JMP | BPF_JEQ | BPF_K, COUNT - i + 3, 0, GUARDED[i]);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 56);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, WORD(args[0]));
    emit(BPF_JMP | BPF_JSET | BPF_K, 1, 0, CLONE_NEWUSER);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    return decide(kind);
}

/* The supervisor of "notify": lets every call it is handed go on. */
static void *supervise(void *listener) {
    int fd = *(int *)listener;
    for (;;) {
        struct seccomp_notif request;
        struct seccomp_notif_resp response;
        memset(&request, 0, sizeof request);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &request) < 0)
            continue;
        memset(&response, 0, sizeof response);
        response.id = request.id;
        response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &response);
    }
    return NULL;
}

/* int 0x80: an i386 call from this 64-bit process */
static long i386_call(long nr, long first) {
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(nr), "b"(first) : "memory");
    return result;
}

static void attempt(const char *kind) {
    long result;
    const char *how;
    if (strcmp(kind, "arch") == 0) {
        result = i386_call(310, CLONE_NEWUSER);  /* unshare on i386 */
        how = "unshare(CLONE_NEWUSER) through int 0x80";
        if (result < 0)
            errno = -result, result = -1;
    } else {
        result = syscall(SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0, 1);  /* a sixth argument of 1 */
        how = "unshare(CLONE_NEWUSER)";
    }
    if (result == 0)
        printf("%s under the %s filter: succeeded\n", how, kind);
    else
        printf("%s under the %s filter: %s\n", how, kind, strerror(errno));
    fflush(stdout);
}

int main(int argc, char **argv) {
    static int listener = -1;
    pthread_t supervisor;
    struct sock_fprog program;
    if (argc != 2 || build(argv[1]) < 0) {
        fprintf(stderr, "usage: keyed-filter strict|ip|arg|arch|trace|notify|log\n");
        return 2;
    }
    program.len = length;
    program.filter = steps;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
        perror("no_new_privs");
        return 1;
    }
    if (strcmp(argv[1], "notify") == 0) {
        listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
        /* the supervisor is a thread started after the filter: filtered too, it makes no guarded call */
        if (listener < 0 || pthread_create(&supervisor, NULL, supervise, &listener)) {
            perror("seccomp listener");
            return 1;
        }
    } else if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program)) {
        perror("seccomp");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        attempt(argv[1]);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    close(open("/ready", O_CREAT | O_WRONLY, 0644));
    for (;;)
        pause();
}
