// Each libpcap function kvmtopo calls, as a trampoline to the same function in the library found at run time.
// Pcap.swift calls kvmtopo_pcap_load() before any of them; calling one unloaded is a programming error.
#include "CPcap.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define PCAP_FUNCTIONS(X)                                                                                             \
    X(pcap_t *, pcap_create, (const char *source, char *errbuf), (source, errbuf))                                   \
    X(int, pcap_set_snaplen, (pcap_t *p, int snaplen), (p, snaplen))                                                 \
    X(int, pcap_set_promisc, (pcap_t *p, int promisc), (p, promisc))                                                 \
    X(int, pcap_set_timeout, (pcap_t *p, int timeout), (p, timeout))                                                 \
    X(int, pcap_set_buffer_size, (pcap_t *p, int size), (p, size))                                                   \
    X(int, pcap_set_tstamp_precision, (pcap_t *p, int precision), (p, precision))                                    \
    X(int, pcap_activate, (pcap_t *p), (p))                                                                          \
    X(int, pcap_set_datalink, (pcap_t *p, int dlt), (p, dlt))                                                        \
    X(int, pcap_datalink, (pcap_t *p), (p))                                                                          \
    X(int, pcap_setnonblock, (pcap_t *p, int nonblock, char *errbuf), (p, nonblock, errbuf))                         \
    X(int, pcap_get_selectable_fd, (pcap_t *p), (p))                                                                 \
    X(int, pcap_dispatch, (pcap_t *p, int count, pcap_handler callback, u_char *user), (p, count, callback, user))   \
    X(int, pcap_stats, (pcap_t *p, struct pcap_stat *stats), (p, stats))                                             \
    X(void, pcap_close, (pcap_t *p), (p))                                                                            \
    X(char *, pcap_geterr, (pcap_t *p), (p))                                                                         \
    X(pcap_t *, pcap_open_offline_with_tstamp_precision, (const char *path, u_int precision, char *errbuf),          \
      (path, precision, errbuf))                                                                                      \
    X(int, pcap_next_ex, (pcap_t *p, struct pcap_pkthdr **header, const u_char **data), (p, header, data))           \
    X(pcap_t *, pcap_open_dead, (int linktype, int snaplen), (linktype, snaplen))                                    \
    X(pcap_t *, pcap_open_dead_with_tstamp_precision, (int linktype, int snaplen, u_int precision),                  \
      (linktype, snaplen, precision))                                                                                 \
    X(pcap_dumper_t *, pcap_dump_open, (pcap_t *p, const char *path), (p, path))                                     \
    X(void, pcap_dump, (u_char *user, const struct pcap_pkthdr *header, const u_char *data), (user, header, data))   \
    X(void, pcap_dump_close, (pcap_dumper_t *dumper), (dumper))                                                      \
    X(int, pcap_compile, (pcap_t *p, struct bpf_program *program, const char *text, int optimize, bpf_u_int32 mask), \
      (p, program, text, optimize, mask))                                                                             \
    X(int, pcap_setfilter, (pcap_t *p, struct bpf_program *program), (p, program))                                   \
    X(void, pcap_freecode, (struct bpf_program *program), (program))                                                 \
    X(int, pcap_offline_filter, (const struct bpf_program *program, const struct pcap_pkthdr *header,               \
                                 const u_char *data), (program, header, data))

#define POINTER(type, name, parameters, arguments) type(*name) parameters;
static struct {
    PCAP_FUNCTIONS(POINTER)
} loaded;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512];

static void load(void) {
    static const char *const sonames[] = {"libpcap.so.1", "libpcap.so.0.8"};
    void *library = NULL;
    for (size_t i = 0; i < sizeof sonames / sizeof *sonames && !library; i++) {
        library = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!library) {
        snprintf(failure, sizeof failure,
                 "libpcap is not installed (neither libpcap.so.1 nor libpcap.so.0.8 loads: %s); "
                 "install libpcap0.8 (Debian, Ubuntu) or libpcap (Enterprise Linux)", dlerror());
        return;
    }
#define RESOLVE(type, name, parameters, arguments)                                                                    \
    if (!(loaded.name = (type(*) parameters)dlsym(library, #name))) {                                                 \
        snprintf(failure, sizeof failure, "the installed libpcap has no %s (libpcap 1.5 or newer is needed)", #name); \
        return;                                                                                                       \
    }
    PCAP_FUNCTIONS(RESOLVE)
}

int kvmtopo_pcap_load(char *error, size_t size) {
    pthread_once(&once, load);
    if (failure[0]) {
        snprintf(error, size, "%s", failure);
        return -1;
    }
    return 0;
}

#define TRAMPOLINE(type, name, parameters, arguments)                                                                 \
    type name parameters {                                                                                            \
        if (!loaded.name) {                                                                                           \
            fprintf(stderr, "kvmtopo: %s called before libpcap was loaded\n", #name);                                 \
            abort();                                                                                                  \
        }                                                                                                             \
        return loaded.name arguments;                                                                                 \
    }
PCAP_FUNCTIONS(TRAMPOLINE)
