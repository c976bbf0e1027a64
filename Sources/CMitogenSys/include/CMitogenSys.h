// The few system calls Swift must not make itself (STYLE.md habit 4): the
// fork-then-exec of a child process, and the C macros Swift cannot import.
#ifndef CMITOGENSYS_H
#define CMITOGENSYS_H

#include <stddef.h>
#include <sys/types.h>

/// The step of `mitogen_spawn` that failed, reported beside the errno.
typedef enum {
    MITOGEN_SPAWN_OK = 0,
    /// pipe2() for the exec-status pipe failed in the parent.
    MITOGEN_SPAWN_STAGE_PIPE = 1,
    /// fork() failed in the parent (EAGAIN is worth a retry).
    MITOGEN_SPAWN_STAGE_FORK = 2,
    /// setsid() failed in the child.
    MITOGEN_SPAWN_STAGE_SETSID = 3,
    /// ioctl(TIOCSCTTY) on the controlling terminal failed in the child.
    MITOGEN_SPAWN_STAGE_CTTY = 4,
    /// Moving the stdio descriptors into place (fcntl/dup2) failed in the child.
    MITOGEN_SPAWN_STAGE_DUP = 5,
    /// chdir() to the working directory failed in the child.
    MITOGEN_SPAWN_STAGE_CHDIR = 6,
    /// execve() failed in the child.
    MITOGEN_SPAWN_STAGE_EXEC = 7,
    /// fchdir/chroot into the target's root, or setns(2), failed in the child.
    MITOGEN_SPAWN_STAGE_NAMESPACE = 8,
    /// setgroups/setgid/setuid to the target user failed in the child.
    MITOGEN_SPAWN_STAGE_USER = 9,
} mitogen_spawn_stage;

/// What to start. Every pointer stays owned by the caller; nothing is
/// allocated between fork and exec.
typedef struct {
    /// Absolute or relative path handed to execve (no PATH search here).
    const char *path;
    /// NULL-terminated argument vector.
    char *const *argv;
    /// NULL-terminated environment.
    char *const *envp;
    /// Descriptors that become the child's 0, 1 and 2. They may be equal to
    /// each other or already be 0, 1 or 2.
    int stdin_fd, stdout_fd, stderr_fd;
    /// Non-zero: call setsid() in the child.
    int new_session;
    /// A terminal made the controlling terminal (TIOCSCTTY) after setsid,
    /// or -1.
    int ctty_fd;
    /// Directory to chdir() to before execve, or NULL.
    const char *cwd;
    /// Highest descriptor + 1 to close when close_range() is unavailable.
    int max_fd;
    /// Entering another process's namespaces (the setns method), done first
    /// in the child, in Mitogen's order: fchdir(root_fd), chroot("."),
    /// chdir("/"), then setns(2) on each of `ns_fds`. root_fd -1: none.
    int root_fd;
    const int *ns_fds;
    int ns_count;
    /// Then, when `uid` is not (uid_t)-1: setgroups(groups), setgid(gid),
    /// setuid(uid); and chdir(home) when `home` is set and reachable
    /// (failure ignored, as login does).
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    const char *home;
} mitogen_spawn_request;

/// Forks and execs `request` with all signals blocked around fork() under a
/// process-wide fork lock. In the child: signal dispositions reset to
/// SIG_DFL and the mask cleared, setsid/TIOCSCTTY if asked, stdio wired, every
/// other descriptor closed, chdir, execve. A failure in the child is written
/// as (stage, errno) to a close-on-exec pipe; the parent reaps that child and
/// reports it.
///
/// Returns 0 and stores the pid, or returns the errno and stores the failing
/// stage in `*stage`.
int mitogen_spawn(const mitogen_spawn_request *request, pid_t *pid, int *stage);

/// Opens a pseudo-terminal pair: posix_openpt, grantpt, unlockpt, ptsname_r,
/// and opens the slave. Both descriptors are O_CLOEXEC and O_NOCTTY.
/// Returns 0, or an errno with nothing left open.
int mitogen_open_pty(int *master, int *slave, char *slave_name, size_t name_len);

/// pipe2(fds, O_CLOEXEC), which Glibc's Swift module does not export.
/// Returns 0, or -1 with errno set.
int mitogen_pipe_cloexec(int fds[2]);

/// pidfd_open(pid, 0): a descriptor that polls readable when `pid` exits
/// (Linux 5.3+). Returns it close-on-exec, or -1 with errno set (ENOSYS on
/// older kernels).
int mitogen_pidfd_open(pid_t pid);

/// Tell ThreadSanitizer that the lock identified by `addr` is acquired or
/// released (for locks it cannot see, such as Swift's futex Mutex). No-ops
/// unless this file is built with -fsanitize=thread.
void mitogen_tsan_acquire(void *addr);
void mitogen_tsan_release(void *addr);

/// The GNU strerror_r text of `err` copied into `buffer`.
void mitogen_strerror(int err, char *buffer, size_t len);

/// The wait(2) status macros, which Swift cannot import.
static inline int mitogen_wifexited(int status) { return (status & 0x7f) == 0; }
static inline int mitogen_wexitstatus(int status) { return (status >> 8) & 0xff; }
static inline int mitogen_wifsignaled(int status) { return ((signed char)((status & 0x7f) + 1) >> 1) > 0; }
static inline int mitogen_wtermsig(int status) { return status & 0x7f; }

#endif
