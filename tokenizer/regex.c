/* A small backtracking regex engine for the patterns tokenizer files carry
 * (Split / Replace with {"Regex": ...}). HF compiles those with Oniguruma in
 * its Ruby syntax, so this follows Oniguruma's semantics: leftmost match,
 * alternatives tried in order, greedy / lazy / possessive quantifiers,
 * Unicode \s \d \w, ^ and $ as line anchors.
 *
 * Supported: literals and escapes (\t \n \r \f \v \e \xHH \x{H..} \uHHHH),
 * . \s \S \d \D \w \W \h \H \p{..} \P{..} (general categories; Han, Hiragana,
 * Katakana, Hangul, Latin, Greek, Cyrillic by block), [classes] with ranges,
 * negation and nested escapes, groups (...) (?:...) (?i) (?i:...) (?-i:...),
 * alternation, * + ? {n} {n,} {n,m} {,m} with ? (lazy) or + (possessive),
 * anchors ^ $ \A \z \Z \b \B, lookahead (?= ) (?! ) and fixed-length
 * lookbehind (?<= ) (?<! ). Anything else is a compile error that names it.
 *
 * Repeats of a single-character matcher run as loops (no recursion per char),
 * so a pattern like \s+ on a megabyte of spaces does not exhaust the stack;
 * a step budget turns pathological backtracking into "no match". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "tokenizer/internal.h"

/* ------------------------------------------------------------ char sets */

enum { PROP_CAT, PROP_RANGE };

typedef struct rprop {
    uint32_t cat_mask; /* bit per utf8proc category */
    const lp_tok_range *ranges;
    size_t nranges;
    bool negate;
} rprop;

typedef struct rset {
    lp_tok_range *ranges; /* explicit chars and ranges */
    size_t nranges;
    rprop *props;
    size_t nprops;
    bool negate;
    bool icase;
} rset;

typedef enum rkind {
    R_SET,      /* one char in a set (also literals, ., \s ...) */
    R_GROUP,    /* alternation */
    R_BOL,
    R_EOL,
    R_BOS,      /* \A */
    R_EOS,      /* \z */
    R_EOS_NL,   /* \Z */
    R_WORDB,    /* \b */
    R_NWORDB,   /* \B */
    R_LOOK      /* lookahead / lookbehind */
} rkind;

struct ralt;

typedef struct ritem {
    rkind kind;
    rset set;
    struct ralt *alt; /* R_GROUP, R_LOOK */
    bool behind, negate;
    size_t min, max; /* max SIZE_MAX = unbounded */
    bool lazy, possessive;
} ritem;

typedef struct rseq {
    ritem *items;
    size_t n;
} rseq;

typedef struct ralt {
    rseq *seqs;
    size_t n;
} ralt;

struct tok_regex {
    ralt *root;
};

static bool cp_in_set(const rset *s, uint32_t c);

static bool in_prop(const rprop *p, uint32_t c) {
    bool r;
    if (p->ranges) {
        r = lp_tok_in_ranges(c, p->ranges, p->nranges);
    } else {
        int k = c <= 0x10FFFF ? (int)utf8proc_category((utf8proc_int32_t)c) : 0;
        if (k == UTF8PROC_CATEGORY_CN) k = lp_tok_onig_new_category(c);
        r = (p->cat_mask >> k) & 1u;
    }
    return r != p->negate;
}

static bool set_raw(const rset *s, uint32_t c) {
    if (lp_tok_in_ranges(c, s->ranges, s->nranges)) return true;
    for (size_t i = 0; i < s->nprops; i++)
        if (in_prop(&s->props[i], c)) return true;
    return false;
}

static bool cp_in_set(const rset *s, uint32_t c) {
    bool r = set_raw(s, c);
    if (!r && s->icase) {
        uint32_t l = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
        uint32_t u = (uint32_t)utf8proc_toupper((utf8proc_int32_t)c);
        r = (l != c && set_raw(s, l)) || (u != c && set_raw(s, u));
    }
    return r != s->negate;
}

/* ------------------------------------------------------------- compiler */

typedef struct rc {
    tok_arena *pool;
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    bool icase;
    bool failed;
    int depth;
} rc;

static void *rc_fail(rc *c, const char *msg) {
    if (!c->failed) {
        snprintf(c->err, c->errlen, "%s at offset %zu", msg, (size_t)(c->p - c->start));
        c->failed = true;
    }
    return NULL;
}

/* Grow-by-copy arrays in the pool (patterns are small). */
static void *grow(rc *c, void *old, size_t n, size_t elem) {
    void *p = ta_alloc(c->pool, (n + 1) * elem);
    if (!p) return rc_fail(c, "out of memory");
    if (old && n) memcpy(p, old, n * elem);
    return p;
}

static bool set_add_range(rc *c, rset *s, uint32_t lo, uint32_t hi) {
    lp_tok_range *r = grow(c, s->ranges, s->nranges, sizeof *r);
    if (!r) return false;
    r[s->nranges++] = (lp_tok_range){lo, hi};
    s->ranges = r;
    return true;
}

static bool set_add_prop(rc *c, rset *s, rprop p) {
    rprop *r = grow(c, s->props, s->nprops, sizeof *r);
    if (!r) return false;
    r[s->nprops++] = p;
    s->props = r;
    return true;
}

static int cmp_range(const void *a, const void *b) {
    const lp_tok_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges ranges so lp_tok_in_ranges can binary-search them. */
static void set_finish(rset *s) {
    if (s->nranges < 2) return;
    qsort(s->ranges, s->nranges, sizeof *s->ranges, cmp_range);
    size_t k = 0;
    for (size_t i = 1; i < s->nranges; i++) {
        if (s->ranges[i].lo <= s->ranges[k].hi + 1) {
            if (s->ranges[i].hi > s->ranges[k].hi) s->ranges[k].hi = s->ranges[i].hi;
        } else {
            s->ranges[++k] = s->ranges[i];
        }
    }
    s->nranges = k + 1;
}

#define CAT(x) (1u << UTF8PROC_CATEGORY_##x)
static const struct {
    const char *name;
    uint32_t mask;
} CATS[] = {
    {"L", CAT(LU) | CAT(LL) | CAT(LT) | CAT(LM) | CAT(LO)},
    {"Letter", CAT(LU) | CAT(LL) | CAT(LT) | CAT(LM) | CAT(LO)},
    {"Lu", CAT(LU)}, {"Ll", CAT(LL)}, {"Lt", CAT(LT)}, {"Lm", CAT(LM)}, {"Lo", CAT(LO)},
    {"LC", CAT(LU) | CAT(LL) | CAT(LT)},
    {"M", CAT(MN) | CAT(MC) | CAT(ME)}, {"Mark", CAT(MN) | CAT(MC) | CAT(ME)},
    {"Mn", CAT(MN)}, {"Mc", CAT(MC)}, {"Me", CAT(ME)},
    {"N", CAT(ND) | CAT(NL) | CAT(NO)}, {"Number", CAT(ND) | CAT(NL) | CAT(NO)},
    {"Nd", CAT(ND)}, {"Nl", CAT(NL)}, {"No", CAT(NO)},
    {"P", CAT(PC) | CAT(PD) | CAT(PS) | CAT(PE) | CAT(PI) | CAT(PF) | CAT(PO)},
    {"Punctuation", CAT(PC) | CAT(PD) | CAT(PS) | CAT(PE) | CAT(PI) | CAT(PF) | CAT(PO)},
    {"Pc", CAT(PC)}, {"Pd", CAT(PD)}, {"Ps", CAT(PS)}, {"Pe", CAT(PE)}, {"Pi", CAT(PI)},
    {"Pf", CAT(PF)}, {"Po", CAT(PO)},
    {"S", CAT(SM) | CAT(SC) | CAT(SK) | CAT(SO)}, {"Symbol", CAT(SM) | CAT(SC) | CAT(SK) | CAT(SO)},
    {"Sm", CAT(SM)}, {"Sc", CAT(SC)}, {"Sk", CAT(SK)}, {"So", CAT(SO)},
    {"Z", CAT(ZS) | CAT(ZL) | CAT(ZP)}, {"Separator", CAT(ZS) | CAT(ZL) | CAT(ZP)},
    {"Zs", CAT(ZS)}, {"Zl", CAT(ZL)}, {"Zp", CAT(ZP)},
    {"C", CAT(CC) | CAT(CF) | CAT(CS) | CAT(CO) | CAT(CN)},
    {"Other", CAT(CC) | CAT(CF) | CAT(CS) | CAT(CO) | CAT(CN)},
    {"Cc", CAT(CC)}, {"Cf", CAT(CF)}, {"Cs", CAT(CS)}, {"Co", CAT(CO)}, {"Cn", CAT(CN)},
};
#undef CAT

static const lp_tok_range HAN[] = {{0x2E80, 0x2E99}, {0x2E9B, 0x2EF3}, {0x2F00, 0x2FD5}, {0x3005, 0x3005},
                                   {0x3007, 0x3007}, {0x3021, 0x3029}, {0x3038, 0x303B}, {0x3400, 0x4DBF},
                                   {0x4E00, 0x9FFF}, {0xF900, 0xFA6D}, {0xFA70, 0xFAD9}, {0x16FE2, 0x16FE3},
                                   {0x16FF0, 0x16FF1}, {0x20000, 0x2A6DF}, {0x2A700, 0x2B739},
                                   {0x2B740, 0x2B81D}, {0x2B820, 0x2CEA1}, {0x2CEB0, 0x2EBE0},
                                   {0x2F800, 0x2FA1D}, {0x30000, 0x3134A}, {0x31350, 0x323AF}};
static const lp_tok_range HIRAGANA[] = {{0x3041, 0x3096}, {0x309D, 0x309F}, {0x1B001, 0x1B11F},
                                        {0x1B132, 0x1B132}, {0x1B150, 0x1B152}, {0x1F200, 0x1F200}};
static const lp_tok_range KATAKANA[] = {{0x30A1, 0x30FA}, {0x30FD, 0x30FF}, {0x31F0, 0x31FF},
                                        {0x32D0, 0x32FE}, {0x3300, 0x3357}, {0xFF66, 0xFF6F},
                                        {0xFF71, 0xFF9D}, {0x1AFF0, 0x1B000}, {0x1B120, 0x1B122},
                                        {0x1B155, 0x1B155}, {0x1B164, 0x1B167}};
static const lp_tok_range HANGUL[] = {{0x1100, 0x11FF}, {0x302E, 0x302F}, {0x3131, 0x318E},
                                      {0x3200, 0x321E}, {0x3260, 0x327E}, {0xA960, 0xA97C},
                                      {0xAC00, 0xD7A3}, {0xD7B0, 0xD7C6}, {0xD7CB, 0xD7FB},
                                      {0xFFA0, 0xFFBE}, {0xFFC2, 0xFFC7}, {0xFFCA, 0xFFCF},
                                      {0xFFD2, 0xFFD7}, {0xFFDA, 0xFFDC}};
static const lp_tok_range LATIN[] = {{0x41, 0x5A},     {0x61, 0x7A},     {0xAA, 0xAA},     {0xBA, 0xBA},
                                     {0xC0, 0xD6},     {0xD8, 0xF6},     {0xF8, 0x2B8},    {0x2E0, 0x2E4},
                                     {0x1D00, 0x1D25}, {0x1D2C, 0x1D5C}, {0x1D62, 0x1D65}, {0x1D6B, 0x1D77},
                                     {0x1D79, 0x1DBE}, {0x1E00, 0x1EFF}, {0x2071, 0x2071}, {0x207F, 0x207F},
                                     {0x2090, 0x209C}, {0x212A, 0x212B}, {0x2132, 0x2132}, {0x214E, 0x214E},
                                     {0x2160, 0x2188}, {0x2C60, 0x2C7F}, {0xA722, 0xA787}, {0xA78B, 0xA7CA},
                                     {0xA7F2, 0xA7FF}, {0xAB30, 0xAB5A}, {0xAB5C, 0xAB64}, {0xFB00, 0xFB06},
                                     {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}};
static const lp_tok_range GREEK[] = {{0x370, 0x373}, {0x375, 0x377}, {0x37A, 0x37D}, {0x37F, 0x37F},
                                     {0x384, 0x384}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
                                     {0x38E, 0x3A1}, {0x3A3, 0x3E1}, {0x3F0, 0x3FF}, {0x1D26, 0x1D2A},
                                     {0x1F00, 0x1FFE}, {0x2126, 0x2126}};
static const lp_tok_range CYRILLIC[] = {{0x400, 0x484}, {0x487, 0x52F}, {0x1C80, 0x1C88}, {0x1D2B, 0x1D2B},
                                        {0x2DE0, 0x2DFF}, {0xA640, 0xA69F}, {0xFE2E, 0xFE2F}};

static bool parse_prop(rc *c, rset *s, bool negate) {
    /* after \p or \P: {Name} or {^Name} or a single letter */
    char name[40];
    size_t n = 0;
    if (c->p < c->end && *c->p == '{') {
        c->p++;
        if (c->p < c->end && *c->p == '^') {
            negate = !negate;
            c->p++;
        }
        while (c->p < c->end && *c->p != '}' && n + 1 < sizeof name) name[n++] = *c->p++;
        if (c->p >= c->end || *c->p != '}') return rc_fail(c, "unterminated \\p{...}"), false;
        c->p++;
    } else if (c->p < c->end) {
        name[n++] = *c->p++;
    }
    name[n] = '\0';
    /* Oniguruma ignores case, spaces, '_' and '-' in property names. */
    char key[40];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] != ' ' && name[i] != '_' && name[i] != '-') key[k++] = name[i];
    key[k] = '\0';
    rprop p = {0, NULL, 0, negate};
    for (size_t i = 0; i < sizeof CATS / sizeof CATS[0]; i++)
        if (!strcasecmp(key, CATS[i].name) && (strlen(key) > 2 || !strcmp(key, CATS[i].name) ||
                                                strlen(key) == 1)) {
            p.cat_mask = CATS[i].mask;
            return set_add_prop(c, s, p);
        }
    static const struct {
        const char *name;
        const lp_tok_range *r;
        size_t n;
    } scripts[] = {{"Han", HAN, sizeof HAN / sizeof HAN[0]},
                   {"Hiragana", HIRAGANA, sizeof HIRAGANA / sizeof HIRAGANA[0]},
                   {"Katakana", KATAKANA, sizeof KATAKANA / sizeof KATAKANA[0]},
                   {"Hangul", HANGUL, sizeof HANGUL / sizeof HANGUL[0]},
                   {"Latin", LATIN, sizeof LATIN / sizeof LATIN[0]},
                   {"Greek", GREEK, sizeof GREEK / sizeof GREEK[0]},
                   {"Cyrillic", CYRILLIC, sizeof CYRILLIC / sizeof CYRILLIC[0]}};
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++)
        if (!strcasecmp(key, scripts[i].name)) {
            p.ranges = scripts[i].r;
            p.nranges = scripts[i].n;
            return set_add_prop(c, s, p);
        }
    char msg[96];
    snprintf(msg, sizeof msg, "unsupported Unicode property '%s'", name);
    rc_fail(c, msg);
    return false;
}

static uint32_t next_cp(rc *c) {
    size_t n = (size_t)(c->end - c->p);
    if (!n) return 0;
    size_t l = (size_t)lp_tok_utf8_len((unsigned char)*c->p);
    if (l > n || !lp_tok_utf8_valid(c->p, l)) {
        rc_fail(c, "pattern is not valid UTF-8");
        c->p = c->end;
        return 0;
    }
    size_t i = 0;
    uint32_t cp = lp_tok_utf8_next(c->p, &i);
    c->p += i;
    return cp;
}

static int hexv(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static bool read_hex(rc *c, size_t maxdigits, bool braced, uint32_t *out) {
    uint32_t v = 0;
    size_t d = 0;
    if (braced) c->p++;
    while (c->p < c->end && d < maxdigits && hexv(*c->p) >= 0) {
        v = v * 16 + (uint32_t)hexv(*c->p++);
        d++;
    }
    if (braced) {
        if (c->p >= c->end || *c->p != '}') return rc_fail(c, "bad \\x{...}"), false;
        c->p++;
    }
    if (!d || v > 0x10FFFF) return rc_fail(c, "bad hex escape"), false;
    *out = v;
    return true;
}

static bool add_class_escape(rc *c, rset *s, char e) {
    switch (e) {
    case 'd': return set_add_prop(c, s, (rprop){1u << UTF8PROC_CATEGORY_ND, NULL, 0, false});
    case 'D': return set_add_prop(c, s, (rprop){1u << UTF8PROC_CATEGORY_ND, NULL, 0, true});
    case 's':
    case 'S': {
        static const lp_tok_range ws[] = {{0x9, 0xD},       {0x20, 0x20},     {0x85, 0x85},
                                          {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
                                          {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                                          {0x3000, 0x3000}};
        return set_add_prop(c, s, (rprop){0, ws, sizeof ws / sizeof ws[0], e == 'S'});
    }
    case 'h':
    case 'H': {
        static const lp_tok_range hx[] = {{'0', '9'}, {'A', 'F'}, {'a', 'f'}};
        return set_add_prop(c, s, (rprop){0, hx, 3, e == 'H'});
    }
    case 'w':
    case 'W':
        return set_add_prop(c, s, (rprop){0, lp_tok_onig_word, lp_tok_onig_word_count, e == 'W'});
    }
    return false;
}

/* One escaped char or class after '\'. Returns false on error; *is_class
 * tells whether it added a class instead of setting *cp. */
static bool parse_escape(rc *c, rset *s, uint32_t *cp, bool *is_class) {
    *is_class = false;
    if (c->p >= c->end) return rc_fail(c, "trailing backslash"), false;
    char e = *c->p++;
    switch (e) {
    case 'd': case 'D': case 's': case 'S': case 'w': case 'W': case 'h': case 'H':
        *is_class = true;
        return add_class_escape(c, s, e);
    case 'p':
    case 'P':
        *is_class = true;
        return parse_prop(c, s, e == 'P');
    case 't': *cp = '\t'; return true;
    case 'n': *cp = '\n'; return true;
    case 'r': *cp = '\r'; return true;
    case 'f': *cp = '\f'; return true;
    case 'v': *cp = '\v'; return true;
    case 'a': *cp = 7; return true;
    case 'e': *cp = 27; return true;
    case '0': *cp = 0; return true;
    case 'x':
        if (c->p < c->end && *c->p == '{') return read_hex(c, 8, true, cp);
        return read_hex(c, 2, false, cp);
    case 'u': return read_hex(c, 4, false, cp);
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '1' && e <= '9')) {
            char msg[64];
            snprintf(msg, sizeof msg, "unsupported escape \\%c", e);
            return rc_fail(c, msg), false;
        }
        c->p--;
        *cp = next_cp(c);
        return !c->failed;
    }
}

static bool parse_class(rc *c, rset *s) {
    /* after '[' */
    if (c->p < c->end && *c->p == '^') {
        s->negate = true;
        c->p++;
    }
    bool first = true;
    while (c->p < c->end && (*c->p != ']' || first)) {
        first = false;
        uint32_t lo;
        bool cls = false;
        if (*c->p == '[') {
            if (c->end - c->p >= 2 && c->p[1] == ':') return rc_fail(c, "POSIX classes are not supported"), false;
            return rc_fail(c, "nested classes are not supported"), false;
        }
        if (*c->p == '&' && c->end - c->p >= 2 && c->p[1] == '&')
            return rc_fail(c, "class intersection is not supported"), false;
        if (*c->p == '\\') {
            c->p++;
            if (!parse_escape(c, s, &lo, &cls)) return false;
            if (cls) continue;
        } else {
            lo = next_cp(c);
            if (c->failed) return false;
        }
        uint32_t hi = lo;
        if (c->end - c->p >= 2 && *c->p == '-' && c->p[1] != ']') {
            c->p++;
            if (*c->p == '\\') {
                c->p++;
                if (!parse_escape(c, s, &hi, &cls)) return false;
                if (cls) return rc_fail(c, "a class cannot end a range"), false;
            } else {
                hi = next_cp(c);
                if (c->failed) return false;
            }
            if (hi < lo) return rc_fail(c, "range out of order"), false;
        }
        if (!set_add_range(c, s, lo, hi)) return false;
    }
    if (c->p >= c->end) return rc_fail(c, "unterminated [class]"), false;
    c->p++;
    set_finish(s);
    s->icase = c->icase;
    return true;
}

static ralt *parse_alt(rc *c);

static bool parse_quant(rc *c, ritem *it) {
    it->min = it->max = 1;
    if (c->p >= c->end) return true;
    char q = *c->p;
    if (q == '*' || q == '+' || q == '?') {
        c->p++;
        it->min = q == '+' ? 1 : 0;
        it->max = q == '?' ? 1 : SIZE_MAX;
    } else if (q == '{') {
        /* {n}, {n,}, {n,m}, {,m}; anything else is a literal '{' in Oniguruma */
        const char *save = c->p;
        c->p++;
        size_t a = 0, b = 0;
        bool ha = false, hb = false, comma = false;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            a = a * 10 + (size_t)(*c->p++ - '0');
            ha = true;
            if (a > 100000) return rc_fail(c, "repeat count too large"), false;
        }
        if (c->p < c->end && *c->p == ',') {
            comma = true;
            c->p++;
            while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                b = b * 10 + (size_t)(*c->p++ - '0');
                hb = true;
                if (b > 100000) return rc_fail(c, "repeat count too large"), false;
            }
        }
        if (c->p >= c->end || *c->p != '}' || (!ha && !hb)) {
            c->p = save;
            return true;
        }
        c->p++;
        it->min = ha ? a : 0;
        it->max = comma ? (hb ? b : SIZE_MAX) : a;
        if (it->max < it->min) return rc_fail(c, "repeat range out of order"), false;
    } else {
        return true;
    }
    if (c->p < c->end && *c->p == '?') {
        it->lazy = true;
        c->p++;
    } else if (c->p < c->end && *c->p == '+') {
        it->possessive = true;
        c->p++;
    }
    return true;
}

static bool single_set(rc *c, ritem *it, uint32_t cp) {
    it->kind = R_SET;
    if (!set_add_range(c, &it->set, cp, cp)) return false;
    it->set.icase = c->icase;
    return true;
}

static rseq *parse_seq(rc *c) {
    rseq *s = ta_zalloc(c->pool, sizeof *s);
    if (!s) return rc_fail(c, "out of memory");
    while (c->p < c->end && *c->p != '|' && *c->p != ')') {
        ritem it;
        memset(&it, 0, sizeof it);
        char ch = *c->p;
        bool quantifiable = true;
        if (ch == '(') {
            c->p++;
            bool saved_icase = c->icase;
            if (c->p < c->end && *c->p == '?') {
                c->p++;
                char k = c->p < c->end ? *c->p : 0;
                if (k == ':') {
                    c->p++;
                    it.kind = R_GROUP;
                } else if (k == '=' || k == '!') {
                    c->p++;
                    it.kind = R_LOOK;
                    it.negate = k == '!';
                    quantifiable = false;
                } else if (k == '<' && c->end - c->p >= 2 && (c->p[1] == '=' || c->p[1] == '!')) {
                    it.kind = R_LOOK;
                    it.behind = true;
                    it.negate = c->p[1] == '!';
                    c->p += 2;
                    quantifiable = false;
                } else if (k == '>') {
                    c->p++;
                    it.kind = R_GROUP;
                    it.possessive = true; /* atomic group: treated as possessive {1} */
                } else {
                    /* flags: (?i) (?-i) (?i:...) */
                    bool on = true, any = false, local = false;
                    bool icase = c->icase;
                    while (c->p < c->end && *c->p != ')' && *c->p != ':') {
                        char f = *c->p++;
                        if (f == '-')
                            on = false;
                        else if (f == 'i')
                            icase = on, any = true;
                        else if (f == 'x' || f == 'm')
                            return rc_fail(c, "regex flags other than i are not supported");
                        else
                            return rc_fail(c, "unknown group syntax (?...)");
                    }
                    if (c->p >= c->end || !any) return rc_fail(c, "unknown group syntax (?...)");
                    local = *c->p == ':';
                    c->p++;
                    if (!local) {
                        c->icase = icase; /* applies to the rest of the enclosing group */
                        continue;
                    }
                    c->icase = icase;
                    it.kind = R_GROUP;
                }
            } else {
                it.kind = R_GROUP; /* capture groups are just groups here */
            }
            if (++c->depth > 200) return rc_fail(c, "groups nested too deeply");
            it.alt = parse_alt(c);
            c->depth--;
            c->icase = saved_icase;
            if (!it.alt) return NULL;
            if (c->p >= c->end || *c->p != ')') return rc_fail(c, "missing ')'");
            c->p++;
            if (it.kind == R_LOOK && it.behind) {
                /* every branch must have a fixed length in chars */
                for (size_t b = 0; b < it.alt->n; b++)
                    for (size_t i = 0; i < it.alt->seqs[b].n; i++) {
                        const ritem *x = &it.alt->seqs[b].items[i];
                        if (x->kind == R_GROUP || x->kind == R_LOOK || (x->kind == R_SET && x->min != x->max))
                            return rc_fail(c, "lookbehind needs plain fixed-length branches");
                    }
            }
        } else if (ch == '[') {
            c->p++;
            it.kind = R_SET;
            if (!parse_class(c, &it.set)) return NULL;
        } else if (ch == '.') {
            c->p++;
            it.kind = R_SET;
            if (!set_add_range(c, &it.set, '\n', '\n')) return NULL;
            it.set.negate = true;
        } else if (ch == '^' || ch == '$') {
            c->p++;
            it.kind = ch == '^' ? R_BOL : R_EOL;
            quantifiable = false;
        } else if (ch == '\\') {
            c->p++;
            char e = c->p < c->end ? *c->p : 0;
            if (e == 'A' || e == 'z' || e == 'Z' || e == 'b' || e == 'B') {
                c->p++;
                it.kind = e == 'A' ? R_BOS : e == 'z' ? R_EOS : e == 'Z' ? R_EOS_NL : e == 'b' ? R_WORDB : R_NWORDB;
                quantifiable = false;
            } else {
                uint32_t cp;
                bool cls;
                it.kind = R_SET;
                if (!parse_escape(c, &it.set, &cp, &cls)) return NULL;
                if (cls) {
                    set_finish(&it.set);
                } else if (!single_set(c, &it, cp)) {
                    return NULL;
                }
            }
        } else if (ch == '*' || ch == '+' || ch == '?') {
            return rc_fail(c, "quantifier without a target");
        } else {
            uint32_t cp = next_cp(c);
            if (c->failed || !single_set(c, &it, cp)) return NULL;
        }
        if (quantifiable) {
            bool atomic = it.possessive;
            it.possessive = false;
            if (!parse_quant(c, &it)) return NULL;
            if (atomic && it.min == 1 && it.max == 1) it.possessive = true;
        } else {
            it.min = it.max = 1;
            if (c->p < c->end && (*c->p == '*' || *c->p == '+' || *c->p == '?' || *c->p == '{'))
                return rc_fail(c, "quantifier after an anchor or lookaround is not supported");
        }
        ritem *items = grow(c, s->items, s->n, sizeof *items);
        if (!items) return NULL;
        items[s->n++] = it;
        s->items = items;
    }
    return s;
}

static ralt *parse_alt(rc *c) {
    ralt *a = ta_zalloc(c->pool, sizeof *a);
    if (!a) return rc_fail(c, "out of memory");
    for (;;) {
        rseq *s = parse_seq(c);
        if (!s) return NULL;
        rseq *seqs = grow(c, a->seqs, a->n, sizeof *seqs);
        if (!seqs) return NULL;
        seqs[a->n++] = *s;
        a->seqs = seqs;
        if (c->p < c->end && *c->p == '|') {
            c->p++;
            continue;
        }
        return a;
    }
}

tok_regex *tok_regex_compile(tok_arena *pool, const char *pattern, size_t len, char *errbuf,
                             size_t errlen) {
    rc c = {pool, pattern, pattern, pattern + len, errbuf, errlen, false, false, 0};
    if (errlen) errbuf[0] = '\0';
    ralt *root = parse_alt(&c);
    if (!root) return NULL;
    if (c.p != c.end) {
        rc_fail(&c, "unbalanced ')'");
        return NULL;
    }
    tok_regex *re = ta_zalloc(pool, sizeof *re);
    if (!re) return NULL;
    re->root = root;
    return re;
}

/* -------------------------------------------------------------- matcher */

typedef struct rm {
    const char *s;
    size_t len;
    size_t end;   /* end of the overall match */
    long budget;  /* backtracking steps left */
} rm;

typedef struct kont {
    const rseq *seq;
    size_t idx;
    const struct kont *up;
    /* a pending repeat of a group item */
    const ritem *rep;
    size_t count;
    size_t start; /* position where this iteration started */
} kont;

static bool match_seq(rm *m, const rseq *seq, size_t idx, size_t pos, const kont *k);
static bool match_alt(rm *m, const ralt *a, size_t pos, const kont *k);

static size_t prev_pos(const char *s, size_t pos) {
    size_t p = pos - 1;
    while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
    return p;
}

static bool is_word_at(const rm *m, size_t pos) {
    if (pos >= m->len) return false;
    size_t i = pos;
    return lp_tok_is_onig_word(lp_tok_utf8_next(m->s, &i));
}

static bool match_rep(rm *m, const ritem *it, size_t count, size_t pos, const kont *next);

static bool run_kont(rm *m, const kont *k, size_t pos) {
    if (--m->budget < 0) return false;
    if (!k) {
        m->end = pos;
        return true;
    }
    if (k->rep) {
        /* an iteration of a repeated group ended at pos */
        if (pos == k->start && k->count > k->rep->min) return false; /* empty loop: stop */
        return match_rep(m, k->rep, k->count, pos, k->up);
    }
    return match_seq(m, k->seq, k->idx, pos, k->up);
}

static bool match_rep(rm *m, const ritem *it, size_t count, size_t pos, const kont *next) {
    kont iter = {NULL, 0, next, it, count + 1, pos};
    if (it->lazy) {
        if (count >= it->min && run_kont(m, next, pos)) return true;
        if (count < it->max) return match_alt(m, it->alt, pos, &iter);
        return false;
    }
    if (count < it->max && match_alt(m, it->alt, pos, &iter)) return true;
    return count >= it->min && run_kont(m, next, pos);
}

static bool match_alt(rm *m, const ralt *a, size_t pos, const kont *k) {
    for (size_t i = 0; i < a->n; i++)
        if (match_seq(m, &a->seqs[i], 0, pos, k)) return true;
    return false;
}

/* Matches the lookaround body at pos (to anywhere / ending exactly at pos). */
static bool look(rm *m, const ritem *it, size_t pos) {
    rm sub = *m;
    if (!it->behind) {
        bool r = match_alt(&sub, it->alt, pos, NULL);
        m->budget = sub.budget;
        return r;
    }
    for (size_t b = 0; b < it->alt->n; b++) {
        const rseq *sq = &it->alt->seqs[b];
        size_t chars = 0;
        for (size_t i = 0; i < sq->n; i++)
            if (sq->items[i].kind == R_SET) chars += sq->items[i].min;
        size_t start = pos;
        bool ok = true;
        for (size_t i = 0; i < chars; i++) {
            if (start == 0) {
                ok = false;
                break;
            }
            start = prev_pos(m->s, start);
        }
        if (!ok) continue;
        sub.len = pos; /* the branch must end exactly at pos */
        if (match_seq(&sub, sq, 0, start, NULL) && sub.end == pos) {
            m->budget = sub.budget;
            return true;
        }
        sub.len = m->len;
    }
    m->budget = sub.budget;
    return false;
}

static bool match_seq(rm *m, const rseq *seq, size_t idx, size_t pos, const kont *k) {
    for (;;) {
        if (--m->budget < 0) return false;
        if (idx == seq->n) return run_kont(m, k, pos);
        const ritem *it = &seq->items[idx];
        switch (it->kind) {
        case R_BOL:
            if (!(pos == 0 || m->s[pos - 1] == '\n')) return false;
            idx++;
            continue;
        case R_EOL:
            if (!(pos == m->len || m->s[pos] == '\n')) return false;
            idx++;
            continue;
        case R_BOS:
            if (pos != 0) return false;
            idx++;
            continue;
        case R_EOS:
            if (pos != m->len) return false;
            idx++;
            continue;
        case R_EOS_NL:
            if (!(pos == m->len || (pos + 1 == m->len && m->s[pos] == '\n'))) return false;
            idx++;
            continue;
        case R_WORDB:
        case R_NWORDB: {
            bool a = pos > 0 && is_word_at(m, prev_pos(m->s, pos)), b = is_word_at(m, pos);
            if ((a != b) != (it->kind == R_WORDB)) return false;
            idx++;
            continue;
        }
        case R_LOOK:
            if (look(m, it, pos) == it->negate) return false;
            idx++;
            continue;
        case R_SET: {
            /* Greedy: take as many as allowed, then give back one by one. */
            size_t count = 0, p = pos;
            if (it->lazy) {
                for (;;) {
                    if (count >= it->min && match_seq(m, seq, idx + 1, p, k)) return true;
                    if (count >= it->max || p >= m->len) return false;
                    size_t q = p;
                    if (!cp_in_set(&it->set, lp_tok_utf8_next(m->s, &q))) return false;
                    p = q;
                    count++;
                    if (--m->budget < 0) return false;
                }
            }
            while (count < it->max && p < m->len) {
                size_t q = p;
                if (!cp_in_set(&it->set, lp_tok_utf8_next(m->s, &q))) break;
                p = q;
                count++;
            }
            if (count < it->min) return false;
            if (it->possessive || (it->min == it->max)) {
                pos = p;
                idx++;
                continue;
            }
            for (;;) {
                if (match_seq(m, seq, idx + 1, p, k)) return true;
                if (count == it->min || m->budget < 0) return false;
                p = prev_pos(m->s, p);
                count--;
            }
        }
        case R_GROUP: {
            kont after = {seq, idx + 1, k, NULL, 0, 0};
            if (it->possessive) {
                /* atomic: first way the group matches, no backtracking into it */
                rm sub = *m;
                size_t e;
                bool r;
                if (it->min == 1 && it->max == 1) {
                    r = match_alt(&sub, it->alt, pos, NULL);
                    e = sub.end;
                } else {
                    r = match_rep(&sub, it, 0, pos, NULL);
                    e = sub.end;
                }
                m->budget = sub.budget;
                if (!r) return false;
                pos = e;
                idx++;
                continue;
            }
            if (it->min == 1 && it->max == 1) return match_alt(m, it->alt, pos, &after);
            return match_rep(m, it, 0, pos, &after);
        }
        }
        return false;
    }
}

bool tok_regex_search(const tok_regex *re, const char *s, size_t len, size_t from, size_t *ms,
                      size_t *me) {
    for (size_t start = from; start <= len;) {
        rm m = {s, len, 0, 1L << 22};
        if (match_alt(&m, re->root, start, NULL)) {
            *ms = start;
            *me = m.end;
            return true;
        }
        if (start == len) break;
        start += (size_t)lp_tok_utf8_len((unsigned char)s[start]);
    }
    return false;
}
