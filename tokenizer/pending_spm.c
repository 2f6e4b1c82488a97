/* TEMPORARY placeholders for the parts not written yet (regex, precompiled
 * charsmap, SentencePiece models); removed when they land. */
#include <stdio.h>

#include "tokenizer/internal.h"

tok_regex *tok_regex_compile(tok_arena *pool, const char *pattern, size_t len, char *errbuf,
                             size_t errlen) {
    (void)pool;
    (void)pattern;
    (void)len;
    snprintf(errbuf, errlen, "regex patterns are not supported yet");
    return NULL;
}
bool tok_regex_search(const tok_regex *re, const char *s, size_t len, size_t from, size_t *ms,
                      size_t *me) {
    (void)re; (void)s; (void)len; (void)from; (void)ms; (void)me;
    return false;
}
tok_precompiled *tok_precompiled_parse(tok_arena *pool, const unsigned char *data, size_t len,
                                       lp_error *err) {
    (void)pool; (void)data; (void)len;
    lp_fail(err, LP_ERR_UNSUPPORTED, "precompiled charsmap not supported yet");
    return NULL;
}
bool tok_precompiled_normalize(const tok_precompiled *pc, lp_tok_workspace *ws, tok_nstr *n) {
    (void)pc; (void)ws; (void)n;
    return false;
}
lp_status tok_load_spm(const unsigned char *data, size_t len, const char *name, lp_tokenizer **out,
                       lp_error *err) {
    (void)data; (void)len; (void)out;
    return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: SentencePiece models are not supported yet", name);
}
