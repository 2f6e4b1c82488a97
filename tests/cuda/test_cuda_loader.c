/* Backend selection (kernels/backend_loader.c). Run with LP_CUDA_PLUGIN naming
 * a file that does not exist (the plugin absent), and with --plugin-present
 * and LP_CUDA_PLUGIN naming the built plugin on a machine without a GPU or
 * driver: both must fall back to the CPU backend, say why, and say it once. */
#include <string.h>

#include "kernels/backend_loader.h"
#include "tests/test_util.h"

int main(int argc, char **argv) {
    bool plugin_present = argc > 1 && !strcmp(argv[1], "--plugin-present");
    lp_backend_selection sel;
    lp_error err = {0};

    CHECK_OK(lp_backend_get("cpu", &sel, &err), &err);
    CHECK(sel.backend == lp_backend_cpu() && !sel.fell_back && sel.device.kind == LP_DEVICE_CPU);
    CHECK_OK(lp_backend_get("cpu-ref", &sel, &err), &err);
    CHECK(sel.backend == lp_backend_cpu_ref() && !sel.fell_back);
    CHECK_OK(lp_backend_get(NULL, &sel, &err), &err);
    CHECK(sel.backend == lp_backend_cpu());

    CHECK_FAILS(lp_backend_get("gpu", &sel, &err), LP_ERR_INVALID_ARG, &err, "unknown device 'gpu'");
    CHECK_FAILS(lp_backend_get("cuda:", &sel, &err), LP_ERR_INVALID_ARG, &err, "cuda:N");
    CHECK_FAILS(lp_backend_get("cuda:x", &sel, &err), LP_ERR_INVALID_ARG, &err, "cuda:N");
    CHECK_FAILS(lp_backend_get("cuda:-1", &sel, &err), LP_ERR_INVALID_ARG, &err, "cuda:N");

    /* no GPU here: "cuda" falls back to the CPU, and says so once */
    CHECK_OK(lp_backend_get("cuda", &sel, &err), &err);
    CHECK(sel.fell_back && sel.first_fallback);
    CHECK(sel.backend == lp_backend_cpu() && sel.device.kind == LP_DEVICE_CPU);
    printf("fallback note: %s\n", sel.note);
    CHECK_MSG(strstr(sel.note, "using the CPU backend") != NULL, "note: %s", sel.note);
    if (plugin_present)
        CHECK_MSG(strstr(sel.note, "CUDA") != NULL && strstr(sel.note, "could not be loaded") == NULL,
                  "the plugin loads; the driver/GPU check fails: %s", sel.note);
    else
        CHECK_MSG(strstr(sel.note, "could not be loaded") != NULL, "plugin absent: %s", sel.note);

    CHECK_OK(lp_backend_get("cuda:1", &sel, &err), &err);
    CHECK(sel.fell_back && !sel.first_fallback); /* the second answer stays quiet */

    char buf[256];
    printf("device: %s\n", lp_backend_cuda_describe(0, buf, sizeof buf));
    return lp_test_finish();
}
