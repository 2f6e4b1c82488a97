/* TEMPORARY placeholder so the tree links while `lepton translate` is being
 * written; deleted by the commit that adds tools/lepton/translate.c. */
#include <stdio.h>

#include "tools/lepton/commands.h"

int lp_cmd_translate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lepton translate: not available in this build yet\n");
    return 1;
}
