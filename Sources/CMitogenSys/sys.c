// fork/exec, PTY opening and pidfds for MitogenLib's Sys layer. Between fork()
// and execve() only async-signal-safe calls run: no malloc, no locks, no Swift.
#define _GNU_SOURCE
#include "CMitogenSys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/// Serialises spawns, so two threads never fork with each other's signal mask games interleaved.
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;

/// Reports (stage, errno) to the parent and exits. Child side only.
__attribute__((noreturn)) static void child_fail(int report_fd, int stage, int err) {
    int report[2] = {stage, err};
    const char *p = (const char *)report;
    size_t left = sizeof report;
    while (left > 0) {
        ssize_t n = write(report_fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
    }
    _exit(127);
}

/// Closes every descriptor from `low` up, except `keep`. Child side only.
static void close_from(int low, int keep, int max_fd) {
#ifdef SYS_close_range
    int ok = 1;
    if (keep > low && syscall(SYS_close_range, (unsigned)low, (unsigned)(keep - 1), 0u) != 0) ok = 0;
    if (ok && syscall(SYS_close_range, (unsigned)(keep + 1), ~0u, 0u) != 0) ok = 0;
    if (ok) return;
#endif
    for (int fd = low; fd < max_fd; fd++) {
        if (fd != keep) close(fd);
    }
}

/// The setns method's steps (see mitogen_spawn_request): another process's
/// root and namespaces, then its user. Child side only.
static void enter_target(const mitogen_spawn_request *r, int report_fd) {
    if (r->root_fd >= 0) {
        if (fchdir(r->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
            child_fail(report_fd, MITOGEN_SPAWN_STAGE_NAMESPACE, errno);
    }
    for (int i = 0; i < r->ns_count; i++) {
        if (setns(r->ns_fds[i], 0) < 0) child_fail(report_fd, MITOGEN_SPAWN_STAGE_NAMESPACE, errno);
    }
    if (r->uid != (uid_t)-1) {
        if (setgroups((size_t)r->group_count, r->groups) < 0 || setgid(r->gid) < 0 || setuid(r->uid) < 0)
            child_fail(report_fd, MITOGEN_SPAWN_STAGE_USER, errno);
    }
    if (r->home != NULL) (void)chdir(r->home);
}

/// Everything between fork and exec. Never returns.
__attribute__((noreturn)) static void child_main(const mitogen_spawn_request *r, int report_fd) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &dfl, NULL);  // EINVAL for the libc-reserved signals: harmless
    }

    if (report_fd < 3) {
        int moved = fcntl(report_fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) _exit(127);  // nowhere to report to
        report_fd = moved;
    }
    enter_target(r, report_fd);
    if (r->new_session && setsid() < 0) child_fail(report_fd, MITOGEN_SPAWN_STAGE_SETSID, errno);
    if (r->ctty_fd >= 0 && ioctl(r->ctty_fd, TIOCSCTTY, 0) < 0) child_fail(report_fd, MITOGEN_SPAWN_STAGE_CTTY, errno);

    // Move every source above 2 first, so no dup2 below clobbers a source
    // that is itself 0, 1 or 2; the copies are closed by close_from.
    int src[3] = {r->stdin_fd, r->stdout_fd, r->stderr_fd};
    for (int i = 0; i < 3; i++) {
        if (src[i] < 3) {
            int moved = fcntl(src[i], F_DUPFD, 3);
            if (moved < 0) child_fail(report_fd, MITOGEN_SPAWN_STAGE_DUP, errno);
            src[i] = moved;
        }
    }
    for (int i = 0; i < 3; i++) {
        while (dup2(src[i], i) < 0) {
            if (errno != EINTR) child_fail(report_fd, MITOGEN_SPAWN_STAGE_DUP, errno);
        }
    }
    close_from(3, report_fd, r->max_fd);

    if (r->cwd != NULL && chdir(r->cwd) < 0) child_fail(report_fd, MITOGEN_SPAWN_STAGE_CHDIR, errno);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(r->path, r->argv, r->envp);
    child_fail(report_fd, MITOGEN_SPAWN_STAGE_EXEC, errno);
}

int mitogen_spawn(const mitogen_spawn_request *request, pid_t *pid_out, int *stage) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *stage = MITOGEN_SPAWN_STAGE_PIPE;
        return errno;
    }

    sigset_t all, old;
    sigfillset(&all);
    pthread_mutex_lock(&fork_lock);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        child_main(request, report[1]);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_unlock(&fork_lock);
    close(report[1]);

    if (pid < 0) {
        close(report[0]);
        *stage = MITOGEN_SPAWN_STAGE_FORK;
        return fork_errno;
    }

    int failure[2] = {0, 0};
    char *p = (char *)failure;
    size_t got = 0;
    while (got < sizeof failure) {
        ssize_t n = read(report[0], p + got, sizeof failure - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(report[0]);

    if (got == 0) {  // EOF at exec: the child runs the new program
        *pid_out = pid;
        *stage = MITOGEN_SPAWN_OK;
        return 0;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}  // ECHILD if someone else reaped: fine
    if (got < sizeof failure) {  // the child died mid-report: say so as an exec failure
        *stage = MITOGEN_SPAWN_STAGE_EXEC;
        return EIO;
    }
    *stage = failure[0];
    return failure[1];
}

int mitogen_open_pty(int *master, int *slave, char *slave_name, size_t name_len) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return errno;
    if (grantpt(m) != 0 || unlockpt(m) != 0) {
        int err = errno;
        close(m);
        return err;
    }
    int err = ptsname_r(m, slave_name, name_len);
    if (err != 0) {
        close(m);
        return err;
    }
    int s = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        err = errno;
        close(m);
        return err;
    }
    *master = m;
    *slave = s;
    return 0;
}

int mitogen_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int mitogen_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

void mitogen_strerror(int err, char *buffer, size_t len) {
    if (len == 0) return;
    const char *text = strerror_r(err, buffer, len);  // GNU: may return a static string
    if (text != buffer) {
        strncpy(buffer, text, len - 1);
        buffer[len - 1] = '\0';
    }
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MITOGEN_HAS_TSAN 1
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif
#endif

void mitogen_tsan_acquire(void *addr) {
#ifdef MITOGEN_HAS_TSAN
    __tsan_acquire(addr);
#else
    (void)addr;
#endif
}

void mitogen_tsan_release(void *addr) {
#ifdef MITOGEN_HAS_TSAN
    __tsan_release(addr);
#else
    (void)addr;
#endif
}
