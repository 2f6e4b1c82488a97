#include "loadgen/inputs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loadgen/schedule.h"

#define MAX_INPUTS 1000000

static lp_status add_item(lp_lg_inputs *in, char *item, size_t len, size_t *cap,
                          lp_error *err) {
    if (in->n == MAX_INPUTS) {
        free(item);
        return lp_fail(err, LP_ERR_INVALID_ARG, "more than %d inputs; use a smaller file",
                       MAX_INPUTS);
    }
    if (in->n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        char **items = realloc(in->items, c * sizeof *items);
        if (items) in->items = items;
        size_t *lens = realloc(in->lens, c * sizeof *lens);
        if (lens) in->lens = lens;
        if (!items || !lens) {
            free(item);
            return lp_fail(err, LP_ERR_NOMEM, "no memory for %zu inputs", c);
        }
        *cap = c;
    }
    in->items[in->n] = item;
    in->lens[in->n] = len;
    in->n++;
    return LP_OK;
}

static lp_status read_file(const char *path, unsigned char **data, size_t *n, lp_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        unsigned char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf) return lp_fail(err, LP_ERR_NOMEM, "no memory to read '%s'", path);
    if (bad) {
        free(buf);
        return lp_fail(err, LP_ERR_IO, "cannot read '%s'", path);
    }
    *data = buf;
    *n = len;
    return LP_OK;
}

lp_status lp_lg_base64(const unsigned char *data, size_t n, char **out, size_t *out_len,
                       lp_error *err) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *s = malloc(len + 1);
    if (!s) return lp_fail(err, LP_ERR_NOMEM, "no memory to base64-encode %zu bytes", n);
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        s[j++] = T[v >> 18];
        s[j++] = T[(v >> 12) & 63];
        s[j++] = i + 1 < n ? T[(v >> 6) & 63] : '=';
        s[j++] = i + 2 < n ? T[v & 63] : '=';
    }
    s[j] = '\0';
    *out = s;
    *out_len = j;
    return LP_OK;
}

/* An image line names a file, relative to the list's own folder. */
static lp_status load_image(lp_lg_inputs *in, const char *list_path, const char *line,
                            size_t *cap, lp_error *err) {
    char path[4096];
    const char *slash = strrchr(list_path, '/');
    if (line[0] == '/' || !slash) snprintf(path, sizeof path, "%s", line);
    else snprintf(path, sizeof path, "%.*s/%s", (int)(slash - list_path), list_path, line);
    unsigned char *data;
    size_t n;
    lp_status st = read_file(path, &data, &n, err);
    if (st) return st;
    char *b64;
    size_t blen;
    st = lp_lg_base64(data, n, &b64, &blen, err);
    free(data);
    if (st) return st;
    return add_item(in, b64, blen, cap, err);
}

lp_status lp_lg_inputs_load(lp_lg_inputs *in, const char *path, lp_lg_input_kind kind,
                            lp_error *err) {
    memset(in, 0, sizeof *in);
    in->kind = kind;
    unsigned char *data;
    size_t n, cap = 0;
    lp_status st = read_file(path, &data, &n, err);
    if (st) return st;
    size_t lineno = 0;
    for (size_t i = 0; i < n && !st;) {
        size_t e = i;
        while (e < n && data[e] != '\n') e++;
        size_t len = e - i;
        if (len && data[i + len - 1] == '\r') len--;
        lineno++;
        if (len) {
            char *line = malloc(len + 1);
            if (!line) {
                st = lp_fail(err, LP_ERR_NOMEM, "no memory for '%s'", path);
                break;
            }
            memcpy(line, data + i, len);
            line[len] = '\0';
            if (memchr(line, '\0', len)) {
                free(line);
                st = lp_fail(err, LP_ERR_FORMAT, "'%s' line %zu contains a NUL byte", path,
                             lineno);
            } else if (kind == LP_LG_INPUT_JSON) {
                cJSON *j = cJSON_ParseWithLength(line, len);
                bool ok = cJSON_IsObject(j);
                cJSON_Delete(j);
                if (!ok) {
                    free(line);
                    st = lp_fail(err, LP_ERR_FORMAT,
                                 "'%s' line %zu is not a JSON object (--input-format json wants "
                                 "one request body per line)", path, lineno);
                } else {
                    st = add_item(in, line, len, &cap, err);
                }
            } else if (kind == LP_LG_INPUT_IMAGE) {
                st = load_image(in, path, line, &cap, err);
                free(line);
            } else {
                st = add_item(in, line, len, &cap, err);
            }
        }
        i = e + 1;
    }
    free(data);
    if (!st && !in->n) st = lp_fail(err, LP_ERR_FORMAT, "'%s' has no inputs (all lines empty)", path);
    if (st) lp_lg_inputs_free(in);
    return st;
}

static const char *const WORDS[] = {
    "the", "model", "server", "answers", "every", "request", "quickly", "while", "a",
    "queue", "of", "patients", "waits", "for", "their", "results", "and", "doctors",
    "review", "images", "from", "yesterday", "weather", "is", "lovely", "today", "but",
    "tomorrow", "may", "bring", "rain", "to", "city", "this", "movie", "was",
    "surprisingly", "good", "terrible", "acting", "with", "beautiful", "music", "I",
    "would", "not", "recommend", "it", "anyone", "who", "likes", "long", "stories",
    "about", "small", "towns", "translation", "service", "handles", "Chinese", "English",
    "sentences", "in", "batches", "on", "two", "cores",
};

lp_status lp_lg_inputs_generate(lp_lg_inputs *in, size_t count, int min_words, int max_words,
                                uint64_t seed, lp_error *err) {
    memset(in, 0, sizeof *in);
    in->kind = LP_LG_INPUT_TEXT;
    if (!count || count > MAX_INPUTS)
        return lp_fail(err, LP_ERR_INVALID_ARG, "generated input count must be 1..%d", MAX_INPUTS);
    if (min_words < 1 || max_words < min_words || max_words > 100000)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "generated text length must be MIN:MAX words with 1 <= MIN <= MAX <= 100000");
    size_t cap = 0, nwords = sizeof WORDS / sizeof WORDS[0];
    uint64_t rng = seed;
    for (size_t k = 0; k < count; k++) {
        int words = min_words + (int)(lp_lg_rng_next(&rng) % (uint64_t)(max_words - min_words + 1));
        size_t len = 0, room = (size_t)words * 16 + 1;
        char *s = malloc(room);
        if (!s) {
            lp_lg_inputs_free(in);
            return lp_fail(err, LP_ERR_NOMEM, "no memory for generated inputs");
        }
        for (int w = 0; w < words; w++) {
            const char *word = WORDS[lp_lg_rng_next(&rng) % nwords];
            size_t wl = strlen(word);
            if (w) s[len++] = ' ';
            memcpy(s + len, word, wl);
            len += wl;
        }
        s[len] = '\0';
        lp_status st = add_item(in, s, len, &cap, err);
        if (st) {
            lp_lg_inputs_free(in);
            return st;
        }
    }
    return LP_OK;
}

void lp_lg_inputs_free(lp_lg_inputs *in) {
    for (size_t i = 0; i < in->n; i++) free(in->items[i]);
    free(in->items);
    free(in->lens);
    memset(in, 0, sizeof *in);
}
