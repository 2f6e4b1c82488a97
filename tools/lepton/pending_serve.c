/* TEMPORARY placeholder so the tree links while `lepton serve` is being
 * written; deleted by the commit that adds tools/lepton/serve.c. */
#include <stdio.h>

#include "tools/lepton/commands.h"

int lp_cmd_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lepton serve: not available in this build yet\n");
    return 1;
}
