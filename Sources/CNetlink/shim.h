// glibc's socket headers must come before any <linux/...> header, or a clean build fails with
// "'sockaddr_in6' has different definitions in different modules".
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/rtnl.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/link/veth.h>
#include <linux/if_link.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

// What libnl 3.7 does not parse from an RTM_NEWLINK message, read from the same message (no second dump):
// a bridge's STP state (IFLA_BR_STP_STATE), a bridge port's state, priority and cost (IFLA_INFO_SLAVE_DATA,
// as `ip -d link` shows them) and the namespace of IFLA_LINK. -1 marks what the message does not carry.
struct cnl_link_extras {
    int stp_state;
    int link_netnsid;
    int port_state;
    int port_priority;
    long long port_cost;
};

static inline void cnl_link_extras_read(struct nl_msg *msg, struct cnl_link_extras *out) {
    out->stp_state = out->link_netnsid = out->port_state = out->port_priority = -1;
    out->port_cost = -1;
    struct nlattr *tb[IFLA_MAX + 1];
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
        return;
    if (tb[IFLA_LINK_NETNSID])
        out->link_netnsid = (int)nla_get_s32(tb[IFLA_LINK_NETNSID]);
    struct nlattr *info[IFLA_INFO_MAX + 1];
    if (!tb[IFLA_LINKINFO] || nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0)
        return;
    if (info[IFLA_INFO_KIND] && info[IFLA_INFO_DATA] && nla_strcmp(info[IFLA_INFO_KIND], "bridge") == 0) {
        struct nlattr *br[IFLA_BR_MAX + 1];
        if (nla_parse_nested(br, IFLA_BR_MAX, info[IFLA_INFO_DATA], NULL) == 0 && br[IFLA_BR_STP_STATE])
            out->stp_state = (int)nla_get_u32(br[IFLA_BR_STP_STATE]);
    }
    if (info[IFLA_INFO_SLAVE_KIND] && info[IFLA_INFO_SLAVE_DATA] && nla_strcmp(info[IFLA_INFO_SLAVE_KIND], "bridge") == 0) {
        struct nlattr *port[IFLA_BRPORT_MAX + 1];
        if (nla_parse_nested(port, IFLA_BRPORT_MAX, info[IFLA_INFO_SLAVE_DATA], NULL) < 0)
            return;
        if (port[IFLA_BRPORT_STATE]) out->port_state = nla_get_u8(port[IFLA_BRPORT_STATE]);
        if (port[IFLA_BRPORT_PRIORITY]) out->port_priority = nla_get_u16(port[IFLA_BRPORT_PRIORITY]);
        if (port[IFLA_BRPORT_COST]) out->port_cost = nla_get_u32(port[IFLA_BRPORT_COST]);
    }
}
