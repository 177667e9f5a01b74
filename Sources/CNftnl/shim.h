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
#include <libnftnl/gen.h>

// The ipsets `-m set` matches name by index, asked as iptables-save does: IP_SET_OP_GET_BYINDEX on a raw socket
// (SO_IP_SET, read only), after asking the kernel's ipset protocol version. Returns the socket with the version
// in `version`, or -errno (EPERM without CAP_NET_RAW, ENOPROTOOPT without ipset).
static inline int cnft_ipset_socket(unsigned *version) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0)
        return -errno;
    struct ip_set_req_version request = {.op = IP_SET_OP_VERSION};
    socklen_t length = sizeof request;
    if (getsockopt(fd, SOL_IP, SO_IP_SET, &request, &length) < 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    *version = request.version;
    return fd;
}

// The name of the set at `index` in `name` (IPSET_MAXNAMELEN bytes; empty where no set is): 0, or -errno
// (EINVAL past the kernel's last index).
static inline int cnft_ipset_name(int fd, unsigned version, unsigned short index, char *name) {
    struct ip_set_req_get_set request = {.op = IP_SET_OP_GET_BYINDEX, .version = version};
    request.set.index = index;
    socklen_t length = sizeof request;
    if (getsockopt(fd, SOL_IP, SO_IP_SET, &request, &length) < 0)
        return -errno;
    memcpy(name, request.set.name, IPSET_MAXNAMELEN);
    name[IPSET_MAXNAMELEN - 1] = 0;
    return 0;
}
