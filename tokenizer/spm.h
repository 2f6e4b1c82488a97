/* SentencePiece models read from their ModelProto (.model / .spm files),
 * encoded with sentencepiece's own algorithms. Internal to the tokenizer room. */
#ifndef LP_TOK_SPM_H
#define LP_TOK_SPM_H

#include "tokenizer/internal.h"

enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER = 4, SPM_UNUSED = 5, SPM_BYTE = 6 };
enum { SPM_UNIGRAM = 1, SPM_BPE = 2, SPM_WORD = 3, SPM_CHAR = 4 };

typedef struct tok_spm {
    int model_type;
    float *scores;       /* by id */
    uint8_t *types;      /* by id */
    size_t npieces;
    int32_t unk_id;
    float min_score, max_score; /* over NORMAL pieces, as sentencepiece computes them */
    bool byte_fallback;
    bool treat_ws_as_suffix;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
    const char *unk_surface;
    size_t unk_surface_len;
    tok_precompiled *charsmap; /* NULL: identity */
    tok_matcher user;          /* user-defined symbols (longest match) */
    const char **user_pieces;
    size_t nuser;
    /* The HF tokenizers conversion (normalizer, and for unigram the model),
     * for reporting offsets as HF does. hf_model shares the vocab. */
    tok_normalizer *hf_norm;
    tok_model hf_model;
    bool has_hf_model;
} tok_spm;

/* Longest charsmap rule at s (sentencepiece's NormalizePrefix). */
bool tok_precompiled_prefix(const tok_precompiled *pc, const char *s, size_t len, const char **out,
                            size_t *out_len, size_t *consumed);

lp_status tok_spm_encode_sequence(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                                  size_t len, uint32_t type_id, tok_enc *out, lp_error *err);
lp_status tok_spm_decode(const lp_tokenizer *tok, const int32_t *ids, size_t n, char **text,
                         size_t *text_len, lp_error *err);

#endif
