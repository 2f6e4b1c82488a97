#include "tools/lepton/cli_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "kernels/backend_loader.h"

bool lp_cli_parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

static void lines_clear(lp_cli_lines *b) {
    for (size_t i = 0; i < b->n; i++) free(b->lines[i]);
    b->n = 0;
}

size_t lp_cli_read_lines(lp_cli_lines *b, size_t max, bool *oom) {
    *oom = false;
    lines_clear(b);
    if (b->cap < max) {
        char **lines = realloc(b->lines, max * sizeof *lines);
        if (lines) b->lines = lines;
        size_t *lens = realloc(b->lens, max * sizeof *lens);
        if (lens) b->lens = lens;
        if (!lines || !lens) {
            *oom = true;
            return 0;
        }
        b->cap = max;
    }
    while (b->n < max) {
        char *line = NULL;
        size_t cap = 0;
        errno = 0;
        ssize_t len = getline(&line, &cap, stdin);
        if (len < 0) {
            free(line);
            if (errno == ENOMEM) *oom = true;
            break;
        }
        if (len > 0 && line[len - 1] == '\n') len--;
        if (len > 0 && line[len - 1] == '\r') len--;
        line[len] = 0;
        b->lines[b->n] = line;
        b->lens[b->n] = (size_t)len;
        b->n++;
    }
    return b->n;
}

void lp_cli_lines_free(lp_cli_lines *b) {
    lines_clear(b);
    free(b->lines);
    free(b->lens);
    b->lines = NULL;
    b->lens = NULL;
    b->cap = 0;
}

bool lp_cli_device(const char *cmd, const char *spec, const lp_backend **out) {
    lp_backend_selection sel;
    lp_error err = {0};
    *out = lp_backend_cpu();
    if (lp_backend_get(spec, &sel, &err) != LP_OK) {
        fprintf(stderr, "lepton %s: --device %s: %s\n", cmd, spec ? spec : "", err.msg);
        return false;
    }
    if (sel.fell_back) {
        if (sel.first_fallback) fprintf(stderr, "lepton %s: --device %s: %s\n", cmd, spec, sel.note);
        return true;
    }
    *out = sel.backend;
    return true;
}
