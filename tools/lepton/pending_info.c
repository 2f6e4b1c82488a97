/* TEMPORARY placeholder until tools/lepton/info.c lands; delete it then. */
#include <stdio.h>
#include "tools/lepton/commands.h"
int lp_cmd_info(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "lepton info: pending\n"); return 1; }
