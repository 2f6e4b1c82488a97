/* libFuzzer target: SentencePiece ModelProto loading (the hand-written
 * protobuf reader and the precompiled charsmap). Bytes either load or are
 * refused with a message; a loaded model must encode and decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lp_tokenizer *tok = NULL;
    lp_error err = {0};
    if (lp_tok_load_spm_buffer(data, size, "fuzz.model", &tok, &err) != LP_OK) {
        if (!err.msg[0]) __builtin_trap();
        return 0;
    }
    static const char *texts[] = {"Hello  world ", "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c",
                                  " ", "x\xcc\x81\xe2\x80\x8d<sep>\xf0\x9f\x98\x80 12345"};
    lp_tok_workspace *ws = lp_tok_workspace_create();
    lp_tok_options o = lp_tok_default_options(tok);
    lp_tok_encoding e;
    for (size_t i = 0; ws && i < sizeof texts / sizeof texts[0]; i++) {
        if (lp_tok_encode(tok, ws, texts[i], strlen(texts[i]), NULL, 0, &o, &e, &err) == LP_OK && e.n) {
            char *t;
            size_t tl;
            if (lp_tok_decode(tok, e.ids, e.n, true, &t, &tl, &err) == LP_OK) free(t);
        }
    }
    lp_tok_workspace_destroy(ws);
    lp_tok_free(tok);
    return 0;
}
