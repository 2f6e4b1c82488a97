/* TEMPORARY placeholder until pretrained/safetensors.c lands; delete it then. */
#include "pretrained/safetensors.h"
#pragma GCC diagnostic ignored "-Wunused-parameter"
lp_status lp_safetensors_open(const char *path, lp_safetensors **out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
