/* TEMPORARY placeholder so the tree links while `lepton bench` is being
 * written; deleted by the commit that adds tools/lepton/bench.c. */
#include <stdio.h>

#include "tools/lepton/commands.h"

int lp_cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lepton bench: not available in this build yet\n");
    return 1;
}
