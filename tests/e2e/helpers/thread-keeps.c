/* A worker thread started first keeps what the container was started with (here CAP_SYS_ADMIN,
 * no seccomp filter, no_new_privs unset) and mounts a filesystem every two seconds; then the
 * main thread alone confines itself: no capabilities, no_new_privs, a filter refusing every
 * call a default profile refuses. Credentials, no_new_privs and filters are each thread's own
 * (raw system calls: glibc's wrappers would spread some of them to every thread). */
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *worker(void *unused) {
    (void)unused;
    prctl(PR_SET_NAME, "keeper", 0, 0, 0);
    mkdir("/tmp/m", 0755);
    for (;;) {
        if (mount("none", "/tmp/m", "tmpfs", 0, "size=4k") == 0)
            umount("/tmp/m");
        sleep(2);
    }
    return NULL;
}

#define REFUSE(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1)

int main(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL))
        return 1;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2] = {{0, 0, 0}, {0, 0, 0}};
    for (int capability = 0; capability <= 63; capability++)
        prctl(PR_CAPBSET_DROP, capability, 0, 0, 0);
    if (syscall(SYS_capset, &header, none))
        return 1;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter strict[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
        REFUSE(SYS_mount), REFUSE(SYS_umount2), REFUSE(SYS_unshare), REFUSE(SYS_setns), REFUSE(SYS_pivot_root),
        REFUSE(SYS_clone), REFUSE(SYS_clone3), REFUSE(SYS_fsopen), REFUSE(SYS_fsmount), REFUSE(SYS_move_mount),
        REFUSE(SYS_open_tree), REFUSE(SYS_lookup_dcookie), REFUSE(SYS_quotactl), REFUSE(SYS_keyctl),
        REFUSE(SYS_add_key), REFUSE(SYS_request_key), REFUSE(SYS_bpf), REFUSE(SYS_perf_event_open),
        REFUSE(SYS_userfaultfd), REFUSE(SYS_init_module), REFUSE(SYS_finit_module), REFUSE(SYS_delete_module),
        REFUSE(SYS_kexec_load), REFUSE(SYS_kexec_file_load), REFUSE(SYS_open_by_handle_at), REFUSE(SYS_reboot),
        REFUSE(SYS_swapon), REFUSE(SYS_swapoff), REFUSE(SYS_acct), REFUSE(SYS_settimeofday),
        REFUSE(SYS_clock_settime), REFUSE(SYS_iopl), REFUSE(SYS_ioperm), REFUSE(SYS_syslog),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof(strict) / sizeof(strict[0]), strict};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program))  /* no TSYNC: this thread alone */
        return 1;
    close(open("/ready", O_CREAT | O_WRONLY, 0644));
    for (;;)
        pause();
}
