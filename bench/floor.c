/*
 * floor: the machine's own limits, measured next to the Mitogen figures so each
 * figure has its floor beside it. Prints one JSON object on stdout.
 *
 *   pipe_rtt_us_median/p99   1-byte ping-pong between two processes over two pipes
 *   sock_rtt_us_median/p99   the same over one AF_UNIX stream socketpair
 *   pipe_MBps                256 MiB parent <- child through a pipe, 128 KiB writes
 *   sock_MBps                the same through a socketpair
 *   spawn_ms                 fork + execve("/bin/true") + waitpid, median
 *   fan50_round_ms           one byte to each of 50 echoing children, poll() until
 *                            all 50 replies are back (the floor of a Select round);
 *                            fan5_round_ms with --quick, like mitogen-bench
 *   chain3_rtt_us            1-byte round trip through 3 relaying processes, the
 *                            last one echoing (the floor of a 3-hop `via` call)
 *   rss_min_process_kb       VmRSS of an idle forked child of this small C program
 *
 * Usage: floor [--quick]. Compiled with cc -O2 by bench/compare at run time.
 * Every failure is fatal and names the system call and its errno text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (128 * 1024)
#define MAX_FAN 50

static void die(const char *what) {
    fprintf(stderr, "floor: %s failed: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts xs and returns its median (mean of the middle two when n is even). */
static double median(double *xs, int n) {
    qsort(xs, n, sizeof *xs, cmp_double);
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* The p99 index mitogen-bench uses, on a sorted array. */
static double p99(const double *sorted, int n) {
    int i = n * 99 / 100;
    return sorted[i < n - 1 ? i : n - 1];
}

static void read_full(int fd, void *buf, size_t n, const char *what) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { if (r == 0) errno = EPIPE; die(what); }
        p += r;
        n -= (size_t)r;
    }
}

static void write_full(int fd, const void *buf, size_t n, const char *what) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die(what);
        p += w;
        n -= (size_t)w;
    }
}

/* Child side of a ping-pong: echo single bytes from in to out until EOF. */
static void echo_loop(int in, int out) {
    char c;
    for (;;) {
        ssize_t r = read(in, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) _exit(0);
        if (write(out, &c, 1) != 1) _exit(1);
    }
}

static void reap(pid_t pid) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

/* Times `reps` round trips of one byte (after 100 warm-up ones); fills us[] in microseconds. */
static void ping_pong(int wfd, int rfd, int reps, double *us) {
    char c = 'x';
    for (int i = 0; i < 100 + reps; i++) {
        double t = now();
        write_full(wfd, &c, 1, "ping write");
        read_full(rfd, &c, 1, "pong read");
        if (i >= 100) us[i - 100] = (now() - t) * 1e6;
    }
}

static void print_rtt(const char *name, double *us, int reps) {
    double m = median(us, reps);
    printf("  \"%s_rtt_us_median\": %.3f,\n  \"%s_rtt_us_p99\": %.3f,\n", name, m, name, p99(us, reps));
}

static int rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int kb = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = atoi(line + 6);
    fclose(f);
    return kb;
}

static void pipe_rtt(int reps, double *us) {
    int down[2], up[2];
    if (pipe(down) < 0 || pipe(up) < 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) { close(down[1]); close(up[0]); echo_loop(down[0], up[1]); }
    close(down[0]); close(up[1]);
    ping_pong(down[1], up[0], reps, us);
    /* The child is idle, blocked in read: its RSS is the smallest a process of ours gets. */
    printf("  \"rss_min_process_kb\": %d,\n", rss_kb(pid));
    close(down[1]); close(up[0]);
    reap(pid);
    print_rtt("pipe", us, reps);
}

static void sock_rtt(int reps, double *us) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) { close(sv[0]); echo_loop(sv[1], sv[1]); }
    close(sv[1]);
    ping_pong(sv[0], sv[0], reps, us);
    close(sv[0]);
    reap(pid);
    print_rtt("sock", us, reps);
}

/* MB/s of `total` bytes from a child writing 128 KiB at a time into fds[1], read from fds[0]. */
static double stream_once(int fds[2], size_t total) {
    static char buf[CHUNK];
    double t = now();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(fds[0]);
        memset(buf, 0, sizeof buf);
        for (size_t sent = 0; sent < total; sent += CHUNK) write_full(fds[1], buf, CHUNK, "stream write");
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("stream read");
        if (r == 0) break;
        got += (size_t)r;
    }
    double rate = got / (now() - t) / 1e6;
    close(fds[0]);
    reap(pid);
    if (got != total) { errno = EIO; die("stream length check"); }
    return rate;
}

static void throughput(size_t total, int reps) {
    double pipes[8], socks[8];
    for (int i = 0; i < reps; i++) {
        int fds[2];
        if (pipe(fds) < 0) die("pipe");
        pipes[i] = stream_once(fds, total);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) die("socketpair");
        socks[i] = stream_once(fds, total);
    }
    printf("  \"pipe_MBps\": %.1f,\n  \"sock_MBps\": %.1f,\n  \"stream_bytes\": %zu,\n",
           median(pipes, reps), median(socks, reps), total);
}

static void spawn(int reps) {
    double ms[1000];
    char *argv[] = {"/bin/true", NULL};
    extern char **environ;
    for (int i = 0; i < reps; i++) {
        double t = now();
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) { execve(argv[0], argv, environ); _exit(127); }
        int status;
        while (waitpid(pid, &status, 0) < 0) if (errno != EINTR) die("waitpid");
        ms[i] = (now() - t) * 1000;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { errno = ENOEXEC; die("exec /bin/true"); }
    }
    printf("  \"spawn_ms\": %.3f,\n  \"spawn_reps\": %d,\n", median(ms, reps), reps);
}

static void fan_round(int fan, int rounds) {
    int fds[MAX_FAN];
    pid_t pids[MAX_FAN];
    for (int i = 0; i < fan; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
        pids[i] = fork();
        if (pids[i] < 0) die("fork");
        if (pids[i] == 0) {
            for (int j = 0; j < i; j++) close(fds[j]);
            close(sv[0]);
            echo_loop(sv[1], sv[1]);
        }
        close(sv[1]);
        fds[i] = sv[0];
    }
    double ms[1000];
    struct pollfd pfds[MAX_FAN];
    for (int r = 0; r < rounds + 3; r++) {
        double t = now();
        char c = 'x';
        for (int i = 0; i < fan; i++) write_full(fds[i], &c, 1, "fan write");
        int pending = fan;
        for (int i = 0; i < fan; i++) pfds[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        while (pending > 0) {
            if (poll(pfds, (nfds_t)fan, -1) < 0) { if (errno == EINTR) continue; die("poll"); }
            for (int i = 0; i < fan; i++)
                if (pfds[i].fd >= 0 && pfds[i].revents) {
                    read_full(pfds[i].fd, &c, 1, "fan read");
                    pfds[i].fd = -1;
                    pending--;
                }
        }
        if (r >= 3) ms[r - 3] = (now() - t) * 1000;
    }
    for (int i = 0; i < fan; i++) { close(fds[i]); reap(pids[i]); }
    printf("  \"fan%d_round_ms\": %.3f,\n", fan, median(ms, rounds));
}

/* Relay: a byte from up goes down, the answer from down goes back up; returns at EOF or error. */
static void relay_loop(int up, int down) {
    char c;
    for (;;) {
        if (read(up, &c, 1) != 1) return;
        if (write(down, &c, 1) != 1) return;
        if (read(down, &c, 1) != 1) return;
        if (write(up, &c, 1) != 1) return;
    }
}

/* master -> relay -> relay -> echo: 3 processes, 3 socketpair links, like local -> local -> local. */
static void chain3(int reps, double *us) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
    pid_t head = fork();
    if (head < 0) die("fork");
    if (head == 0) {
        close(sv[0]);
        int up = sv[1];
        for (int hop = 0; hop < 2; hop++) {
            int next[2];
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, next) < 0) _exit(1);
            pid_t pid = fork();
            if (pid < 0) _exit(1);
            if (pid == 0) {
                /* The next hop: its upstream is the new link. */
                close(up);
                close(next[0]);
                up = next[1];
                continue;
            }
            close(next[1]);
            relay_loop(up, next[0]);
            close(next[0]);
            reap(pid);
            _exit(0);
        }
        echo_loop(up, up);
    }
    close(sv[1]);
    ping_pong(sv[0], sv[0], reps, us);
    close(sv[0]);
    reap(head);
    double m = median(us, reps);
    printf("  \"chain3_rtt_us\": %.3f,\n  \"chain3_rtt_us_p99\": %.3f,\n", m, p99(us, reps));
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int rtt_reps = quick ? 2000 : 20000;
    double *us = malloc(sizeof(double) * rtt_reps);
    if (!us) die("malloc");
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOFBF, 0);
    printf("{\n  \"quick\": %s,\n", quick ? "true" : "false");
    pipe_rtt(rtt_reps, us);
    sock_rtt(rtt_reps, us);
    throughput(quick ? (16u << 20) : (256u << 20), quick ? 1 : 3);
    spawn(quick ? 20 : 200);
    fan_round(quick ? 5 : MAX_FAN, quick ? 3 : 20);
    chain3(rtt_reps, us);
    printf("  \"rtt_reps\": %d\n}\n", rtt_reps);
    return 0;
}
