/* libFuzzer target: tokenizer.json loading. Any bytes must either load or be
 * refused with an error message; a loaded tokenizer must then encode, encode
 * a pair with truncation and stride, and decode without faults. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static void exercise(lp_tokenizer *tok) {
    static const char *texts[] = {"Hello, world! \xe4\xbd\xa0\xe5\xa5\xbd", "  a  b\tc\n", "",
                                  "\xf0\x9f\x98\x80 caf\xc3\xa9 123 <s> [CLS]"};
    lp_tok_workspace *ws = lp_tok_workspace_create();
    if (!ws) return;
    lp_tok_options o = lp_tok_default_options(tok);
    lp_error err = {0};
    lp_tok_encoding e;
    size_t longest = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (lp_tok_encode(tok, ws, texts[i], strlen(texts[i]), NULL, 0, &o, &e, &err) == LP_OK && e.n) {
            if (e.n > longest) longest = e.n;
            char *t;
            size_t tl;
            if (lp_tok_decode(tok, e.ids, e.n, true, &t, &tl, &err) == LP_OK) free(t);
        }
    }
    /* Pair windows multiply: keep the stride case to files whose normalizers
     * do not blow these short texts up (that case is bounded, but slow). */
    o.truncation.enabled = true;
    o.truncation.max_length = 8;
    o.truncation.stride = 1;
    if (longest < 512)
        (void)lp_tok_encode(tok, ws, texts[0], strlen(texts[0]), texts[3], strlen(texts[3]), &o, &e, &err);
    int32_t ids[] = {0, 1, 2, 3, 100, 101, 102, 5000, 30000};
    char *t;
    size_t tl;
    if (lp_tok_decode(tok, ids, sizeof ids / sizeof ids[0], false, &t, &tl, &err) == LP_OK) free(t);
    lp_tok_workspace_destroy(ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lp_tokenizer *tok = NULL;
    lp_error err = {0};
    if (lp_tok_load_json_buffer((const char *)data, size, "fuzz.json", &tok, &err) == LP_OK) {
        exercise(tok);
        lp_tok_free(tok);
    } else if (!err.msg[0]) {
        __builtin_trap(); /* a refusal must say why */
    }
    return 0;
}
