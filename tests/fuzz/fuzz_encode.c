/* libFuzzer target: encoding arbitrary bytes (invalid UTF-8, NULs, long runs)
 * with real tokenizers of every model kind -- WordPiece, byte-level BPE,
 * Unigram tokenizer.json, SentencePiece unigram -- as single texts and as
 * pairs with truncation, then decoding ids taken from the input. The files are
 * read from the source tree (ctest runs targets from the project root). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static const char *PATHS[] = {
    "../shared/data/tokenizers/bert-base-uncased/tokenizer.json",
    "../shared/data/tokenizers/minimind/tokenizer.json",
    "tests/fixtures/tokenizer/trained/unigram-8k/tokenizer.json",
    "../shared/data/tokenizers/cpm-chinese-sentencepiece/chinese_vocab.model",
    "tests/fixtures/tokenizer/trained/spm-bpe-4k.model",
};
enum { NTOK = sizeof PATHS / sizeof PATHS[0] };
static lp_tokenizer *toks[NTOK];
static lp_tok_workspace *ws;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *root = getenv("LP_SOURCE_DIR");
    for (int i = 0; i < NTOK; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s%s", root ? root : "", root ? "/" : "", PATHS[i]);
        lp_error err = {0};
        if (lp_tok_load(p, &toks[i], &err) != LP_OK) toks[i] = NULL; /* missing data: skip it */
    }
    ws = lp_tok_workspace_create();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ws || size == 0) return 0;
    const char *s = (const char *)data;
    /* The first byte picks options; the rest is the text, split for pairs. */
    uint8_t ctl = data[0];
    s++;
    size--;
    size_t cut = size ? (ctl * 7u) % (size + 1) : 0;
    for (int i = 0; i < NTOK; i++) {
        lp_tokenizer *tok = toks[i];
        if (!tok) continue;
        lp_tok_options o = lp_tok_default_options(tok);
        o.add_special_tokens = ctl & 1;
        o.padding.enabled = false;
        o.truncation.enabled = (ctl >> 1) & 1;
        o.truncation.max_length = 4 + (ctl >> 4);
        o.truncation.stride = (ctl >> 2) & 1;
        o.truncation.strategy = (lp_tok_trunc_strategy)((ctl >> 3) % 3);
        lp_error err = {0};
        lp_tok_encoding e;
        if (lp_tok_encode(tok, ws, s, size, NULL, 0, &o, &e, &err) == LP_OK) {
            char *t;
            size_t tl;
            if (lp_tok_decode(tok, e.ids, e.n, ctl & 2, &t, &tl, &err) == LP_OK) free(t);
        }
        (void)lp_tok_encode(tok, ws, s, cut, s + cut, size - cut, &o, &e, &err);
        /* ids straight from the input bytes */
        int32_t ids[16];
        size_t n = size / 4 < 16 ? size / 4 : 16;
        for (size_t k = 0; k < n; k++) memcpy(&ids[k], s + 4 * k, 4);
        for (size_t k = 0; k < n; k++) ids[k] &= 0x7FFFFFFF;
        char *t;
        size_t tl;
        if (lp_tok_decode(tok, ids, n, ctl & 4, &t, &tl, &err) == LP_OK) free(t);
    }
    return 0;
}
