/* `lepton tokenize` and `lepton detokenize`: the tokenizer on stdin/stdout,
 * one JSON object per input line (the contract the parity tests rely on).
 *
 * tokenize: each stdin line (with --pair: two texts split at the first TAB;
 * no TAB means an empty second text) becomes
 *   {"ids": [...], "tokens": [...], "offsets": [[start, end], ...]}
 * plus "type_ids" for pairs and "overflowing" (a list of the same objects)
 * when --stride is given. Offsets count code points of the line, as HF's
 * Python API reports them. The tokenizer file's own truncation and padding
 * settings are not applied (only --max-length truncates). Lines are split on \n only; a line that is not
 * valid UTF-8 is read as Python's errors="replace" would read it (each invalid
 * sequence becomes U+FFFD) and tokenized like that.
 *
 * detokenize: each stdin line is a JSON array of ids; prints {"text": "..."}
 * with special tokens skipped (HF Tokenizer.decode's default,
 * skip_special_tokens=True) unless --keep-special-tokens.
 *
 * A line that cannot be processed prints {"error": "..."} in its place (and
 * the message with its line number on stderr); the command then exits 1. A tokenizer that cannot be loaded is one error
 * line on stderr and exit 1. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tools/lepton/commands.h"

/* ---- a growable output line ---- */

typedef struct obuf {
    char *p;
    size_t n, cap;
} obuf;

static void ob_grow(obuf *b, size_t extra) {
    if (b->n + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "lepton: out of memory\n");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static void ob_put(obuf *b, const char *s, size_t n) {
    ob_grow(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void ob_str(obuf *b, const char *s) { ob_put(b, s, strlen(s)); }

static void ob_int(obuf *b, long long v) {
    char t[32];
    int n = snprintf(t, sizeof t, "%lld", v);
    ob_put(b, t, (size_t)n);
}

/* A JSON string; text that is not valid UTF-8 is repaired first. */
static void ob_json_str(obuf *b, const char *s, size_t n) {
    char *fixed = NULL;
    if (!lp_tok_utf8_valid(s, n)) {
        size_t m = lp_tok_utf8_repaired_len(s, n);
        fixed = malloc(m + 1);
        if (!fixed) {
            fprintf(stderr, "lepton: out of memory\n");
            exit(1);
        }
        lp_tok_utf8_repair(s, n, fixed);
        s = fixed;
        n = m;
    }
    ob_grow(b, n * 6 + 2);
    b->p[b->n++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            b->p[b->n++] = '\\';
            b->p[b->n++] = (char)c;
        } else if (c < 0x20 || c == 0x7F) {
            static const char hex[] = "0123456789abcdef";
            memcpy(b->p + b->n, "\\u00", 4);
            b->p[b->n + 4] = hex[c >> 4];
            b->p[b->n + 5] = hex[c & 15];
            b->n += 6;
        } else {
            b->p[b->n++] = (char)c;
        }
    }
    b->p[b->n++] = '"';
    free(fixed);
}

static void ob_encoding(obuf *b, const lp_tok_encoding *e, bool type_ids, bool overflowing) {
    ob_str(b, "{\"ids\": [");
    for (size_t i = 0; i < e->n; i++) {
        if (i) ob_str(b, ", ");
        ob_int(b, e->ids[i]);
    }
    ob_str(b, "], \"tokens\": [");
    for (size_t i = 0; i < e->n; i++) {
        if (i) ob_str(b, ", ");
        ob_json_str(b, e->tokens[i], e->token_lens[i]);
    }
    ob_str(b, "], \"offsets\": [");
    for (size_t i = 0; i < e->n; i++) {
        if (i) ob_str(b, ", ");
        ob_str(b, "[");
        ob_int(b, e->offsets[i][0]);
        ob_str(b, ", ");
        ob_int(b, e->offsets[i][1]);
        ob_str(b, "]");
    }
    ob_str(b, "]");
    if (type_ids) {
        ob_str(b, ", \"type_ids\": [");
        for (size_t i = 0; i < e->n; i++) {
            if (i) ob_str(b, ", ");
            ob_int(b, e->type_ids[i]);
        }
        ob_str(b, "]");
    }
    if (overflowing) {
        ob_str(b, ", \"overflowing\": [");
        for (size_t i = 0; i < e->n_overflowing; i++) {
            if (i) ob_str(b, ", ");
            ob_encoding(b, &e->overflowing[i], type_ids, false);
        }
        ob_str(b, "]");
    }
    ob_str(b, "}");
}

static void ob_error(obuf *b, const char *msg) {
    ob_str(b, "{\"error\": ");
    ob_json_str(b, msg, strlen(msg));
    ob_str(b, "}\n");
}

/* ---- argument helpers ---- */

static bool parse_count(const char *s, size_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-' || v > 0x7FFFFFFFull) return false;
    *out = (size_t)v;
    return true;
}

static int load(const char *cmd, const char *path, lp_tokenizer **tok) {
    lp_error err = {0};
    if (lp_tok_load(path, tok, &err) != LP_OK) {
        fprintf(stderr, "lepton %s: %s\n", cmd, err.msg);
        return 1;
    }
    return 0;
}

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: lepton tokenize --tokenizer PATH [--pair] [--no-special-tokens]\n"
            "                       [--max-length N] [--truncation longest_first|only_first|only_second]\n"
            "                       [--stride N]\n"
            "Reads lines from stdin (with --pair: two texts separated by a TAB) and prints one JSON\n"
            "object per line: {\"ids\": [...], \"tokens\": [...], \"offsets\": [[start, end], ...]}\n"
            "(+ \"type_ids\" for pairs, + \"overflowing\" with --stride). Offsets count code points.\n"
            "PATH: tokenizer.json, vocab.txt, a SentencePiece .model/.spm, or a model directory.\n");
}

int lp_cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *strategy = NULL;
    bool pair = false, no_special = false, have_max = false, have_stride = false;
    size_t max_length = 0, stride = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            tokenize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--tokenizer") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(a, "--pair")) {
            pair = true;
        } else if (!strcmp(a, "--no-special-tokens")) {
            no_special = true;
        } else if (!strcmp(a, "--max-length") && i + 1 < argc) {
            if (!parse_count(argv[++i], &max_length)) {
                fprintf(stderr, "lepton tokenize: --max-length needs a non-negative integer, got '%s'\n", argv[i]);
                return 2;
            }
            have_max = true;
        } else if (!strcmp(a, "--stride") && i + 1 < argc) {
            if (!parse_count(argv[++i], &stride)) {
                fprintf(stderr, "lepton tokenize: --stride needs a non-negative integer, got '%s'\n", argv[i]);
                return 2;
            }
            have_stride = true;
        } else if (!strcmp(a, "--truncation") && i + 1 < argc) {
            strategy = argv[++i];
        } else {
            fprintf(stderr, "lepton tokenize: unknown or incomplete option '%s'\n\n", a);
            tokenize_usage(stderr);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "lepton tokenize: --tokenizer PATH is required\n\n");
        tokenize_usage(stderr);
        return 2;
    }
    lp_tok_trunc_strategy strat = LP_TOK_TRUNC_LONGEST_FIRST;
    if (strategy) {
        if (!strcmp(strategy, "longest_first"))
            strat = LP_TOK_TRUNC_LONGEST_FIRST;
        else if (!strcmp(strategy, "only_first"))
            strat = LP_TOK_TRUNC_ONLY_FIRST;
        else if (!strcmp(strategy, "only_second"))
            strat = LP_TOK_TRUNC_ONLY_SECOND;
        else {
            fprintf(stderr, "lepton tokenize: --truncation must be longest_first, only_first or only_second\n");
            return 2;
        }
    }
    if ((strategy || have_stride) && !have_max) {
        fprintf(stderr, "lepton tokenize: --truncation and --stride need --max-length\n");
        return 2;
    }
    lp_tokenizer *tok;
    if (load("tokenize", path, &tok)) return 1;
    /* Like HF's reference with no_truncation() and no_padding(): the file's own
     * truncation and padding sections do not apply on the command line; only
     * --max-length truncates, and nothing is padded. */
    lp_tok_options o = lp_tok_default_options(tok);
    o.add_special_tokens = !no_special;
    o.truncation.enabled = false;
    o.padding.enabled = false;
    if (have_max) {
        /* HF enable_truncation: replaces the file's settings; the stride must
         * fit in what is left after the special tokens of a single input. */
        size_t added = lp_tok_num_special_tokens_to_add(tok, false);
        if (max_length < added || max_length - added < stride) {
            fprintf(stderr,
                    "lepton tokenize: --stride %zu is too large for --max-length %zu (%zu special "
                    "tokens are added)\n",
                    stride, max_length, added);
            lp_tok_free(tok);
            return 2;
        }
        o.truncation.enabled = true;
        o.truncation.max_length = max_length;
        o.truncation.stride = stride;
        o.truncation.strategy = strat;
        o.truncation.direction = LP_TOK_RIGHT;
    }
    lp_tok_workspace *ws = lp_tok_workspace_create();
    if (!ws) {
        fprintf(stderr, "lepton tokenize: out of memory\n");
        lp_tok_free(tok);
        return 1;
    }
    static char iobuf[1 << 16];
    setvbuf(stdout, iobuf, _IOFBF, sizeof iobuf);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    obuf out = {0};
    int rc = 0;
    size_t lineno = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        if (n && line[n - 1] == '\n') n--;
        const char *a = line, *b = NULL;
        size_t an = n, bn = 0;
        if (pair) {
            const char *tab = memchr(line, '\t', n);
            if (tab) {
                an = (size_t)(tab - line);
                b = tab + 1;
                bn = n - an - 1;
            } else {
                b = "";
                bn = 0;
            }
        }
        lp_tok_encoding e;
        lp_error err = {0};
        out.n = 0;
        if (lp_tok_encode(tok, ws, a, an, b, bn, &o, &e, &err) == LP_OK) {
            ob_encoding(&out, &e, pair, have_stride);
            ob_str(&out, "\n");
        } else {
            ob_error(&out, err.msg);
            fprintf(stderr, "lepton tokenize: line %zu: %s\n", lineno, err.msg);
            rc = 1;
        }
        if (fwrite(out.p, 1, out.n, stdout) != out.n) {
            rc = 1;
            break;
        }
    }
    if (fflush(stdout) != 0) rc = 1;
    free(line);
    free(out.p);
    lp_tok_workspace_destroy(ws);
    lp_tok_free(tok);
    return rc;
}

/* ---------------------------------------------------------- detokenize */

int lp_cmd_detokenize(int argc, char **argv) {
    const char *path = NULL;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lepton detokenize --tokenizer PATH [--keep-special-tokens]\n"
                   "Reads one JSON array of token ids per line and prints {\"text\": \"...\"}.\n"
                   "Special tokens are skipped unless --keep-special-tokens (HF decode's default).\n");
            return 0;
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--keep-special-tokens")) {
            keep = true;
        } else {
            fprintf(stderr, "lepton detokenize: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "lepton detokenize: --tokenizer PATH is required\n");
        return 2;
    }
    lp_tokenizer *tok;
    if (load("detokenize", path, &tok)) return 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    obuf out = {0};
    int rc = 0;
    int32_t *ids = NULL;
    size_t ids_cap = 0, lineno = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        out.n = 0;
        cJSON *arr = cJSON_ParseWithLength(line, (size_t)got);
        const char *bad = NULL;
        size_t n = 0;
        if (!cJSON_IsArray(arr)) bad = "each line must be a JSON array of token ids";
        const cJSON *x;
        if (!bad) {
            size_t count = (size_t)cJSON_GetArraySize(arr);
            if (count > ids_cap) {
                int32_t *p = realloc(ids, count * sizeof *p);
                if (!p) {
                    fprintf(stderr, "lepton detokenize: out of memory\n");
                    exit(1);
                }
                ids = p;
                ids_cap = count;
            }
            cJSON_ArrayForEach(x, arr) {
                double d = cJSON_IsNumber(x) ? x->valuedouble : -1;
                if (!cJSON_IsNumber(x) || d < 0 || d > 2147483647.0 || d != floor(d)) {
                    bad = "token ids must be integers in [0, 2^31)";
                    break;
                }
                ids[n++] = (int32_t)d;
            }
        }
        cJSON_Delete(arr);
        if (bad) {
            ob_error(&out, bad);
            fprintf(stderr, "lepton detokenize: line %zu: %s\n", lineno, bad);
            rc = 1;
        } else {
            char *text;
            size_t tl;
            lp_error err = {0};
            if (lp_tok_decode(tok, ids, n, !keep, &text, &tl, &err) == LP_OK) {
                ob_str(&out, "{\"text\": ");
                ob_json_str(&out, text, tl);
                ob_str(&out, "}\n");
                free(text);
            } else {
                ob_error(&out, err.msg);
                fprintf(stderr, "lepton detokenize: line %zu: %s\n", lineno, err.msg);
                rc = 1;
            }
        }
        if (fwrite(out.p, 1, out.n, stdout) != out.n) {
            rc = 1;
            break;
        }
    }
    if (fflush(stdout) != 0) rc = 1;
    free(ids);
    free(line);
    free(out.p);
    lp_tok_free(tok);
    return rc;
}
