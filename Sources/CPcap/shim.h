#include <sys/socket.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
