/* The tokenizer's C API on the BERT WordPiece pipeline: expected values come
 * from HF tokenizers 0.23.3 on the same files (printed by hand once; the
 * corpus-wide parity is the pytest suite). Also UTF-8 repair as Python's
 * errors="replace", batch encoding on several threads, padding, decoding,
 * and refusals of broken files. */
#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

static const char *shared(const char *rel, char *buf, size_t n) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "../shared/data/tokenizers/%s", rel);
    return lp_test_source_path(tmp, buf, n);
}

static bool ids_equal(const lp_tok_encoding *e, const int32_t *ids, size_t n) {
    if (e->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (e->ids[i] != ids[i]) return false;
    return true;
}

static bool offsets_equal(const lp_tok_encoding *e, const int32_t (*off)[2], size_t n) {
    if (e->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (e->offsets[i][0] != off[i][0] || e->offsets[i][1] != off[i][1]) return false;
    return true;
}

static void test_utf8_repair(void) {
    /* Python: bytes.decode("utf-8", "replace") */
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"\xed\xa0\x80x", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"}, /* lone surrogate: 3 */
        {"\xe4\xb8 t", 4, "\xef\xbf\xbd t"},                         /* truncated: 1 */
        {"\xf0\x80\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  /* overlong lead: 3 */
        {"\xc3", 1, "\xef\xbf\xbd"},
        {"a\xff\xfe" "b", 4, "a\xef\xbf\xbd\xef\xbf\xbd" "b"},
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"ok \xe4\xbd\xa0", 6, "ok \xe4\xbd\xa0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = lp_tok_utf8_repaired_len(cases[i].in, cases[i].len);
        char buf[64];
        CHECK_MSG(n == strlen(cases[i].out), "case %zu: length %zu", i, n);
        if (n < sizeof buf) {
            lp_tok_utf8_repair(cases[i].in, cases[i].len, buf);
            CHECK_MSG(!memcmp(buf, cases[i].out, n), "case %zu", i);
        }
        CHECK(lp_tok_utf8_valid(cases[i].out, strlen(cases[i].out)));
    }
    CHECK(!lp_tok_utf8_valid("\xed\xa0\x80", 3));
    CHECK(!lp_tok_utf8_valid("\xc0\xaf", 2));
}

static void test_bert_uncased(lp_tokenizer *tok, lp_tok_workspace *ws) {
    lp_error err = {0};
    lp_tok_options o = lp_tok_default_options(tok);
    lp_tok_encoding e;
    const char *text = "H\xc3\xa9llo, WORLD! \xe4\xbd\xa0\xe5\xa5\xbd na\xc3\xafve \xf0\x9f\x98\x80";
    CHECK_OK(lp_tok_encode(tok, ws, text, strlen(text), NULL, 0, &o, &e, &err), &err);
    static const int32_t ids[] = {101, 7592, 1010, 2088, 999, 100, 100, 15743, 100, 102};
    static const int32_t off[][2] = {{0, 0},   {0, 5},   {5, 6},   {7, 12},  {12, 13},
                                     {14, 15}, {15, 16}, {17, 22}, {23, 24}, {0, 0}};
    CHECK(ids_equal(&e, ids, 10));
    CHECK(offsets_equal(&e, off, 10));
    CHECK(e.n == 10 && e.token_lens[7] == 5 && !memcmp(e.tokens[7], "naive", 5));
    CHECK(e.special_mask[0] == 1 && e.special_mask[1] == 0 && !e.truncated);

    /* A pair cut to 10 tokens, longest first. */
    o.truncation.enabled = true;
    o.truncation.max_length = 10;
    const char *a = "The quick brown fox jumps over the lazy dog", *b = "and a second sentence here";
    CHECK_OK(lp_tok_encode(tok, ws, a, strlen(a), b, strlen(b), &o, &e, &err), &err);
    static const int32_t pids[] = {101, 1996, 4248, 2829, 4419, 102, 1998, 1037, 2117, 102};
    static const int32_t ptype[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    static const int32_t poff[][2] = {{0, 0}, {0, 3}, {4, 9}, {10, 15}, {16, 19},
                                      {0, 0}, {0, 3}, {4, 5}, {6, 12},  {0, 0}};
    CHECK(ids_equal(&e, pids, 10));
    CHECK(offsets_equal(&e, poff, 10));
    bool types = e.n == 10;
    for (size_t i = 0; types && i < 10; i++) types = e.type_ids[i] == ptype[i];
    CHECK(types);
    CHECK(e.truncated);

    /* Stride: the windows come back as overflowing encodings. */
    o.truncation.max_length = 6;
    o.truncation.stride = 1;
    const char *words = "one two three four five six seven";
    CHECK_OK(lp_tok_encode(tok, ws, words, strlen(words), NULL, 0, &o, &e, &err), &err);
    /* HF: [CLS] one two three four [SEP], overflowing [CLS] four five six seven [SEP] */
    CHECK(e.n == 6 && e.n_overflowing == 1);
    if (e.n_overflowing == 1) {
        static const int32_t over[] = {101, 2176, 2274, 2416, 2698, 102};
        CHECK(ids_equal(&e.overflowing[0], over, 6));
    }

    /* An over-long stride is refused, not a crash. */
    o.truncation.stride = 4;
    CHECK_FAILS(lp_tok_encode(tok, ws, words, strlen(words), NULL, 0, &o, &e, &err),
                LP_ERR_INVALID_ARG, &err, "stride");
    lp_error_clear(&err);

    /* Decoding skips special tokens unless asked not to. */
    static const int32_t dec[] = {101, 7592, 1010, 2088, 999, 102};
    char *txt;
    size_t tl;
    CHECK_OK(lp_tok_decode(tok, dec, 6, true, &txt, &tl, &err), &err);
    CHECK(txt && !strcmp(txt, "hello, world!"));
    free(txt);
    CHECK_OK(lp_tok_decode(tok, dec, 6, false, &txt, &tl, &err), &err);
    CHECK(txt && !strcmp(txt, "[CLS] hello, world! [SEP]"));
    free(txt);
}

static void test_batch(lp_tokenizer *tok) {
    /* Two threads, padding to a multiple of 8 after the batch's longest. */
    lp_error err = {0};
    lp_tok_options o = lp_tok_default_options(tok);
    o.padding.enabled = true;
    o.padding.batch_longest = true;
    o.padding.pad_to_multiple_of = 8;
    strcpy(o.padding.pad_token, "[PAD]");
    lp_tok_text in[2] = {{"a b c", 5}, {"hello", 5}};
    lp_tok_batch b;
    CHECK_OK(lp_tok_encode_batch(tok, in, NULL, 2, &o, 2, &b, &err), &err);
    static const int32_t ids0[] = {101, 1037, 1038, 1039, 102, 0, 0, 0};
    static const int32_t ids1[] = {101, 7592, 102, 0, 0, 0, 0, 0};
    CHECK(b.n == 2 && ids_equal(&b.encodings[0], ids0, 8) && ids_equal(&b.encodings[1], ids1, 8));
    if (b.n == 2) CHECK(b.encodings[1].attention_mask[2] == 1 && b.encodings[1].attention_mask[3] == 0);
    lp_tok_batch_free(&b);

    /* A bigger batch on 2 threads equals one-by-one encoding. */
    enum { N = 200 };
    static char texts[N][64];
    lp_tok_text many[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i], "sentence %d about caf\xc3\xa9 and \xe4\xb8\xad\xe6\x96\x87 #%d", i, i * 7);
        many[i] = (lp_tok_text){texts[i], strlen(texts[i])};
    }
    lp_tok_options plain = lp_tok_default_options(tok);
    CHECK_OK(lp_tok_encode_batch(tok, many, NULL, N, &plain, 2, &b, &err), &err);
    lp_tok_workspace *ws = lp_tok_workspace_create();
    bool same = b.n == N;
    for (int i = 0; same && i < N; i++) {
        lp_tok_encoding e;
        if (lp_tok_encode(tok, ws, many[i].text, many[i].len, NULL, 0, &plain, &e, &err) != LP_OK) {
            same = false;
            break;
        }
        same = e.n == b.encodings[i].n &&
               !memcmp(e.ids, b.encodings[i].ids, e.n * sizeof *e.ids) &&
               !memcmp(e.offsets, b.encodings[i].offsets, e.n * sizeof *e.offsets);
        for (size_t k = 0; same && k < e.n; k++)
            same = e.token_lens[k] == b.encodings[i].token_lens[k] &&
                   !memcmp(e.tokens[k], b.encodings[i].tokens[k], e.token_lens[k]);
    }
    CHECK_MSG(same, "batch on 2 threads differs from single encodes");
    lp_tok_workspace_destroy(ws);
    lp_tok_batch_free(&b);
}

static void test_chinese_and_vocab_txt(void) {
    char p1[512], p2[512];
    lp_error err = {0};
    lp_tokenizer *json = NULL, *txt = NULL;
    CHECK_OK(lp_tok_load(shared("bert-base-chinese/tokenizer.json", p1, sizeof p1), &json, &err), &err);
    CHECK_OK(lp_tok_load(shared("bert-base-chinese/vocab.txt", p2, sizeof p2), &txt, &err), &err);
    if (!json || !txt) {
        lp_tok_free(json);
        lp_tok_free(txt);
        return;
    }
    lp_tok_workspace *ws = lp_tok_workspace_create();
    const char *s = "\xe6\x88\x91\xe7\x88\xb1\xe5\x8c\x97\xe4\xba\xac\xe5\xa4\xa9\xe5\xae\x89\xe9\x97\xa8\xe3\x80\x82Hello!";
    static const int32_t ids[] = {101, 2769, 4263, 1266, 776, 1921, 2128, 7305, 511, 100, 106, 102};
    static const int32_t off[][2] = {{0, 0}, {0, 1}, {1, 2}, {2, 3}, {3, 4},   {4, 5},
                                     {5, 6}, {6, 7}, {7, 8}, {8, 13}, {13, 14}, {0, 0}};
    lp_tok_encoding e;
    lp_tok_options o = lp_tok_default_options(json);
    CHECK_OK(lp_tok_encode(json, ws, s, strlen(s), NULL, 0, &o, &e, &err), &err);
    CHECK(ids_equal(&e, ids, 12) && offsets_equal(&e, off, 12));
    o = lp_tok_default_options(txt);
    CHECK_OK(lp_tok_encode(txt, ws, s, strlen(s), NULL, 0, &o, &e, &err), &err);
    CHECK(ids_equal(&e, ids, 12) && offsets_equal(&e, off, 12));
    CHECK(lp_tok_token_to_id(txt, "[MASK]", 6) == 103 && lp_tok_token_to_id(json, "\xe4\xb8\xad", 3) == 704);
    lp_tok_workspace_destroy(ws);
    lp_tok_free(json);
    lp_tok_free(txt);
}

static void test_hostile_text(lp_tokenizer *tok, lp_tok_workspace *ws) {
    lp_error err = {0};
    lp_tok_options o = lp_tok_default_options(tok);
    lp_tok_encoding e;
    /* Invalid UTF-8 and NUL bytes: encoded as the repaired text. */
    const char bad[] = "ab\xed\xa0\x80\x00\xff cd";
    CHECK_OK(lp_tok_encode(tok, ws, bad, sizeof bad - 1, NULL, 0, &o, &e, &err), &err);
    CHECK(e.n >= 3 && e.ids[0] == 101 && e.ids[e.n - 1] == 102);
    /* Empty text: the special tokens only. */
    CHECK_OK(lp_tok_encode(tok, ws, "", 0, NULL, 0, &o, &e, &err), &err);
    CHECK(e.n == 2 && e.offsets[0][1] == 0);
    /* A megabyte line of "ab " is 2^19/... words, each one token. */
    size_t reps = 350000, n = reps * 3;
    char *big = malloc(n);
    if (big) {
        for (size_t i = 0; i < reps; i++) memcpy(big + 3 * i, "ab ", 3);
        CHECK_OK(lp_tok_encode(tok, ws, big, n, NULL, 0, &o, &e, &err), &err);
        CHECK(e.n == reps + 2 && e.offsets[reps][0] == (int32_t)(3 * (reps - 1)));
        free(big);
    }
}

static void test_refusals(void) {
    lp_error err = {0};
    lp_tokenizer *tok = NULL;
    CHECK_FAILS(lp_tok_load_json_buffer("{\"model\": 5}", 12, "bad.json", &tok, &err), LP_ERR_FORMAT,
                &err, "bad.json");
    lp_error_clear(&err);
    CHECK_FAILS(lp_tok_load_json_buffer("{\"model\": ", 10, "cut.json", &tok, &err), LP_ERR_FORMAT, &err,
                "not valid JSON");
    lp_error_clear(&err);
    const char *unk = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, \"normalizer\": {\"type\": \"Nope\"}}";
    CHECK_FAILS(lp_tok_load_json_buffer(unk, strlen(unk), "n.json", &tok, &err), LP_ERR_UNSUPPORTED, &err,
                "Nope");
    lp_error_clear(&err);
    CHECK_FAILS(lp_tok_load("/nonexistent/dir/tokenizer.json", &tok, &err), LP_ERR_IO, &err, "tokenizer.json");
    lp_error_clear(&err);
    CHECK(tok == NULL);
    /* WordPiece without its unk token in the vocabulary: an error at use, not a crash. */
    const char *nounk = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}";
    CHECK_OK(lp_tok_load_json_buffer(nounk, strlen(nounk), "nounk.json", &tok, &err), &err);
    if (tok) {
        lp_tok_workspace *ws = lp_tok_workspace_create();
        lp_tok_encoding e;
        CHECK_OK(lp_tok_encode(tok, ws, "a", 1, NULL, 0, NULL, &e, &err), &err);
        CHECK(e.n == 1 && e.ids[0] == 0);
        CHECK_FAILS(lp_tok_encode(tok, ws, "b", 1, NULL, 0, NULL, &e, &err), LP_ERR_FORMAT, &err, "[UNK]");
        lp_tok_workspace_destroy(ws);
        lp_tok_free(tok);
    }
}

int main(void) {
    test_utf8_repair();
    char path[512];
    lp_error err = {0};
    lp_tokenizer *tok = NULL;
    CHECK_OK(lp_tok_load(shared("bert-base-uncased/tokenizer.json", path, sizeof path), &tok, &err), &err);
    if (tok) {
        lp_tok_workspace *ws = lp_tok_workspace_create();
        test_bert_uncased(tok, ws);
        test_hostile_text(tok, ws);
        test_batch(tok);
        lp_tok_workspace_destroy(ws);
        lp_tok_free(tok);
    }
    test_chinese_and_vocab_txt();
    test_refusals();
    return lp_test_finish();
}
