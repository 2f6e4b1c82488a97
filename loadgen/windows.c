#include "loadgen/windows.h"

#include <math.h>

double lp_lg_window_throughput(const lp_lg_window *w) {
    return w->seconds > 0 ? (double)w->completed / w->seconds : 0;
}

double lp_lg_window_mean_latency(const lp_lg_window *w) {
    return w->completed ? w->latency_sum / (double)w->completed : 0;
}

bool lp_lg_values_agree(const double *x, size_t n, double tolerance) {
    if (!n) return false;
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i] - mean) > tolerance * mean) return false;
    return true;
}

bool lp_lg_windows_stable(const lp_lg_window *w, size_t n, double tolerance) {
    if (n < LP_LG_STABLE_WINDOWS) return false;
    double tput[LP_LG_STABLE_WINDOWS], lat[LP_LG_STABLE_WINDOWS];
    for (size_t i = 0; i < LP_LG_STABLE_WINDOWS; i++) {
        const lp_lg_window *x = &w[n - LP_LG_STABLE_WINDOWS + i];
        if (!x->completed) return false;
        tput[i] = lp_lg_window_throughput(x);
        lat[i] = lp_lg_window_mean_latency(x);
    }
    return lp_lg_values_agree(tput, LP_LG_STABLE_WINDOWS, tolerance) &&
           lp_lg_values_agree(lat, LP_LG_STABLE_WINDOWS, tolerance);
}
