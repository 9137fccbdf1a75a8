#ifndef IRQTRACE_CZSTD_SHIM_H
#define IRQTRACE_CZSTD_SHIM_H
#include <zstd.h>
#endif
