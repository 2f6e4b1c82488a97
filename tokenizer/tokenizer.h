/* lepton's tokenizer: reads the tokenizer files users already have and
 * produces the ids, tokens and offsets that HF `tokenizers` (and
 * `sentencepiece` for .model files) produce.
 *
 * Inputs it loads (lp_tok_load picks by path):
 *   - tokenizer.json (HF tokenizers format);
 *   - a BERT vocab.txt, with tokenizer_config.json beside it when present;
 *   - a SentencePiece model (.model / .spm), unigram or BPE;
 *   - a model directory holding one of those (tokenizer.json first, then
 *     vocab.txt, then source.spm / spiece.model / sentencepiece.bpe.model / *.model).
 *
 * Threads: a loaded lp_tokenizer is immutable; any number of threads may encode
 * and decode with it at once, each with its own lp_tok_workspace (the per-call
 * scratch memory and caches). Nothing on the encode path takes a lock.
 *
 * Text: input bytes that are not valid UTF-8 are first repaired the way
 * Python's bytes.decode("utf-8", errors="replace") does: each maximal invalid
 * subpart becomes U+FFFD (so a surrogate encoded as ED A0 80 becomes three
 * U+FFFD). NUL bytes are ordinary characters. Offsets count Unicode code points
 * of that repaired text, as the HF Python API reports them. */
#ifndef LP_TOKENIZER_H
#define LP_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

typedef struct lp_tokenizer lp_tokenizer;
typedef struct lp_tok_workspace lp_tok_workspace;

typedef enum lp_tok_trunc_strategy {
    LP_TOK_TRUNC_LONGEST_FIRST = 0,
    LP_TOK_TRUNC_ONLY_FIRST,
    LP_TOK_TRUNC_ONLY_SECOND
} lp_tok_trunc_strategy;

typedef enum lp_tok_direction { LP_TOK_RIGHT = 0, LP_TOK_LEFT } lp_tok_direction;

typedef struct lp_tok_truncation {
    bool enabled;
    size_t max_length;
    size_t stride;
    lp_tok_trunc_strategy strategy;
    lp_tok_direction direction;
} lp_tok_truncation;

typedef struct lp_tok_padding {
    bool enabled;
    bool batch_longest; /* else pad to `length` */
    size_t length;
    size_t pad_to_multiple_of; /* 0: none */
    lp_tok_direction direction;
    int32_t pad_id;
    int32_t pad_type_id;
    char pad_token[64];
} lp_tok_padding;

/* What one encode call does. lp_tok_default_options gives the tokenizer file's
 * own settings (truncation/padding from tokenizer.json, special tokens on). */
typedef struct lp_tok_options {
    bool add_special_tokens;
    lp_tok_truncation truncation;
    lp_tok_padding padding;
} lp_tok_options;

/* One encoded input (a text or a pair). Arrays have `n` entries. Offsets are
 * [start, end) in code points of the input text the token came from (for a
 * pair, the second text's tokens are relative to the second text); special
 * and padding tokens get [0, 0]. word_ids is -1 where HF has None. */
typedef struct lp_tok_encoding {
    size_t n;
    int32_t *ids;
    int32_t *type_ids;
    int32_t *word_ids;
    int32_t (*offsets)[2];
    const char **tokens; /* not NUL-terminated: see token_lens */
    uint32_t *token_lens;
    uint8_t *special_mask;
    uint8_t *attention_mask;
    bool truncated; /* truncation removed tokens from this input */
    size_t n_overflowing;
    struct lp_tok_encoding *overflowing; /* HF's `overflowing` (stride windows) */
} lp_tok_encoding;

/* Loads a tokenizer (see the top of this file for what `path` may be). */
lp_status lp_tok_load(const char *path, lp_tokenizer **out, lp_error *err);
/* Loads a tokenizer.json held in memory; `name` is used in error messages. */
lp_status lp_tok_load_json_buffer(const char *json, size_t len, const char *name,
                                  lp_tokenizer **out, lp_error *err);
/* Loads a SentencePiece ModelProto held in memory. */
lp_status lp_tok_load_spm_buffer(const void *data, size_t len, const char *name,
                                 lp_tokenizer **out, lp_error *err);
void lp_tok_free(lp_tokenizer *tok);

lp_tok_options lp_tok_default_options(const lp_tokenizer *tok);
size_t lp_tok_vocab_size(const lp_tokenizer *tok); /* with added tokens */
/* -1 when the token is not in the vocabulary (added tokens included). */
int32_t lp_tok_token_to_id(const lp_tokenizer *tok, const char *token, size_t len);
/* NULL when id is unknown; *len receives the length. */
const char *lp_tok_id_to_token(const lp_tokenizer *tok, int32_t id, size_t *len);
/* Number of special tokens the post-processor adds (HF added_tokens(is_pair)). */
size_t lp_tok_num_special_tokens_to_add(const lp_tokenizer *tok, bool pair);

lp_tok_workspace *lp_tok_workspace_create(void);
void lp_tok_workspace_destroy(lp_tok_workspace *ws);

/* Encodes `text` (and `pair` when not NULL). The result lives in `ws` until the
 * next call that uses `ws`. */
lp_status lp_tok_encode(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                        size_t len, const char *pair, size_t pair_len,
                        const lp_tok_options *opts, lp_tok_encoding *out, lp_error *err);

/* A batch: inputs[i] (and pairs[i] when pairs != NULL). Encodes on `nthreads`
 * threads (<= 1: the caller's), then pads the batch as HF encode_batch does.
 * The results are owned by *out; free them with lp_tok_batch_free. */
typedef struct lp_tok_text {
    const char *text;
    size_t len;
} lp_tok_text;
typedef struct lp_tok_batch {
    size_t n;
    lp_tok_encoding *encodings;
    void *impl;
} lp_tok_batch;
lp_status lp_tok_encode_batch(const lp_tokenizer *tok, const lp_tok_text *inputs,
                              const lp_tok_text *pairs, size_t n, const lp_tok_options *opts,
                              int nthreads, lp_tok_batch *out, lp_error *err);
void lp_tok_batch_free(lp_tok_batch *batch);

/* HF Tokenizer.decode(ids, skip_special_tokens): ids unknown to the
 * vocabulary are skipped, as HF does. *text is malloc'd, NUL-terminated
 * (free it with free()); bytes that the decoder cannot form into UTF-8 are
 * replaced by U+FFFD as HF does. */
lp_status lp_tok_decode(const lp_tokenizer *tok, const int32_t *ids, size_t n,
                        bool skip_special_tokens, char **text, size_t *text_len, lp_error *err);

#endif
