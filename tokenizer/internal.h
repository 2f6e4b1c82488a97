/* Internal types of the tokenizer room, shared by its files. Not a public API. */
#ifndef LP_TOK_INTERNAL_H
#define LP_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

/* ------------------------------------------------------------------ memory */

/* A bump allocator. Load-time structures of a tokenizer live in one (freed
 * with the tokenizer); per-call scratch lives in the workspace's (reset at
 * each call). Allocation failure returns NULL. */
typedef struct tok_chunk tok_chunk;
typedef struct tok_arena {
    tok_chunk *head;
    char *cur, *end;
    size_t total;
    size_t limit; /* 0: none; else allocation fails past this many bytes */
} tok_arena;

void *ta_alloc(tok_arena *a, size_t n);          /* 16-byte aligned */
void *ta_zalloc(tok_arena *a, size_t n);
char *ta_strndup(tok_arena *a, const char *s, size_t n); /* NUL-terminated copy */
void ta_reset(tok_arena *a);  /* keeps the newest chunk */
void ta_free(tok_arena *a);

/* A growable array with malloc'd storage, kept by a workspace across calls. */
#define TOK_VEC(T) \
    struct {       \
        T *v;      \
        size_t n;  \
        size_t cap; \
    }
bool tok_vec_grow(void **v, size_t *cap, size_t need, size_t elem);
#define tok_vec_reserve(vec, need) \
    tok_vec_grow((void **)&(vec)->v, &(vec)->cap, (need), sizeof *(vec)->v)
#define tok_vec_push(vec, x) \
    (tok_vec_reserve((vec), (vec)->n + 1) ? ((vec)->v[(vec)->n++] = (x), true) : false)

/* ------------------------------------------------------------------ vocab */

/* String -> id map with an id -> string table. Strings live in one blob.
 * Sized up front; each slot keeps the key's hash, offset and length beside
 * its id, so a probe touches one cache line and rarely compares strings. */
typedef struct tok_slot {
    uint32_t id1;  /* id + 1, 0 = empty */
    uint32_t hash;
    uint32_t off;  /* the key, in the blob (the slot owns it: ids may be reused) */
    uint32_t len;
} tok_slot;

typedef struct tok_vocab {
    size_t count;       /* distinct strings */
    size_t id_cap;      /* size of the id -> string table (max id + 1) */
    char *blob;         /* strings, each NUL-terminated */
    size_t blob_len, blob_cap;
    uint32_t *str_off;  /* by id; UINT32_MAX when the id has no string */
    uint32_t *str_len;
    uint32_t mask;      /* table size - 1 */
    tok_slot *slots;
    size_t max_len;     /* longest key in bytes */
    bool dup_keeps_old; /* a repeated string leaves the old id its string */
    /* By first char (code point & 0xFFFF, collisions merged): the longest key
     * in bytes that starts with it, capped at 255 (255 = look further). It
     * bounds the prefix scans of WordPiece and Unigram; `skip` bytes of a
     * leading continuation prefix ("##") are looked past when building. */
    uint8_t *first_max;
    /* A Bloom-style bitset of every char-boundary prefix of every key (keys
     * included): a clear bit proves no key starts with the bytes hashed so
     * far, which ends a prefix scan early. NULL: no filter. */
    uint64_t *prefix_bits;
    uint64_t prefix_mask;
    bool orphans;       /* some key has no id pointing at it (ids were reused) */
} tok_vocab;

static inline uint64_t tok_hash_init(void) { return 0xcbf29ce484222325ULL; }
static inline uint64_t tok_hash_step(uint64_t h, unsigned char b) {
    return (h ^ b) * 0x100000001b3ULL;
}
static inline uint32_t tok_hash_final(uint64_t h) {
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}
uint64_t tok_hash_bytes(uint64_t h, const char *s, size_t n);

bool tok_vocab_init(tok_vocab *v, size_t expected_count, size_t expected_bytes);
void tok_vocab_free(tok_vocab *v);
/* Adds (s, id). When s is already present the existing entry is replaced by
 * the new id (HF: later JSON keys win). Returns false on allocation failure. */
bool tok_vocab_put(tok_vocab *v, const char *s, size_t n, uint32_t id);
/* Adds (s, id) only when s is new: 1 added, 0 already present, -1 no memory. */
int tok_vocab_put_new(tok_vocab *v, const char *s, size_t n, uint32_t id);
/* Adds many entries at once, in order, with the semantics of tok_vocab_put
 * (or, with dups_fail, of put_new: a repeated string stops the load and
 * *dup is its index). Hashes are computed first and slots prefetched, so a
 * large vocabulary loads without a cache miss per entry. -1 on no memory,
 * 0 on a refused duplicate, 1 on success. */
typedef struct tok_vocab_entry {
    const char *s;
    uint32_t n;
    uint32_t id;
} tok_vocab_entry;
int tok_vocab_add_all(tok_vocab *v, const tok_vocab_entry *e, size_t n, bool dups_fail, size_t *dup);
/* -1 when absent. `h` is tok_hash_final(tok_hash_bytes(init, s, n)). */
int32_t tok_vocab_get_h(const tok_vocab *v, const char *s, size_t n, uint32_t h);
int32_t tok_vocab_get(const tok_vocab *v, const char *s, size_t n);
/* Lookup of the concatenation a + b without building it. */
int32_t tok_vocab_get2_h(const tok_vocab *v, const char *a, size_t an, const char *b, size_t bn,
                         uint32_t h);
const char *tok_vocab_str(const tok_vocab *v, uint32_t id, size_t *len);
/* Builds first_max and prefix_bits in one pass over the keys, looking past
 * `skip` at the start of keys for first_max (false: no memory; scans then
 * run unbounded / unfiltered, which is slower but gives the same results). */
bool tok_vocab_build_index(tok_vocab *v, const char *skip, size_t skip_len);
static inline bool tok_vocab_maybe_prefix(const tok_vocab *v, uint64_t h) {
    if (!v->prefix_bits) return true;
    uint64_t b = ((h ^ (h >> 31)) * 0x9E3779B97F4A7C15ULL) >> 20;
    b &= v->prefix_mask;
    return (v->prefix_bits[b >> 6] >> (b & 63)) & 1;
}
/* Longest key (bytes, after the skipped prefix) that can start with code point c. */
static inline size_t tok_vocab_first_max(const tok_vocab *v, uint32_t c) {
    if (!v->first_max) return v->max_len;
    uint8_t m = v->first_max[c & 0xFFFF];
    return m == 255 ? v->max_len : m;
}

/* ------------------------------------------------------- normalized string */

/* For each byte of a normalized string, the original byte range it came from
 * (absolute offsets into the sequence being encoded). This is HF's
 * NormalizedString alignment table. */
typedef struct tok_align {
    uint32_t s, e;
} tok_align;

/* A normalized string or a slice of one. Slices share storage; transforms
 * always write fresh storage, so a view never changes under its holder. */
typedef struct tok_nstr {
    const char *s;
    const tok_align *al;
    uint32_t len;
    uint32_t shift; /* HF original_shift: original start of this slice */
} tok_nstr;

typedef struct lp_tok_workspace lp_tok_workspace;

/* No normalized string may grow past ws->norm_limit (64 bytes per input byte
 * plus 64 KB, at most TOK_MAX_NORMALIZED): a tokenizer file whose normalizers
 * expand text without bound (a Replace of an empty match with a long string,
 * in sequence) gets an error instead of eating memory and time. Real
 * normalizers stay far below it (NFKD's largest expansion is 18 chars). */
#define TOK_MAX_NORMALIZED (256u << 20)

/* Builder for HF NormalizedString::transform: feed (char, change) pairs,
 * change = 0 replaces the next source char, 1 inserts, -N replaces the next
 * char and removes N more. `initial_offset` chars of the source are dropped
 * first. Range [from, to) of the source (bytes) is transformed; the rest kept. */
typedef struct tok_nbuild {
    lp_tok_workspace *ws;
    const tok_nstr *src;
    uint32_t from, to; /* byte range of src being transformed */
    uint32_t off;      /* read position (bytes) in src */
    size_t n;          /* bytes written */
    bool oom;
} tok_nbuild;

void nb_begin(tok_nbuild *b, lp_tok_workspace *ws, const tok_nstr *src, uint32_t from,
              uint32_t to, uint32_t initial_offset);
void nb_push(tok_nbuild *b, uint32_t c, int change);
/* Writes the result to *out (in the workspace arena). False on OOM. */
bool nb_end(tok_nbuild *b, tok_nstr *out);

/* Identity-aligned normalized string over s[0..n), original offsets base..base+n. */
bool nstr_from_text(lp_tok_workspace *ws, const char *s, uint32_t n, tok_nstr *out);
tok_nstr nstr_slice(const tok_nstr *n, uint32_t from, uint32_t to);
/* Original byte range of normalized bytes [from, to) (HF convert_offsets). */
void nstr_orig_range(const tok_nstr *n, uint32_t from, uint32_t to, uint32_t *s, uint32_t *e);

/* ------------------------------------------------------------------ tokens */

typedef struct tok_token {
    int32_t id;
    uint32_t s, e; /* bytes in the split's normalized string */
    const char *val;
    uint32_t vlen;
} tok_token;

typedef struct tok_split {
    tok_nstr n;
    uint32_t tok_begin, tok_count; /* into ws->toks */
    bool has_tokens;
} tok_split;

typedef TOK_VEC(tok_split) tok_split_vec;

typedef struct tok_match {
    uint32_t s, e;
    bool is_match;
} tok_match;
typedef TOK_VEC(tok_match) tok_match_vec;

/* --------------------------------------------------------------- pipeline */

typedef enum tok_behavior {
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS
} tok_behavior;

typedef struct tok_regex tok_regex;

/* A Split/Replace pattern: a literal string or a regex. */
typedef struct tok_pattern {
    bool is_regex;
    const char *lit;
    size_t lit_len;
    tok_regex *re;
} tok_pattern;

typedef enum tok_norm_kind {
    TN_BERT,
    TN_NFC,
    TN_NFD,
    TN_NFKC,
    TN_NFKD,
    TN_LOWERCASE,
    TN_STRIP,
    TN_STRIP_ACCENTS,
    TN_REPLACE,
    TN_PREPEND,
    TN_PRECOMPILED,
    TN_BYTELEVEL,
    TN_SEQUENCE
} tok_norm_kind;

typedef struct tok_precompiled tok_precompiled;

typedef struct tok_normalizer {
    tok_norm_kind kind;
    bool clean_text, handle_chinese, strip_accents, lowercase; /* Bert */
    bool strip_left, strip_right;                               /* Strip */
    tok_pattern pattern;                                        /* Replace */
    const char *content;                                        /* Replace / Prepend */
    size_t content_len;
    tok_precompiled *precompiled;
    struct tok_normalizer *children;
    size_t nchildren;
} tok_normalizer;

typedef enum tok_pretok_kind {
    TP_BERT,
    TP_WHITESPACE,
    TP_WHITESPACE_SPLIT,
    TP_PUNCTUATION,
    TP_DIGITS,
    TP_METASPACE,
    TP_BYTELEVEL,
    TP_SPLIT,
    TP_CHAR_DELIMITER,
    TP_SEQUENCE
} tok_pretok_kind;

typedef enum tok_prepend_scheme { TOK_PREPEND_ALWAYS, TOK_PREPEND_NEVER, TOK_PREPEND_FIRST } tok_prepend_scheme;

typedef struct tok_pretok {
    tok_pretok_kind kind;
    tok_behavior behavior;     /* Punctuation, Split */
    bool individual_digits;    /* Digits */
    uint32_t replacement;      /* Metaspace: the char, e.g. U+2581 */
    tok_prepend_scheme prepend; /* Metaspace */
    bool split;                /* Metaspace */
    bool add_prefix_space, use_regex; /* ByteLevel */
    tok_pattern pattern;       /* Split */
    bool invert;               /* Split */
    uint32_t delimiter;        /* CharDelimiterSplit */
    struct tok_pretok *children;
    size_t nchildren;
} tok_pretok;

typedef enum tok_model_kind { TM_WORDPIECE, TM_BPE, TM_UNIGRAM, TM_WORDLEVEL } tok_model_kind;

typedef struct tok_merge_entry {
    uint64_t key; /* (left id << 32) | right id, UINT64_MAX = empty */
    uint32_t rank;
    uint32_t new_id;
} tok_merge_entry;

typedef struct tok_model {
    tok_model_kind kind;
    tok_vocab vocab;
    size_t vocab_size;          /* HF get_vocab_size (0: vocab.count) */
    int32_t unk_id;             /* -1: none */
    const char *unk_token;      /* may be absent from the vocab (error at use) */
    /* WordPiece */
    const char *prefix;         /* continuing_subword_prefix (BPE too), may be NULL */
    size_t prefix_len;
    size_t max_input_chars;
    /* BPE */
    const char *suffix;         /* end_of_word_suffix */
    size_t suffix_len;
    bool fuse_unk, byte_fallback, ignore_merges;
    tok_merge_entry *merges;
    uint64_t merge_mask;
    size_t nmerges;
    int32_t byte_ids[256];      /* ids of "<0xXX>" pieces, -1 when absent */
    /* Unigram */
    double *scores;             /* by id */
    double min_score;
    size_t max_piece_chars;
    bool spm_mode;              /* .model file: SentencePiece's own unk handling */
    const uint8_t *never_match; /* by id: pieces Unigram must not match (NULL: none) */
} tok_model;

typedef enum tok_post_kind { TPP_NONE, TPP_BERT, TPP_ROBERTA, TPP_TEMPLATE, TPP_BYTELEVEL, TPP_SEQUENCE } tok_post_kind;

typedef struct tok_special {
    const char *name; /* template id, e.g. "[CLS]" */
    size_t n;
    int32_t *ids;
    const char **tokens;
    uint32_t *lens;
} tok_special;

typedef struct tok_piece {
    bool is_seq;   /* $A / $B */
    int seq;       /* 0 = A, 1 = B */
    uint32_t type_id;
    const tok_special *special;
} tok_piece;

typedef struct tok_post {
    tok_post_kind kind;
    const char *sep, *cls;
    size_t sep_len, cls_len;
    int32_t sep_id, cls_id;
    bool trim_offsets, add_prefix_space;
    tok_piece *single, *pair;
    size_t nsingle, npair;
    size_t added_single, added_pair;
    struct tok_post *children;
    size_t nchildren;
} tok_post;

typedef enum tok_dec_kind {
    TD_WORDPIECE,
    TD_METASPACE,
    TD_BYTELEVEL,
    TD_BPE,
    TD_BYTEFALLBACK,
    TD_FUSE,
    TD_STRIP,
    TD_REPLACE,
    TD_CTC,
    TD_SEQUENCE
} tok_dec_kind;

typedef struct tok_decoder {
    tok_dec_kind kind;
    const char *prefix; /* WordPiece */
    size_t prefix_len;
    bool cleanup;
    uint32_t replacement; /* Metaspace */
    tok_prepend_scheme prepend;
    const char *suffix; /* BPEDecoder */
    size_t suffix_len;
    const char *content; /* Strip: char; Replace: content */
    size_t content_len;
    uint32_t strip_char;
    size_t start, stop;  /* Strip */
    tok_pattern pattern; /* Replace */
    const char *pad_token; /* CTC */
    const char *word_delimiter;
    struct tok_decoder *children;
    size_t nchildren;
} tok_decoder;

typedef struct tok_added {
    const char *content;
    size_t len;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
    const char *pattern; /* what is matched: content, or its normalized form */
    size_t pattern_len;
} tok_added;

/* Leftmost-longest matcher over a set of added-token patterns (a byte trie). */
typedef struct tok_trie_node {
    uint32_t first_child; /* index into edges */
    uint16_t nchildren;
    int32_t value;        /* index into added tokens, -1 = none */
} tok_trie_node;
typedef struct tok_trie_edge {
    unsigned char byte;
    uint32_t node;
} tok_trie_edge;
typedef struct tok_matcher {
    tok_trie_node *nodes;
    tok_trie_edge *edges;
    size_t nnodes;
    bool first_byte[256];
    bool present;
} tok_matcher;

struct lp_tokenizer {
    tok_arena pool; /* everything below except the vocab tables */
    char *source;   /* file name, for messages */
    tok_normalizer *normalizer;
    tok_pretok *pretok;
    tok_model model;
    tok_post *post;
    tok_decoder *decoder;
    tok_added *added;
    size_t nadded;
    tok_vocab added_vocab;   /* content -> id */
    int32_t *added_by_id_idx; /* sorted ids of added tokens for id lookups */
    tok_matcher match_raw;   /* normalized == false */
    tok_matcher match_norm;  /* normalized == true */
    lp_tok_options defaults;
    struct tok_spm *spm;     /* a .model file: SentencePiece semantics (spm.h) */
    int32_t spm_bos, spm_eos;
};

/* ------------------------------------------------------------- workspace */

/* A BPE word cache entry (per workspace, so no locks). */
typedef struct tok_cache_entry {
    uint32_t hash;
    uint32_t key_off, key_len; /* into cache_keys */
    uint32_t tok_off, tok_count; /* into cache_toks */
} tok_cache_entry;

typedef struct tok_cached_tok {
    int32_t id;
    uint32_t s, e;
} tok_cached_tok;

struct lp_tok_workspace {
    tok_arena arena;
    TOK_VEC(char) nb_s;       /* transform builder output */
    TOK_VEC(tok_align) nb_al;
    TOK_VEC(tok_token) toks;
    tok_split_vec splits[2];
    TOK_VEC(uint32_t) u32a;   /* scratch */
    TOK_VEC(uint32_t) u32b;
    TOK_VEC(double) dbl;
    TOK_VEC(uint64_t) u64a;
    size_t norm_limit;        /* 0: TOK_MAX_NORMALIZED */
    TOK_VEC(char) text;       /* repaired input */
    tok_match_vec matches;
    TOK_VEC(uint32_t) charidx; /* byte -> code point index */
    /* BPE word cache */
    const lp_tokenizer *cache_owner;
    tok_cache_entry *cache;
    uint32_t cache_mask;
    size_t cache_used;
    TOK_VEC(char) cache_keys;
    TOK_VEC(tok_cached_tok) cache_toks;
};

/* ------------------------------------------------------------- components */

/* Normalizes one split in place (n replaced by its normalized version). */
bool tok_normalize(const tok_normalizer *nz, lp_tok_workspace *ws, tok_nstr *n);
bool tok_nfx(lp_tok_workspace *ws, tok_nstr *n, bool compat, bool compose);
bool tok_lowercase(lp_tok_workspace *ws, tok_nstr *n);
bool tok_filter_marks(lp_tok_workspace *ws, tok_nstr *n, bool (*is_mark)(uint32_t));
bool tok_replace(lp_tok_workspace *ws, tok_nstr *n, const tok_pattern *p, const char *content,
                 size_t content_len);
bool tok_prepend(lp_tok_workspace *ws, tok_nstr *n, const char *s, size_t len);
bool tok_strip(lp_tok_workspace *ws, tok_nstr *n, bool left, bool right);
bool tok_precompiled_normalize(const tok_precompiled *pc, lp_tok_workspace *ws, tok_nstr *n);
tok_precompiled *tok_precompiled_parse(tok_arena *pool, const unsigned char *data, size_t len,
                                       lp_error *err);

/* Pre-tokenizes: rewrites ws->splits[*cur] into the other list. */
bool tok_pretokenize(const tok_pretok *pt, lp_tok_workspace *ws, int *cur);
/* Splits one string by matches [(s, e, is_match)...] covering it, per behavior;
 * appends the non-empty pieces to out. */
bool tok_split_by_matches(const tok_nstr *n, const tok_match *m, size_t nm, tok_behavior b,
                          tok_split_vec *out);
/* Matches of a pattern in s[0..len), HF Pattern::find_matches. */
/* Clears `out` first. */
bool tok_pattern_matches(const tok_pattern *p, const char *s, uint32_t len, tok_match_vec *out);

/* GPT-2 byte <-> char maps. */
extern uint32_t tok_byte_to_char[256];
int tok_char_to_byte(uint32_t c); /* -1 when c is not a byte char */
void tok_bytelevel_init(void);
/* Appends (start, end, is_match) for the GPT-2 regex over s[0..len). */
bool tok_gpt2_matches(const char *s, uint32_t len, tok_match_vec *out);

/* Regex (a backtracking engine for the subset of Oniguruma syntax that
 * tokenizer files use). */
tok_regex *tok_regex_compile(tok_arena *pool, const char *pattern, size_t len, char *errbuf,
                             size_t errlen);
/* Finds the leftmost match at or after `from`; returns false when none. */
bool tok_regex_search(const tok_regex *re, const char *s, size_t len, size_t from, size_t *ms,
                      size_t *me);

/* Models: tokenize one split's normalized string, appending tokens to ws->toks. */
lp_status tok_model_tokenize(const tok_model *m, lp_tok_workspace *ws, const lp_tokenizer *tok,
                             const char *s, uint32_t len, lp_error *err);
lp_status tok_wordpiece_tokenize(const tok_model *m, lp_tok_workspace *ws, const char *s,
                                 uint32_t len, lp_error *err);
lp_status tok_bpe_tokenize(const tok_model *m, lp_tok_workspace *ws, const lp_tokenizer *tok,
                           const char *s, uint32_t len, lp_error *err);
lp_status tok_unigram_tokenize(const tok_model *m, lp_tok_workspace *ws, const char *s,
                               uint32_t len, lp_error *err);
bool tok_bpe_add_merge(tok_model *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t new_id);
bool tok_bpe_init_merges(tok_model *m, size_t expected);
void tok_model_finish(tok_model *m); /* byte ids, max lengths */
void tok_model_free(tok_model *m);

/* Byte-trie matcher over a set of patterns (value = pattern index). */
lp_status tok_matcher_build(tok_arena *pool, const char *const *pats, const size_t *lens, size_t n,
                            tok_matcher *m, lp_error *err);
/* End of the longest pattern starting at s[i] (value in *value), or 0. */
size_t tok_matcher_longest(const tok_matcher *m, const char *s, size_t len, size_t i, int32_t *value);

/* Added vocabulary. */
lp_status tok_added_build(lp_tokenizer *tok, lp_error *err);
/* Splits `split` by the matcher's tokens; appends to out. */
bool tok_added_split(const lp_tokenizer *tok, const tok_matcher *m, lp_tok_workspace *ws,
                     const tok_nstr *n, tok_split_vec *out);
const tok_added *tok_added_by_id(const lp_tokenizer *tok, int32_t id);
bool tok_is_special_token(const lp_tokenizer *tok, const char *s, size_t len);

/* Post-processing and encoding operations. */
typedef lp_tok_encoding tok_enc;
bool tok_enc_alloc(tok_arena *a, tok_enc *e, size_t n);
bool tok_enc_merge(tok_arena *a, tok_enc *self, const tok_enc *pair, bool growing_offsets);
bool tok_enc_truncate(tok_arena *a, tok_enc *e, size_t max_len, size_t stride,
                      lp_tok_direction dir);
bool tok_enc_pad(tok_arena *a, tok_enc *e, size_t target, const lp_tok_padding *p);
lp_status tok_truncate_encodings(tok_arena *a, tok_enc *e, tok_enc *pair,
                                 const lp_tok_truncation *t, lp_error *err);
size_t tok_post_added(const tok_post *p, bool is_pair);
lp_status tok_post_process(const tok_post *p, tok_arena *a, tok_enc *encs, size_t nenc,
                           bool add_special, tok_enc *out, lp_error *err);

/* Decoders: rewrite a list of token strings (arena-allocated). */
typedef struct tok_str {
    const char *s;
    size_t n;
} tok_str;
bool tok_decode_chain(const tok_decoder *d, tok_arena *a, tok_str **toks, size_t *n);

/* Loaders. */
lp_status tok_load_json(const char *json, size_t len, const char *name, const char *dir,
                        lp_tokenizer **out, lp_error *err);
lp_status tok_load_bert_vocab(const char *vocab_path, const char *config_path,
                              lp_tokenizer **out, lp_error *err);
lp_status tok_load_spm(const unsigned char *data, size_t len, const char *name,
                       lp_tokenizer **out, lp_error *err);
lp_tokenizer *tok_new(const char *name);
lp_status tok_finish_load(lp_tokenizer *tok, lp_error *err);
bool tok_read_file(const char *path, char **data, size_t *len, lp_error *err);

/* Encoding of one sequence through the pipeline (before post-processing). */
lp_status tok_encode_sequence(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                              size_t len, uint32_t type_id, tok_enc *out, lp_error *err);

#endif
