#define _GNU_SOURCE
#include "CSandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { max_sources = 32, max_path = 4096 };

/// Writes all of `text` to the file at `path`; 0 or an errno value.
static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t length = strlen(text);
    ssize_t n = write(fd, text, length);
    int err = n == (ssize_t)length ? 0 : (n < 0 ? errno : EIO);
    close(fd);
    return err;
}

/// Reads exactly `length` bytes, retrying on EINTR; 0 when read, -1 otherwise.
static int read_exactly(int fd, char *bytes, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, bytes + done, length - done);
        if (n > 0) { done += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        return -1;
    }
    return 0;
}

/// `prefix` + "/" + decimal `number` into `out` (async-signal-safe); 0, or -1 when it does not fit.
static int numbered_path(char *out, size_t size, const char *prefix, int number) {
    size_t length = strlen(prefix);
    char digits[16];
    int n = 0;
    do { digits[n++] = (char)('0' + number % 10); number /= 10; } while (number > 0);
    if (length + 1 + (size_t)n + 1 > size) return -1;
    memcpy(out, prefix, length);
    out[length++] = '/';
    while (n > 0) out[length++] = digits[--n];
    out[length] = 0;
    return 0;
}

/// In the child: reports (stage, errno) to the parent and exits.
static void child_fail(int report_fd, int stage, int err) {
    char message[2] = {(char)stage, (char)err};
    (void)!write(report_fd, message, 2);
    _exit(126);
}

int cosci_spawn_sandboxed(const char *path, char *const argv[], char *const envp[], int output_fd,
                          const char *const sources[], int source_count, const char *staging,
                          unsigned base, unsigned count, pid_t *pid, int *stage) {
    *stage = COSCI_SANDBOX_PIPE;
    if (source_count < 0 || source_count > max_sources) return EINVAL;
    // ready: the child has unshared, or says which step failed; go: the parent has written the id maps.
    int ready[2], go[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return errno;
    if (pipe2(go, O_CLOEXEC) != 0) {
        int err = errno;
        close(ready[0]);
        close(ready[1]);
        return err;
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t child = null_fd < 0 ? -1 : fork();
    if (child < 0) {
        int err = errno;
        close(ready[0]); close(ready[1]); close(go[0]); close(go[1]);
        if (null_fd >= 0) close(null_fd);
        *stage = COSCI_SANDBOX_FORK;
        return err;
    }
    if (child == 0) {
        // Only async-signal-safe calls from here to exec.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            child_fail(ready[1], COSCI_SANDBOX_MOUNT_NAMESPACE, errno);
        // Opened in the new namespace (a bind mount takes its source from the caller's own namespace), before
        // the tmpfs can hide a source that lies under `staging`.
        int fds[max_sources];
        for (int i = 0; i < source_count; i++) {
            fds[i] = open(sources[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fds[i] < 0) child_fail(ready[1], COSCI_SANDBOX_OPEN_SOURCE, errno);
        }
        if (mount("cosci-staging", staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
            child_fail(ready[1], COSCI_SANDBOX_STAGE_MOUNT, errno);
        char from[64], to[max_path];
        for (int i = 0; i < source_count; i++) {
            if (numbered_path(from, sizeof from, "/proc/self/fd", fds[i]) != 0 ||
                numbered_path(to, sizeof to, staging, i) != 0)
                child_fail(ready[1], COSCI_SANDBOX_STAGE_MOUNT, ENAMETOOLONG);
            if (mkdir(to, 0755) != 0 || mount(from, to, NULL, MS_BIND | MS_REC, NULL) != 0)
                child_fail(ready[1], COSCI_SANDBOX_STAGE_MOUNT, errno);
            close(fds[i]);
        }
        if (unshare(CLONE_NEWUSER) != 0) child_fail(ready[1], COSCI_SANDBOX_USER_NAMESPACE, errno);
        char ok[2] = {0, 0};
        (void)!write(ready[1], ok, 2);
        char byte;
        if (read_exactly(go[0], &byte, 1) != 0 || byte != 0) _exit(126);
        if (setgroups(0, NULL) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) _exit(126);
        if (dup2(null_fd, 0) < 0 || dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0) _exit(126);
        execve(path, argv, envp);
        _exit(127);
    }
    close(ready[1]);
    close(go[0]);
    close(null_fd);
    char report[2] = {0, 0};
    int err = 0;
    if (read_exactly(ready[0], report, 2) != 0) {
        *stage = COSCI_SANDBOX_FORK;
        err = ECHILD;
    } else if (report[0] != 0) {
        *stage = report[0];
        err = (unsigned char)report[1];
    }
    if (err == 0) {
        char file[64], map[64];
        snprintf(map, sizeof map, "0 %u %u\n", base, count);
        snprintf(file, sizeof file, "/proc/%d/uid_map", (int)child);
        err = write_file(file, map);
        if (err == 0) {
            snprintf(file, sizeof file, "/proc/%d/gid_map", (int)child);
            err = write_file(file, map);
        }
        if (err != 0) *stage = COSCI_SANDBOX_ID_MAP;
    }
    char go_byte = err == 0 ? 0 : 1;
    (void)!write(go[1], &go_byte, 1);
    close(ready[0]);
    close(go[1]);
    if (err != 0) {
        int ignored;
        while (waitpid(child, &ignored, 0) < 0 && errno == EINTR) {}
        return err;
    }
    *pid = child;
    return 0;
}
