// libpcap's API, loaded at run time (loader.c): Debian and Ubuntu name the library libpcap.so.0.8, Enterprise
// Linux libpcap.so.1, and the static archive would drag in D-Bus. Build-time headers come from libpcap-dev.
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

/// Loads libpcap under either soname, once. Returns 0, or -1 with the reason in `error`.
int kvmtopo_pcap_load(char *error, size_t size);
