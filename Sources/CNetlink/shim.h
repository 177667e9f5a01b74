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

// libnl 3.7 parses no bridge device options, so read IFLA_BR_STP_STATE from the same RTM_NEWLINK
// message libnl parses (no second dump). Returns -1 when the message is not a bridge or lacks it.
static inline int cnl_bridge_stp_state(struct nl_msg *msg) {
    struct nlattr *tb[IFLA_MAX + 1];
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_LINKINFO])
        return -1;
    struct nlattr *info[IFLA_INFO_MAX + 1];
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0 || !info[IFLA_INFO_KIND] || !info[IFLA_INFO_DATA])
        return -1;
    if (nla_strcmp(info[IFLA_INFO_KIND], "bridge") != 0)
        return -1;
    struct nlattr *br[IFLA_BR_MAX + 1];
    if (nla_parse_nested(br, IFLA_BR_MAX, info[IFLA_INFO_DATA], NULL) < 0 || !br[IFLA_BR_STP_STATE])
        return -1;
    return (int)nla_get_u32(br[IFLA_BR_STP_STATE]);
}

// Netlink id of the peer's namespace when a link's IFLA_LINK lives in another namespace, else -1.
static inline int cnl_link_netnsid(struct nl_msg *msg) {
    struct nlattr *tb[IFLA_MAX + 1];
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_LINK_NETNSID])
        return -1;
    return (int)nla_get_s32(tb[IFLA_LINK_NETNSID]);
}
