/* A process parked in vfork(): its child never execs or exits, so the parent never returns
 * from the call and cannot stop for a tracer. */
#include <unistd.h>

int main(void) {
    if (vfork() == 0)
        for (;;)
            pause();
    return 0;
}
