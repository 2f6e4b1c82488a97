/* Unicode for the tokenizer: UTF-8 decoding and repair, and the character
 * properties that HF tokenizers' pipeline components test.
 *
 * Most properties come from utf8proc (Unicode 15). A few components of HF
 * tokenizers use older tables (Unicode 9.0, see scripts/gen_unicode_data.py);
 * the `u9` functions reproduce those so that ids and offsets match exactly. */
#ifndef LP_TOK_UNICODE_H
#define LP_TOK_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lp_tok_range {
    uint32_t lo, hi;
} lp_tok_range;

typedef struct lp_tok_compose_pair {
    uint32_t a, b, c;
} lp_tok_compose_pair;

/* Generated tables (unicode_data.c). */
extern const lp_tok_range lp_tok_u9_punct[], lp_tok_u9_other[], lp_tok_u9_mn[], lp_tok_u9_mark[],
    lp_tok_u9_norm_unassigned[];
extern const size_t lp_tok_u9_punct_count, lp_tok_u9_other_count, lp_tok_u9_mn_count,
    lp_tok_u9_mark_count, lp_tok_u9_norm_unassigned_count;
/* Generated tables (unicode_regex.c): Oniguruma's Unicode 16 additions and
 * the \w sets of Oniguruma and of Rust's regex crate. */
extern const lp_tok_range lp_tok_onig_new_L[], lp_tok_onig_new_N[], lp_tok_onig_new_Nd[],
    lp_tok_onig_new_P[], lp_tok_onig_new_S[], lp_tok_onig_new_M[], lp_tok_onig_new_Z[],
    lp_tok_onig_word[], lp_tok_rust_word[];
extern const size_t lp_tok_onig_new_L_count, lp_tok_onig_new_N_count, lp_tok_onig_new_Nd_count,
    lp_tok_onig_new_P_count, lp_tok_onig_new_S_count, lp_tok_onig_new_M_count,
    lp_tok_onig_new_Z_count, lp_tok_onig_word_count, lp_tok_rust_word_count;
extern const lp_tok_compose_pair lp_tok_rust_lower_extra[]; /* (from, to, 0) */
extern const size_t lp_tok_rust_lower_extra_count;
extern const lp_tok_compose_pair lp_tok_u9_compose[];
extern const size_t lp_tok_u9_compose_count;

/* ---- UTF-8 ---- */

/* Decodes the code point at s[*i] (s must be valid UTF-8) and advances *i. */
static inline uint32_t lp_tok_utf8_next(const char *s, size_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    uint32_t c = p[0];
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    if (c < 0xE0) {
        *i += 2;
        return ((c & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (c < 0xF0) {
        *i += 3;
        return ((c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *i += 4;
    return ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
           (p[3] & 0x3F);
}

/* Byte length of the UTF-8 sequence that starts with byte b (valid UTF-8). */
static inline int lp_tok_utf8_len(unsigned char b) {
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

static inline int lp_tok_cp_len(uint32_t c) {
    return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

/* Writes c as UTF-8 to out (4 bytes room); returns the length. */
int lp_tok_utf8_put(uint32_t c, char *out);

/* Length of `len` bytes after invalid sequences are replaced by U+FFFD the way
 * Python's bytes.decode("utf-8", errors="replace") does (one U+FFFD per maximal
 * invalid subpart; surrogates encoded as ED A0..BF xx are invalid). */
size_t lp_tok_utf8_repaired_len(const char *s, size_t len);
/* Writes the repaired text to out (room for lp_tok_utf8_repaired_len bytes). */
void lp_tok_utf8_repair(const char *s, size_t len, char *out);
/* True when s[0..len) is valid UTF-8 (no surrogates, no overlongs). */
bool lp_tok_utf8_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8. */
size_t lp_tok_utf8_count(const char *s, size_t len);

/* ---- properties ---- */

bool lp_tok_in_ranges(uint32_t c, const lp_tok_range *r, size_t n);

/* Rust char::is_whitespace (White_Space property). */
bool lp_tok_is_white_space(uint32_t c);
/* Oniguruma/regex \s: the same White_Space set. */
#define lp_tok_is_regex_space lp_tok_is_white_space
/* unicode_categories 0.1.1 is_punctuation (Unicode 9.0 P*). */
bool lp_tok_u9_is_punct(uint32_t c);
/* Rust char::is_ascii_punctuation || is_punctuation (BERT, Punctuation). */
static inline bool lp_tok_is_bert_punct(uint32_t c) {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    return lp_tok_u9_is_punct(c);
}
/* unicode_categories 0.1.1 is_other: Cc | Cf | Co (Unicode 9.0). */
bool lp_tok_u9_is_other(uint32_t c);
/* unicode_categories 0.1.1 is_mark_nonspacing (Unicode 9.0 Mn). */
bool lp_tok_u9_is_mn(uint32_t c);
/* unicode-normalization-alignments is_combining_mark (Unicode 9.0 M*). */
bool lp_tok_u9_is_mark(uint32_t c);
/* BERT's CJK ideograph blocks. */
bool lp_tok_is_chinese_char(uint32_t c);
/* Oniguruma's \p{L} and \p{N} (utf8proc categories plus Unicode 16). */
bool lp_tok_is_letter(uint32_t c);
bool lp_tok_is_number(uint32_t c);
/* Rust char::is_numeric: Nd | Nl | No. */
#define lp_tok_is_numeric lp_tok_is_number
/* \w of Rust's regex crate (Whitespace pre-tokenizer, single_word tokens). */
bool lp_tok_is_word_char(uint32_t c);
/* \w of Oniguruma (Split / Replace regex patterns). */
bool lp_tok_is_onig_word(uint32_t c);
/* Oniguruma's major class of a code point utf8proc leaves unassigned:
 * a utf8proc category to use instead (0 = still unassigned). */
int lp_tok_onig_new_category(uint32_t c);

/* Rust char::to_lowercase: writes up to 3 code points to out, returns count. */
int lp_tok_to_lower(uint32_t c, uint32_t out[3]);

/* ---- normalization data (Unicode 9.0 behaviour, see unicode.c) ---- */

int lp_tok_ccc(uint32_t c);
/* Full canonical (compat=false) or compatibility decomposition; returns the
 * number of code points written to out (room for 18), 1 when c is unchanged. */
int lp_tok_decompose(uint32_t c, bool compat, uint32_t *out);
/* Canonical composition of a starter and a following char; 0 if none. */
uint32_t lp_tok_compose(uint32_t a, uint32_t b);

#endif
