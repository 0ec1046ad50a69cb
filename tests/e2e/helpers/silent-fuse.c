/* A FUSE filesystem at /dev/silent that answers the kernel's INIT and nothing after it:
 * whoever asks it anything waits in the kernel until the filesystem goes away. */
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

static char request[1 << 20];

int main(void) {
    int fuse = open("/dev/fuse", O_RDWR);
    char options[128];
    if (fuse < 0 || mkdir("/dev/silent", 0755) != 0) {
        perror("silent-fuse");
        return 1;
    }
    snprintf(options, sizeof options, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fuse);
    if (mount("silent", "/dev/silent", "fuse", 0, options) != 0) {
        perror("silent-fuse: mount");
        return 1;
    }
    for (;;) {
        ssize_t got = read(fuse, request, sizeof request);
        struct fuse_in_header *in = (struct fuse_in_header *)request;
        if (got >= (ssize_t)sizeof *in && in->opcode == FUSE_INIT) {
            struct { struct fuse_out_header header; struct fuse_init_out init; } reply;
            memset(&reply, 0, sizeof reply);
            reply.header.len = sizeof reply;
            reply.header.unique = in->unique;
            reply.init.major = FUSE_KERNEL_VERSION;
            reply.init.minor = FUSE_KERNEL_MINOR_VERSION;
            reply.init.max_write = 65536;
            if (write(fuse, &reply, sizeof reply) != (ssize_t)sizeof reply)
                return 1;
            close(creat("/ready", 0644));
        }
    }
}
