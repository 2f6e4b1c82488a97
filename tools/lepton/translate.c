/* `lepton translate --model DIR [--beam N] [--max-length N] [--max-new-tokens N]
 *  [--length-penalty X] [--early-stopping 0|1] [--batch-size N] [--threads N] [--device D]`:
 * translates stdin lines with a Marian (opus-mt) model directory.
 *
 * Each line prints {"translation": "...", "ids": [...], "score": x}: ids are
 * the generated target ids (eos included, decoder start excluded), score the
 * beam score (or greedy log-probability). An empty line prints
 * {"translation": "", "ids": [], "score": 0}. A line that cannot be translated
 * (not UTF-8, too long) prints {"error": "..."} in its place and the command
 * exits 1 at the end; a model that cannot be loaded is one line on stderr and
 * exit 1; bad usage exits 2. Defaults come from generation_config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/translator.h"
#include "tools/lepton/cli_util.h"
#include "tools/lepton/commands.h"

static int usage(FILE *out) {
    fprintf(out,
            "usage: lepton translate --model DIR [--beam N] [--max-length N] [--max-new-tokens N]\n"
            "                        [--length-penalty X] [--early-stopping 0|1] [--batch-size N] [--threads N]\n"
            "                        [--device D]\n"
            "  reads texts from stdin, one per line; prints {\"translation\": ..., \"ids\": [...], \"score\": x}\n"
            "  defaults: the model's generation_config.json (num_beams, max_length, length_penalty, early_stopping)\n"
            "  --device D     cpu (default) or cuda[:N]; without a usable GPU: one line on stderr, then the CPU\n");
    return out == stdout ? 0 : 2;
}

static void put_json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') fputs("\\\"", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_result(const lp_translation *r) {
    fputs("{\"translation\": ", stdout);
    put_json_string(r->text, r->text_len);
    fputs(", \"ids\": [", stdout);
    for (size_t j = 0; j < r->n_ids; j++) printf(j ? ", %d" : "%d", r->ids[j]);
    printf("], \"score\": %.9g}\n", (double)r->score);
}

static bool parse_float(const char *s, float *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v != v || v > 100 || v < -100) return false;
    *out = (float)v;
    return true;
}

int lp_cmd_translate(int argc, char **argv) {
    const char *model = NULL, *device = "cpu";
    int beam = 0, max_length = 0, max_new = 0, batch_size = 16, threads = lp_default_num_threads(), early = -1;
    float lp = 0;
    bool have_lp = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
        if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "--beam") && more) {
            if (!lp_cli_parse_int(argv[++i], 1, 64, &beam)) {
                fprintf(stderr, "lepton translate: --beam must be 1..64\n");
                return 2;
            }
        } else if (!strcmp(a, "--max-length") && more) {
            if (!lp_cli_parse_int(argv[++i], 2, 1 << 20, &max_length)) {
                fprintf(stderr, "lepton translate: --max-length must be an integer >= 2\n");
                return 2;
            }
        } else if (!strcmp(a, "--max-new-tokens") && more) {
            if (!lp_cli_parse_int(argv[++i], 1, 1 << 20, &max_new)) {
                fprintf(stderr, "lepton translate: --max-new-tokens must be an integer >= 1\n");
                return 2;
            }
        } else if (!strcmp(a, "--length-penalty") && more) {
            if (!parse_float(argv[++i], &lp)) {
                fprintf(stderr, "lepton translate: --length-penalty must be a number in -100..100\n");
                return 2;
            }
            have_lp = true;
        } else if (!strcmp(a, "--early-stopping") && more) {
            if (!lp_cli_parse_int(argv[++i], 0, 1, &early)) {
                fprintf(stderr, "lepton translate: --early-stopping must be 0 or 1\n");
                return 2;
            }
        } else if (!strcmp(a, "--batch-size") && more) {
            if (!lp_cli_parse_int(argv[++i], 1, 4096, &batch_size)) {
                fprintf(stderr, "lepton translate: --batch-size must be 1..4096\n");
                return 2;
            }
        } else if (!strcmp(a, "--threads") && more) {
            if (!lp_cli_parse_int(argv[++i], 1, 1024, &threads)) {
                fprintf(stderr, "lepton translate: --threads must be 1..1024\n");
                return 2;
            }
        } else {
            fprintf(stderr, "lepton translate: unknown or incomplete option '%s'\n", a);
            return usage(stderr);
        }
    }
    if (!model) return usage(stderr);
    const lp_backend *backend = NULL;
    if (!lp_cli_device("translate", device, &backend)) return 2;
    lp_error err = {0};
    lp_translator *tr = NULL;
    if (lp_translator_load(model, &tr, &err)) {
        fprintf(stderr, "lepton translate: %s\n", err.msg);
        return 1;
    }
    lp_translate_options o = lp_translator_default_options(tr);
    if (beam) o.num_beams = beam;
    if (max_length) o.max_length = max_length;
    if (max_new) o.max_new_tokens = max_new;
    if (have_lp) o.length_penalty = lp;
    if (early >= 0) o.early_stopping = early == 1;
    lp_threadpool *pool = threads > 1 ? lp_threadpool_create(threads) : NULL;
    lp_translator_session *s = NULL;
    int rc = 0;
    if (lp_translator_session_create_on(tr, backend, pool, batch_size, &s, &err)) {
        fprintf(stderr, "lepton translate: %s\n", err.msg);
        rc = 1;
    }
    lp_cli_lines b = {0};
    bool oom = false, failed_line = false;
    lp_translate_text *in = calloc((size_t)batch_size, sizeof *in);
    lp_translation *res = calloc((size_t)batch_size, sizeof *res);
    char (*bad)[LP_ERROR_MSG_MAX] = calloc((size_t)batch_size, sizeof *bad);
    if (!in || !res || !bad) {
        fprintf(stderr, "lepton translate: out of memory\n");
        rc = 1;
    }
    size_t n;
    while (rc == 0 && (n = lp_cli_read_lines(&b, (size_t)batch_size, &oom)) > 0) {
        /* lines that cannot be translated answer with an error; the rest run as one batch */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            lp_error e = {0};
            bad[i][0] = '\0';
            if (lp_translator_check_text(tr, b.lines[i], b.lens[i], &e)) {
                snprintf(bad[i], sizeof bad[i], "%s", e.msg);
                continue;
            }
            in[k++] = (lp_translate_text){b.lines[i], b.lens[i]};
        }
        if (lp_translate_texts(s, in, k, &o, res, &err)) {
            fprintf(stderr, "lepton translate: %s\n", err.msg);
            rc = 1;
            break;
        }
        for (size_t i = 0, j = 0; i < n; i++) {
            if (bad[i][0]) {
                fputs("{\"error\": ", stdout);
                put_json_string(bad[i], strlen(bad[i]));
                fputs("}\n", stdout);
                failed_line = true;
            } else {
                print_result(&res[j++]);
            }
        }
        lp_translations_free(res, k);
    }
    fflush(stdout);
    lp_cli_lines_free(&b);
    if (oom) {
        fprintf(stderr, "lepton translate: out of memory reading input\n");
        rc = 1;
    }
    if (failed_line && rc == 0) rc = 1;
    free(in);
    free(res);
    free(bad);
    lp_translator_session_free(s);
    lp_threadpool_destroy(pool);
    lp_translator_free(tr);
    return rc;
}
