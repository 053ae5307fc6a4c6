#ifndef RECTUNE_CNUMA_SHIM_H
#define RECTUNE_CNUMA_SHIM_H
#include <numa.h>
#endif
