/* How long OpenMP threads spin before they sleep.
 *
 * oneDNN's GEMMs run on GNU OpenMP, whose threads spin 300,000 times at every
 * barrier before sleeping. On cores shared with other work (a server beside
 * other processes, a CI machine, two server workers), the spinning thread
 * holds the core its descheduled team-mate needs, and every GEMM stalls:
 * `lepton embed --threads 2` on 50 sentences took 21.6 s at load 7 on the
 * 2-core machine, against 0.82 s with a 20,000 spin (measured 2026-11-23).
 * libgomp reads GOMP_SPINCOUNT once, when it loads, before main; so lepton
 * sets a short spin and runs itself again, once, unless the user has chosen
 * (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). */
#include <stdlib.h>
#include <unistd.h>

#include "tools/lepton/commands.h"

#define LP_GOMP_SPINCOUNT "20000"

void lp_cli_shorten_openmp_spin(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", LP_GOMP_SPINCOUNT, 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* No /proc: run on with libgomp's default spin. */
}
