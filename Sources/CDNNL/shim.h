#ifndef RECTUNE_CDNNL_SHIM_H
#define RECTUNE_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>
#endif
