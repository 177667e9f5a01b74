// glibc's socket headers first (see CNetlink/shim.h).
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>

// The ipset a `-m set` match names by index, as iptables-save finds it: IP_SET_OP_GET_BYINDEX on a raw socket
// (SO_IP_SET, read only), after asking the kernel's ipset protocol version. Returns 0 with
// one IPSET_MAXNAMELEN slot per index in `names` (empty for an index with no set); or -errno (EPERM without CAP_NET_RAW).
static inline int cnft_ipset_names(const unsigned short *indexes, int count, char *names) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0)
        return -errno;
    struct ip_set_req_version version = {.op = IP_SET_OP_VERSION};
    socklen_t length = sizeof version;
    if (getsockopt(fd, SOL_IP, SO_IP_SET, &version, &length) < 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    for (int i = 0; i < count; i++) {
        struct ip_set_req_get_set request = {.op = IP_SET_OP_GET_BYINDEX, .version = version.version};
        request.set.index = indexes[i];
        length = sizeof request;
        char *name = names + i * IPSET_MAXNAMELEN;
        name[0] = 0;
        if (getsockopt(fd, SOL_IP, SO_IP_SET, &request, &length) == 0)
            memcpy(name, request.set.name, IPSET_MAXNAMELEN);
        name[IPSET_MAXNAMELEN - 1] = 0;
    }
    close(fd);
    return 0;
}
