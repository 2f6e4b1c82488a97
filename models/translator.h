/* The translation API the server and the CLI use: load a Marian (opus-mt)
 * model directory once, then translate batches of texts from any number of
 * worker threads, each with its own session.
 *
 *   lp_translator *tr;  lp_translator_load("models/opus-mt-zh-en", &tr, &err);  // once
 *   lp_translator_session *s;  lp_translator_session_create(tr, pool, &s, &err); // per worker
 *   lp_translate_options o = lp_translator_default_options(tr);
 *   o.num_beams = 4;
 *   lp_translation res[n];
 *   lp_translate_texts(s, texts, n, &o, res, &err);   // per batch
 *   ... res[i].text, res[i].ids, res[i].score ...
 *   lp_translations_free(res, n);
 *
 * A model directory holds what Hugging Face ships for MarianMTModel:
 * config.json, model.safetensors, source.spm, target.spm, vocab.json and
 * (optional) generation_config.json, whose values are the option defaults.
 *
 * Output is what transformers' MarianTokenizer + MarianMTModel.generate()
 * produce: the same token ids (greedy or beam search with length_penalty,
 * early_stopping, bad_words_ids, forced eos at max_length), the same scores
 * (up to float rounding), the same detokenized text.
 *
 * Threads: a loaded lp_translator is immutable; sessions on different threads
 * may translate at once. A session is used by one thread at a time. */
#ifndef LP_MODELS_TRANSLATOR_H
#define LP_MODELS_TRANSLATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/status.h"
#include "kernels/threadpool.h"

typedef struct lp_translator lp_translator;
typedef struct lp_translator_session lp_translator_session;

/* Most bytes one input text may have; longer texts are refused. */
#define LP_TRANSLATE_MAX_TEXT_BYTES ((size_t)1 << 20)

typedef struct lp_translate_options {
    /* 1: greedy; > 1: beam search. 1 .. 64. */
    int num_beams;
    /* Most tokens in an output, the decoder start token included, as
     * generate()'s max_length. Ignored when max_new_tokens > 0. */
    int max_length;
    /* > 0: most generated tokens (max_length = 1 + max_new_tokens). */
    int max_new_tokens;
    /* Beam scores are sum(log p) / (generated length ^ length_penalty). */
    float length_penalty;
    /* Beam search stops a sentence as soon as it has num_beams finished
     * hypotheses (true), or when no better one can appear (false), as
     * generate()'s early_stopping=True/False. */
    bool early_stopping;
    /* Texts whose source encodes to more than this many tokens are split into
     * sentences (Chinese 。！？；, English .!? followed by a space or the
     * end, separators kept), translated in the same batch and joined with a
     * space. <= 0: the default (the model's max_position_embeddings, so only
     * texts that could not be translated whole are split). 1 splits every
     * text with more than one sentence. */
    int split_over_tokens;
} lp_translate_options;

/* One result. ids are the generated tokens after the decoder start token, the
 * final eos included when one was generated (what generate() returns minus
 * its first column and padding). score: sum of the log-probabilities of ids /
 * (number of ids ^ length_penalty): generate()'s sequences_scores for beam
 * search, and the same formula for greedy (over the processed distribution,
 * renormalized when generation_config asks for it, as generate() scores it).
 * A text that was split has the pieces' ids concatenated and the sum of
 * their scores. An empty (or whitespace-only) text gives an empty text, no
 * ids and score 0 without running the model. */
typedef struct lp_translation {
    char *text; /* NUL-terminated UTF-8, malloc'd */
    size_t text_len;
    int32_t *ids; /* malloc'd; NULL when n_ids == 0 */
    size_t n_ids;
    float score;
    int pieces;      /* sentences the text was split into (1 when not split, 0 when empty) */
    bool hit_max_length; /* some piece stopped at max_length instead of eos */
} lp_translation;

/* Loads and validates the directory (every file is checked: a bad checkpoint
 * or tokenizer file is an error that names the file and what is wrong). */
lp_status lp_translator_load(const char *dir, lp_translator **out, lp_error *err);
void lp_translator_free(lp_translator *tr);

/* generation_config.json's values (or config.json's, or transformers'
 * defaults): num_beams, max_length, length_penalty, early_stopping. */
lp_translate_options lp_translator_default_options(const lp_translator *tr);

/* Model facts for callers that report them (e.g. /v1/models). */
int64_t lp_translator_vocab_size(const lp_translator *tr);
int64_t lp_translator_max_source_tokens(const lp_translator *tr);

/* pool: the worker's thread pool (borrowed; NULL runs on the calling thread).
 * max_batch: the most source sentences one encoder/decoder pass takes
 * (<= 0: 16); larger requests are run in several passes. */
lp_status lp_translator_session_create(const lp_translator *tr, lp_threadpool *pool, int max_batch,
                                       lp_translator_session **out, lp_error *err);
/* The same on a given backend (lp_backend_cpu(), lp_backend_cpu_ref(), or
 * what lp_backend_get chose). On a device backend (CUDA) the session's
 * weights are the backend's device copies (uploaded once per process, shared
 * by every session) and its activations live in device memory. */
lp_status lp_translator_session_create_on(const lp_translator *tr, const lp_backend *backend,
                                          lp_threadpool *pool, int max_batch, lp_translator_session **out,
                                          lp_error *err);
void lp_translator_session_free(lp_translator_session *s);

/* Checks one text without translating it (the server calls it when a request
 * arrives, so bad input is answered at once): not valid UTF-8, longer than
 * LP_TRANSLATE_MAX_TEXT_BYTES, or a sentence longer than the model's
 * positions are LP_ERR_INVALID_ARG with a message saying what to do. */
lp_status lp_translator_check_text(const lp_translator *tr, const char *text, size_t len,
                                   lp_error *err);

typedef struct lp_translate_text {
    const char *text;
    size_t len;
} lp_translate_text;

/* Translates n texts (any n; batched by the session's max_batch). out has n
 * entries; on success each is filled (free with lp_translations_free); on
 * failure nothing needs freeing and err names the input index. opts NULL:
 * the defaults. */
lp_status lp_translate_texts(lp_translator_session *s, const lp_translate_text *texts, size_t n,
                             const lp_translate_options *opts, lp_translation *out, lp_error *err);

/* Same from source token ids (eos included, as MarianTokenizer makes them;
 * 1 .. lp_translator_max_source_tokens ids each, each < vocab size); no
 * sentence splitting. */
typedef struct lp_translate_ids_input {
    const int32_t *ids;
    size_t len;
} lp_translate_ids_input;
lp_status lp_translate_ids(lp_translator_session *s, const lp_translate_ids_input *inputs, size_t n,
                           const lp_translate_options *opts, lp_translation *out, lp_error *err);

void lp_translations_free(lp_translation *results, size_t n);

/* ---- the tokenizer alone (as transformers' MarianTokenizer) ---------------- */

/* Source text -> ids (eos appended). *ids is malloc'd. */
lp_status lp_translator_encode(const lp_translator *tr, const char *text, size_t len, int32_t **ids,
                               size_t *n, lp_error *err);
/* Target ids -> text (skip_special_tokens=True). *text is malloc'd. */
lp_status lp_translator_decode(const lp_translator *tr, const int32_t *ids, size_t n, char **text,
                               size_t *text_len, lp_error *err);

#endif
