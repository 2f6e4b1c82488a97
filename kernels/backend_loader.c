/* Device spec -> backend, with the CUDA plugin opened at run time; see
 * backend_loader.h for the fallback rules. */
#include "kernels/backend_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLUGIN_NAME "liblepton_cuda.so"

/* The plugin is opened once per process; the result (or why not) is kept. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void *g_handle;
static lp_cuda_plugin_open_fn g_open;
static lp_cuda_plugin_describe_fn g_describe;
static char g_load_error[LP_ERROR_MSG_MAX];
static atomic_bool g_fallback_reported;

static void *try_open(const char *path, char *why, size_t why_size) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        /* keep the most telling reason: a plugin that exists but cannot load
         * (missing libcudart, say) beats "no such file" from later candidates */
        if (e && (!why[0] || !strstr(e, "No such file")))
            snprintf(why, why_size, "%.400s", e);
    }
    return h;
}

static void load_plugin(void) {
    char why[LP_ERROR_MSG_MAX] = "";
    const char *env = getenv("LP_CUDA_PLUGIN");
    void *h = NULL;
    if (env && env[0]) {
        h = try_open(env, why, sizeof why);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = '\0';
                char path[PATH_MAX + 64];
                snprintf(path, sizeof path, "%s/" PLUGIN_NAME, exe);
                h = try_open(path, why, sizeof why);
                if (!h) {
                    snprintf(path, sizeof path, "%s/../lib/" PLUGIN_NAME, exe);
                    h = try_open(path, why, sizeof why);
                }
                if (!h) {
                    snprintf(path, sizeof path, "%s/lib/" PLUGIN_NAME, exe);
                    h = try_open(path, why, sizeof why);
                }
            }
        }
        if (!h) h = try_open(PLUGIN_NAME, why, sizeof why);
    }
    if (!h) {
        snprintf(g_load_error, sizeof g_load_error,
                 "the CUDA backend plugin (" PLUGIN_NAME ") could not be loaded: %.400s",
                 why[0] ? why : "not found");
        return;
    }
    lp_cuda_plugin_abi_fn abi = (lp_cuda_plugin_abi_fn)dlsym(h, "lp_cuda_plugin_abi");
    g_open = (lp_cuda_plugin_open_fn)dlsym(h, "lp_cuda_plugin_open");
    g_describe = (lp_cuda_plugin_describe_fn)dlsym(h, "lp_cuda_plugin_describe");
    if (!abi || !g_open || abi() != LP_CUDA_PLUGIN_ABI) {
        snprintf(g_load_error, sizeof g_load_error,
                 "the CUDA backend plugin was built for another version of lepton "
                 "(interface %d, want %d): rebuild it with this lepton",
                 abi ? abi() : -1, LP_CUDA_PLUGIN_ABI);
        g_open = NULL;
        dlclose(h);
        return;
    }
    g_handle = h;
}

static void select_cpu(lp_backend_selection *out, const lp_backend *b) {
    out->backend = b;
    out->device.kind = LP_DEVICE_CPU;
    out->device.index = 0;
}

static void fall_back(lp_backend_selection *out, const char *why) {
    select_cpu(out, lp_backend_cpu());
    out->fell_back = true;
    out->first_fallback = !atomic_exchange(&g_fallback_reported, true);
    snprintf(out->note, sizeof out->note, "%.440s; using the CPU backend", why);
}

/* "cuda" -> 0, "cuda:N" -> N; -1 when malformed */
static int parse_cuda_index(const char *spec) {
    if (!strcmp(spec, "cuda")) return 0;
    if (strncmp(spec, "cuda:", 5) || !spec[5]) return -1;
    char *end = NULL;
    long v = strtol(spec + 5, &end, 10);
    if (*end || v < 0 || v > 1024) return -1;
    return (int)v;
}

lp_status lp_backend_get(const char *spec, lp_backend_selection *out, lp_error *err) {
    if (!out) return lp_fail(err, LP_ERR_INVALID_ARG, "lp_backend_get: no output given");
    memset(out, 0, sizeof *out);
    if (!spec || !strcmp(spec, "cpu")) {
        select_cpu(out, lp_backend_cpu());
        return LP_OK;
    }
    if (!strcmp(spec, "cpu-ref")) {
        select_cpu(out, lp_backend_cpu_ref());
        return LP_OK;
    }
    int index = parse_cuda_index(spec);
    if (index < 0)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "unknown device '%s': use cpu, cpu-ref, cuda or cuda:N", spec);
    pthread_once(&g_once, load_plugin);
    if (!g_open) {
        fall_back(out, g_load_error);
        return LP_OK;
    }
    lp_error why;
    lp_error_clear(&why);
    const lp_backend *b = NULL;
    lp_status st = g_open(index, &b, &why);
    if (st == LP_ERR_INVALID_ARG) return lp_fail(err, st, "%s", why.msg); /* cuda:N too large */
    if (st != LP_OK || !b) {
        fall_back(out, why.msg[0] ? why.msg : "the CUDA backend did not start");
        return LP_OK;
    }
    out->backend = b;
    out->device.kind = LP_DEVICE_CUDA;
    out->device.index = index;
    return LP_OK;
}

const char *lp_backend_cuda_describe(int device, char *buf, size_t size) {
    pthread_once(&g_once, load_plugin);
    lp_error err;
    lp_error_clear(&err);
    if (!g_describe) {
        snprintf(buf, size, "%s", g_load_error[0] ? g_load_error : "no CUDA plugin");
    } else if (g_describe(device, buf, size, &err) != LP_OK) {
        snprintf(buf, size, "%s", err.msg);
    }
    return buf;
}
