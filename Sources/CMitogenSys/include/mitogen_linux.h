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
#include <sys/socket.h>
#include <sys/uio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

// Declared here too: another header may have pulled in <pthread.h> before
// _GNU_SOURCE was defined, which hides the GNU extension.
extern int pthread_setname_np(pthread_t thread, const char *name);
extern pid_t fork(void);

static inline int mitogen_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
static inline int mitogen_set_process_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
static inline int mitogen_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0);
}

// fork(2) for the fork server only: Swift marks fork unavailable, rightly for
// threaded processes. The fork server is single-threaded when it calls this.
static inline pid_t mitogen_fork(void) { return fork(); }

// Sends `len` bytes plus up to 4 descriptors over a unix socket (SCM_RIGHTS).
// Returns bytes sent or -1 with errno set.
static inline ssize_t mitogen_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds) {
    char control[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = { (void *)data, len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(control, 0, sizeof control);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        if (nfds > 4) { errno = EINVAL; return -1; }
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}

// Receives up to `cap` bytes and up to 4 descriptors (close-on-exec). Sets
// *nfds to how many arrived. Returns bytes received (0 at EOF) or -1.
static inline ssize_t mitogen_recv_fds(int sock, void *data, size_t cap, int *fds, int *nfds) {
    char control[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = { data, cap };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    *nfds = 0;
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            if (count > 4) count = 4;
            memcpy(fds, CMSG_DATA(c), sizeof(int) * count);
            *nfds = count;
        }
    }
    return n;
}
#endif
