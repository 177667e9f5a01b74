// perf_event_open(2) on a tracepoint, its ring buffer, and the private mount namespace tracefs may be mounted in:
// glibc wraps none of perf's calls, and Swift imports neither variadic syscall(2) nor the attr's bit fields.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/perf_event.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// Opens tracepoint `id` on `cpu` for every process, disabled, sampling raw records with CLOCK_MONOTONIC times and
/// waking a reader once `watermark` bytes wait. (The kernel refuses CLOCK_REALTIME here, as not safe in an NMI:
/// the reader moves times onto the capture's clock.)
static inline int kvmtopo_tracepoint_open(uint64_t id, int cpu, uint32_t watermark) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof attr;
    attr.config = id;
    attr.sample_period = 1;
    attr.sample_type = PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
    attr.disabled = 1;
    attr.watermark = 1;
    attr.wakeup_watermark = watermark;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static inline int kvmtopo_perf_set_filter(int fd, const char *filter) {
    return ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter);
}

static inline int kvmtopo_perf_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); }

static inline uint64_t kvmtopo_ring_head(const struct perf_event_mmap_page *page) {
    return __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
}

static inline void kvmtopo_ring_release(struct perf_event_mmap_page *page, uint64_t tail) {
    __atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

/// Gives the calling thread a mount namespace of its own whose mounts do not propagate back to the host's: what
/// mounting tracefs there (when the host has none) leaves the host without.
static inline int kvmtopo_private_mounts(void) {
    if (unshare(CLONE_NEWNS) != 0) return -1;
    return mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static inline int kvmtopo_mount_tracefs(const char *path) { return mount("tracefs", path, "tracefs", 0, NULL); }
