/* Fast parsing of tokenizer.json's model.vocab / model.merges (json_fast.c). */
#ifndef LP_TOK_JSON_FAST_H
#define LP_TOK_JSON_FAST_H

#include "tokenizer/internal.h"

typedef struct tok_json_fast {
    bool present;
    bool is_map;           /* vocab was an object {token: id} (else [[piece, score]]) */
    bool want_scores;
    tok_vocab_entry *entries; /* vocab: (token, id); merges: a, b in pairs */
    double *scores;        /* Unigram scores, by entry */
    size_t n, cap;
    char *strings;         /* decoded strings the entries point into */
    size_t slen;
} tok_json_fast;

/* When model.vocab (and model.merges) have a common shape, parses them into
 * *vocab / *merges and returns a malloc'd copy of json with those values
 * replaced by {} / [] (for cJSON to parse the rest). False: use cJSON alone. */
bool tok_json_fast_scan(const char *json, size_t len, char **copy, size_t *copy_len, tok_json_fast *vocab,
                        tok_json_fast *merges);
void tok_json_fast_free(tok_json_fast *f);

#endif
