// Linux headers the Glibc Swift module does not bring in (epoll, eventfd,
// prctl, thread names), exposed to Swift through CMitogenSys.
#ifndef MITOGEN_LINUX_H
#define MITOGEN_LINUX_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

// Declared here too: another header may have pulled in <pthread.h> before
// _GNU_SOURCE was defined, which hides the GNU extension.
extern int pthread_setname_np(pthread_t thread, const char *name);

static inline int mitogen_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
static inline int mitogen_set_process_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
static inline int mitogen_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0);
}
#endif
