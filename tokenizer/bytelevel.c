/* GPT-2's byte-level pieces: the byte <-> printable char map, and the
 * pre-tokenization regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matched by hand (leftmost alternative first, greedy, as Oniguruma does). */
#include <pthread.h>

#include "tokenizer/internal.h"

uint32_t tok_byte_to_char[256];
static int16_t char_to_byte_low[512]; /* chars < 512 map back; -1 otherwise */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    /* Printable bytes map to themselves; the others to 256 + n in byte order. */
    uint32_t n = 0;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        tok_byte_to_char[b] = keep ? (uint32_t)b : 256 + n++;
    }
    for (int i = 0; i < 512; i++) char_to_byte_low[i] = -1;
    for (int b = 0; b < 256; b++) char_to_byte_low[tok_byte_to_char[b]] = (int16_t)b;
}

void tok_bytelevel_init(void) { pthread_once(&init_once, init_tables); }

int tok_char_to_byte(uint32_t c) { return c < 512 ? char_to_byte_low[c] : -1; }

typedef struct cls_char {
    uint32_t c;
    size_t next;
} cls_char;

static inline cls_char peek(const char *s, uint32_t len, size_t i) {
    cls_char r = {0, i};
    if (i < len) r.c = lp_tok_utf8_next(s, &r.next);
    return r;
}

static size_t run_of(const char *s, uint32_t len, size_t i, int kind) {
    while (i < len) {
        cls_char x = peek(s, len, i);
        bool ok;
        if (kind == 0)
            ok = lp_tok_is_letter(x.c);
        else if (kind == 1)
            ok = lp_tok_is_number(x.c);
        else if (kind == 2)
            ok = !lp_tok_is_white_space(x.c) && !lp_tok_is_letter(x.c) && !lp_tok_is_number(x.c);
        else
            ok = lp_tok_is_white_space(x.c);
        if (!ok) break;
        i = x.next;
    }
    return i;
}

/* Length of the match at i (> 0), or 0 when no alternative matches. */
static size_t match_at(const char *s, uint32_t len, size_t i) {
    if (s[i] == '\'' && i + 1 < len) {
        char a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if (i + 2 < len) {
            char b = s[i + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
        }
    }
    size_t body = (s[i] == ' ') ? i + 1 : i;
    for (int kind = 0; kind < 3; kind++) {
        /* " ?X+": with the space when X follows it, else X+ from i itself. */
        size_t e = body < len ? run_of(s, len, body, kind) : body;
        if (e > body) return e - i;
        if (body != i) {
            e = run_of(s, len, i, kind);
            if (e > i) return e - i;
        }
    }
    size_t e = run_of(s, len, i, 3);
    if (e > i) {
        if (e >= len) return e - i;
        /* \s+(?!\S): give back the last space so a word can take it. */
        size_t last = i, k = i;
        while (k < e) {
            last = k;
            k += (size_t)lp_tok_utf8_len((unsigned char)s[k]);
        }
        if (last > i) return last - i;
        return e - i; /* \s+ */
    }
    return 0;
}

bool tok_gpt2_matches(const char *s, uint32_t len, tok_match_vec *out) {
    out->n = 0;
    if (len == 0) return tok_vec_push(out, ((tok_match){0, 0, false}));
    uint32_t prev = 0;
    size_t i = 0;
    while (i < len) {
        size_t m = match_at(s, len, i);
        if (m == 0) {
            i += (size_t)lp_tok_utf8_len((unsigned char)s[i]);
            continue;
        }
        if (prev != i && !tok_vec_push(out, ((tok_match){prev, (uint32_t)i, false}))) return false;
        if (!tok_vec_push(out, ((tok_match){(uint32_t)i, (uint32_t)(i + m), true}))) return false;
        i += m;
        prev = (uint32_t)i;
    }
    if (prev != len && !tok_vec_push(out, ((tok_match){prev, len, false}))) return false;
    return true;
}
