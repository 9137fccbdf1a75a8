#ifndef IRQTRACE_CPCAP_SHIM_H
#define IRQTRACE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
