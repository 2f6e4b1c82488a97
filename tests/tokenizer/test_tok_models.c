/* Byte-level BPE, SentencePiece models and decoders through the C API.
 * Expected values were printed once by HF tokenizers 0.23.3 and sentencepiece
 * 0.2.3 on the same files (the corpus-wide parity lives in the pytest suite);
 * these pin the behaviours that are easy to get subtly wrong: offsets trimmed
 * of 'G' spaces, Roberta pairs, special tokens in byte-level text, float ties
 * in the unigram lattice, sentencepiece whitespace rules, byte fallback,
 * and the checks a corrupt .model file must fail. */
#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"
#include "tokenizer/tokenizer.h"

static lp_tokenizer *load(const char *rel) {
    char p[512];
    lp_error err = {0};
    lp_tokenizer *tok = NULL;
    CHECK_OK(lp_tok_load(lp_test_source_path(rel, p, sizeof p), &tok, &err), &err);
    return tok;
}

static bool same_ids(const lp_tok_encoding *e, const int32_t *ids, size_t n) {
    if (e->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (e->ids[i] != ids[i]) return false;
    return true;
}

static bool same_offsets(const lp_tok_encoding *e, const int32_t (*o)[2], size_t n) {
    if (e->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (e->offsets[i][0] != o[i][0] || e->offsets[i][1] != o[i][1]) return false;
    return true;
}

static char *decode(lp_tokenizer *tok, const int32_t *ids, size_t n, bool skip) {
    lp_error err = {0};
    char *t = NULL;
    size_t tl;
    CHECK_OK(lp_tok_decode(tok, ids, n, skip, &t, &tl, &err), &err);
    return t;
}

static void test_roberta(lp_tok_workspace *ws) {
    lp_tokenizer *tok = load("tests/fixtures/tokenizer/derived/roberta-gpt2/tokenizer.json");
    if (!tok) return;
    lp_error err = {0};
    lp_tok_encoding e;
    const char *s = "Hello world! It's 2024.  ok";
    CHECK_OK(lp_tok_encode(tok, ws, s, strlen(s), NULL, 0, NULL, &e, &err), &err);
    static const int32_t ids[] = {50257, 15496, 995, 0, 632, 338, 48609, 13, 220, 12876, 50258};
    static const int32_t off[][2] = {{0, 0},   {0, 5},   {6, 11},  {11, 12}, {13, 15}, {15, 17},
                                     {18, 22}, {22, 23}, {24, 24}, {25, 27}, {0, 0}};
    CHECK(same_ids(&e, ids, 11));
    CHECK(same_offsets(&e, off, 11)); /* the lone 'G' token trims to an empty span */
    CHECK(e.n == 11 && e.token_lens[2] == 7 && !memcmp(e.tokens[2], "\xc4\xa0world", 7));
    CHECK_OK(lp_tok_encode(tok, ws, "Hi", 2, "there", 5, NULL, &e, &err), &err);
    static const int32_t pair[] = {50257, 17250, 50258, 50258, 8117, 50258};
    CHECK(same_ids(&e, pair, 6));
    bool zero = e.n == 6;
    for (size_t i = 0; i < e.n; i++) zero = zero && e.type_ids[i] == 0; /* Roberta: all type 0 */
    CHECK(zero);
    char *t = decode(tok, ids, 11, true);
    CHECK(t && !strcmp(t, "Hello world! It's 2024.  ok"));
    free(t);
    lp_tok_free(tok);
}

static void test_minimind(lp_tok_workspace *ws) {
    lp_tokenizer *tok = load("../shared/data/tokenizers/minimind/tokenizer.json");
    if (!tok) return;
    lp_error err = {0};
    lp_tok_encoding e;
    const char *s = "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c<|im_start|>ok";
    CHECK_OK(lp_tok_encode(tok, ws, s, strlen(s), NULL, 0, NULL, &e, &err), &err);
    static const int32_t ids[] = {1968, 294, 1950, 1, 4301};
    static const int32_t off[][2] = {{0, 2}, {2, 3}, {3, 5}, {5, 17}, {17, 19}};
    CHECK(same_ids(&e, ids, 5) && same_offsets(&e, off, 5));
    char *t = decode(tok, ids, 5, true);
    CHECK(t && !strcmp(t, "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c" "ok"));
    free(t);
    t = decode(tok, ids, 5, false);
    CHECK(t && !strcmp(t, s));
    free(t);
    lp_tok_free(tok);
}

static void test_spm_unigram(lp_tok_workspace *ws) {
    lp_tokenizer *cpm = load("../shared/data/tokenizers/cpm-chinese-sentencepiece/chinese_vocab.model");
    lp_tokenizer *opus = load("../shared/data/tokenizers/opus-mt-zh-en/target.spm");
    lp_error err = {0};
    lp_tok_encoding e;
    if (cpm) {
        const char *s = "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82"
                        "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe\x88\xe5\xa5\xbd\xe3\x80\x82";
        CHECK_OK(lp_tok_encode(cpm, ws, s, strlen(s), NULL, 0, NULL, &e, &err), &err);
        static const int32_t ids[] = {6756, 9, 1836, 12, 4863, 259, 259, 497, 24668, 144, 12};
        CHECK(same_ids(&e, ids, 11));
        char *t = decode(cpm, ids, 11, true);
        /* nmt_nfkc turned the full-width comma into ',' */
        CHECK(t && !strcmp(t, "\xe4\xbd\xa0\xe5\xa5\xbd,\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82"
                              "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe\x88\xe5\xa5\xbd\xe3\x80\x82"));
        free(t);
        /* extra whitespace: squeezed and trimmed; no special tokens added */
        CHECK_OK(lp_tok_encode(cpm, ws, "  Hello   world  ", 17, NULL, 0, NULL, &e, &err), &err);
        static const int32_t hw[] = {25624, 15638};
        CHECK(same_ids(&e, hw, 2));
        CHECK_OK(lp_tok_encode(cpm, ws, "", 0, NULL, 0, NULL, &e, &err), &err);
        CHECK(e.n == 0);
        lp_tok_free(cpm);
    }
    if (opus) {
        /* equal-score paths: sentencepiece's lattice keeps ". . ..." */
        CHECK_OK(lp_tok_encode(opus, ws, "a.....", 6, NULL, 0, NULL, &e, &err), &err);
        static const int32_t ids[] = {10, 6, 6, 77};
        CHECK(same_ids(&e, ids, 4));
        lp_tok_free(opus);
    }
}

static void test_spm_bpe(lp_tok_workspace *ws) {
    lp_tokenizer *tok = load("tests/fixtures/tokenizer/trained/spm-bpe-4k.model");
    if (!tok) return;
    lp_error err = {0};
    lp_tok_encoding e;
    const char *s = "Hello \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80 <sep> x";
    CHECK_OK(lp_tok_encode(tok, ws, s, strlen(s), NULL, 0, NULL, &e, &err), &err);
    static const int32_t ids[] = {347, 294, 719, 717, 1230, 1336, 717, 808, 717, 3, 717, 778};
    CHECK(same_ids(&e, ids, 12)); /* user-defined <sep> matched, the emoji a known piece */
    char *t = decode(tok, ids, 12, true);
    CHECK(t && !strcmp(t, s));
    free(t);
    int32_t bad = 999999;
    char *out = NULL;
    size_t ol;
    CHECK_FAILS(lp_tok_decode(tok, &bad, 1, true, &out, &ol, &err), LP_ERR_INVALID_ARG, &err, "invalid id");
    lp_tok_free(tok);
}

static void test_spm_refusals(void) {
    char p[512];
    lp_error err = {0};
    lp_tokenizer *tok = NULL;
    char *data = NULL;
    size_t len = 0;
    FILE *f = fopen(lp_test_source_path("tests/fixtures/tokenizer/trained/spm-bpe-4k.model", p, sizeof p), "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(len);
    CHECK(data && fread(data, 1, len, f) == len);
    fclose(f);
    if (!data) return;
    CHECK_FAILS(lp_tok_load_spm_buffer(data, 0, "e.model", &tok, &err), LP_ERR_FORMAT, &err, "empty");
    lp_error_clear(&err);
    CHECK_FAILS(lp_tok_load_spm_buffer(data, len / 2, "half.model", &tok, &err), LP_ERR_FORMAT, &err,
                "half.model");
    lp_error_clear(&err);
    /* a piece repeated: both pieces are "<unk>" when the second piece's
     * string is replaced by the first one's bytes of equal length */
    static const unsigned char two_unk[] = {0x0A, 0x09, 0x0A, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02,
                                            0x0A, 0x09, 0x0A, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x01};
    CHECK_FAILS(lp_tok_load_spm_buffer(two_unk, sizeof two_unk, "dup.model", &tok, &err), LP_ERR_FORMAT,
                &err, "twice");
    lp_error_clear(&err);
    static const unsigned char no_unk[] = {0x0A, 0x05, 0x0A, 0x03, 'a', 'b', 'c'};
    CHECK_FAILS(lp_tok_load_spm_buffer(no_unk, sizeof no_unk, "nounk.model", &tok, &err), LP_ERR_FORMAT,
                &err, "unknown piece");
    lp_error_clear(&err);
    static const unsigned char minimal[] = {0x0A, 0x09, 0x0A, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02,
                                            0x0A, 0x05, 0x0A, 0x03, 0xE2, 0x96, 0x81};
    CHECK_OK(lp_tok_load_spm_buffer(minimal, sizeof minimal, "tiny.model", &tok, &err), &err);
    if (tok) {
        lp_tok_workspace *ws = lp_tok_workspace_create();
        lp_tok_encoding e;
        /* every char unknown: one merged <unk> after the U+2581 piece */
        CHECK_OK(lp_tok_encode(tok, ws, "ab", 2, NULL, 0, NULL, &e, &err), &err);
        CHECK(e.n == 2 && e.ids[0] == 1 && e.ids[1] == 0 && e.offsets[1][0] == 0 && e.offsets[1][1] == 2);
        lp_tok_workspace_destroy(ws);
        lp_tok_free(tok);
    }
    free(data);
}

int main(void) {
    lp_tok_workspace *ws = lp_tok_workspace_create();
    test_roberta(ws);
    test_minimind(ws);
    test_spm_unigram(ws);
    test_spm_bpe(ws);
    test_spm_refusals();
    lp_tok_workspace_destroy(ws);
    return lp_test_finish();
}
