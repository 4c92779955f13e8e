#ifndef COSCI_CSANDBOX_H
#define COSCI_CSANDBOX_H

#include <sys/types.h>

/// The step of `cosci_spawn_sandboxed` that failed (with the errno value beside it).
enum cosci_sandbox_stage {
    COSCI_SANDBOX_PIPE = 1,
    COSCI_SANDBOX_FORK,
    COSCI_SANDBOX_OPEN_SOURCE,
    COSCI_SANDBOX_MOUNT_NAMESPACE,
    COSCI_SANDBOX_STAGE_MOUNT,
    COSCI_SANDBOX_USER_NAMESPACE,
    COSCI_SANDBOX_ID_MAP,
};

/// Starts `path` (bubblewrap) with `argv` and `envp` as root (uid and gid 0) of a new user namespace whose ids
/// [0, count) are the host's [base, base + count): whatever capabilities the program holds there reach only
/// what that namespace owns, and the host's root-owned files are, to it, owned by nobody.
///
/// Before that, in a private mount namespace of the child, a tmpfs is mounted at `staging` (an existing
/// directory) and each of the `source_count` directories `sources[i]` is bind-mounted at `staging/i`, so the
/// program can reach them even when a parent directory (say `/root`) is closed to others. At most 32 sources.
///
/// Requires the caller to be root (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID). Standard input is /dev/null;
/// standard output and error go to `output_fd`. On success stores the child's pid in `*pid` and returns 0;
/// on failure returns an errno value, stores the failed step in `*stage` and leaves no process behind. The
/// caller reaps the child with waitpid. The child calls only async-signal-safe functions between fork and
/// exec (Swift cannot fork safely; this is why it is C).
int cosci_spawn_sandboxed(const char *path, char *const argv[], char *const envp[], int output_fd,
                          const char *const sources[], int source_count, const char *staging,
                          unsigned base, unsigned count, pid_t *pid, int *stage);

#endif
