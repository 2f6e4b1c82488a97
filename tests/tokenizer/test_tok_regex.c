/* The regex engine used for Split / Replace patterns. Expected matches were
 * produced by HF tokenizers (Oniguruma) with Split(Regex(p)) on each text,
 * as byte spans; empty matches are not listed (HF drops empty pieces). Also:
 * unsupported syntax is a clear compile error, and long inputs neither
 * overflow the stack nor take exponential time. */
#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"
#include "tokenizer/internal.h"

static const struct rcase { const char *pat; const char *text; int n; int spans[24][2]; } CASES[] = {
    {"'s|'t|'re|'ve|'m|'ll|'d| \?\\p{L}+| \?\\p{N}+| \?[^\\s\\p{L}\\p{N}]+|\\s+(\?!\\S)|\\s+", "It's  a test, 123 ok!!  \011 end ", 12, {{0, 2}, {2, 4}, {4, 5}, {5, 7}, {7, 12}, {12, 13}, {13, 17}, {17, 20}, {20, 22}, {22, 25}, {25, 29}, {29, 30}}},
    {"(\?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]\?\\p{L}+|\\p{N}{1,3}| \?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(\?!\\S)|\\s+", "DON'T stop 1234567 \342\202\2545 \344\275\240\345\245\275", 10, {{0, 3}, {3, 5}, {5, 10}, {10, 11}, {11, 14}, {14, 17}, {17, 18}, {18, 22}, {22, 23}, {23, 30}}},
    {" {2,}", "a  b   c d    ", 3, {{1, 3}, {4, 7}, {10, 14}}},
    {"^ | $", " a b ", 2, {{0, 1}, {4, 5}}},
    {"\\p{Han}+", "abc\344\270\255\346\226\207def\345\255\227", 2, {{3, 9}, {12, 15}}},
    {"(\?<=a)b", "abcbab", 2, {{1, 2}, {5, 6}}},
    {"[a-z]+\?x", "abxcdxx", 2, {{0, 3}, {3, 6}}},
    {"(ab)+", "ababxab", 2, {{0, 4}, {5, 7}}},
    {"x*", "axxb", 1, {{1, 3}}},
    {"\\b\\w", "hi there_you x\302\262", 3, {{0, 1}, {3, 4}, {13, 14}}},
    {"[A-Z][a-z]*|\\d+", "Hello World 42", 3, {{0, 5}, {6, 11}, {12, 14}}},
    {"(\?i)hello", "HeLLo hello", 2, {{0, 5}, {6, 11}}},
    {"\\s", "a b\343\200\200c\302\240d", 3, {{1, 2}, {3, 6}, {7, 9}}},
    {"[^\\s]+", "  one  two ", 2, {{2, 5}, {7, 10}}},
    {"a{2,3}", "aaaaaaa", 2, {{0, 3}, {3, 6}}},
    {"\\p{P}+", "hi!\? \302\253quote\302\273 end.", 4, {{2, 4}, {5, 7}, {12, 14}, {18, 19}}},
    {"(\?!a)\\w", "abc", 2, {{1, 2}, {2, 3}}},
};

static void test_cases(void) {
    tok_arena pool = {0};
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        char eb[200];
        tok_pattern p = {true, NULL, 0, tok_regex_compile(&pool, CASES[c].pat, strlen(CASES[c].pat), eb, sizeof eb)};
        CHECK_MSG(p.re != NULL, "case %zu: %s", c, eb);
        if (!p.re) continue;
        tok_match_vec m = {0};
        CHECK(tok_pattern_matches(&p, CASES[c].text, (uint32_t)strlen(CASES[c].text), &m));
        int k = 0;
        bool ok = true;
        for (size_t i = 0; i < m.n; i++) {
            if (!m.v[i].is_match || m.v[i].s == m.v[i].e) continue;
            ok = ok && k < CASES[c].n && (int)m.v[i].s == CASES[c].spans[k][0] &&
                 (int)m.v[i].e == CASES[c].spans[k][1];
            k++;
        }
        CHECK_MSG(ok && k == CASES[c].n, "case %zu (%s): %d matches, expected %d", c, CASES[c].pat, k, CASES[c].n);
        free(m.v);
    }
    ta_free(&pool);
}

static void test_errors_and_limits(void) {
    tok_arena pool = {0};
    char eb[200];
    static const char *bad[] = {"[[:alpha:]]", "(?x)a", "a**", "(ab", "ab)", "\\p{Nope}", "[z-a]", "\\q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eb[0] = '\0';
        CHECK_MSG(tok_regex_compile(&pool, bad[i], strlen(bad[i]), eb, sizeof eb) == NULL && eb[0],
                  "'%s' should be refused", bad[i]);
    }
    /* a megabyte of spaces: \s+ runs as a loop, not a recursion per char */
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    if (s) {
        memset(s, ' ', n);
        s[n] = 'x';
        tok_regex *re = tok_regex_compile(&pool, "\\s+(?!\\S)|\\s+", 13, eb, sizeof eb);
        size_t ms = 0, me = 0;
        CHECK(re && tok_regex_search(re, s, n + 1, 0, &ms, &me) && ms == 0 && me == n - 1);
        /* catastrophic backtracking gives up (no match) instead of hanging */
        tok_regex *evil = tok_regex_compile(&pool, "(a|a)*b", 7, eb, sizeof eb);
        memset(s, 'a', 64);
        CHECK(evil && !tok_regex_search(evil, s, 40, 0, &ms, &me));
        free(s);
    }
    ta_free(&pool);
}

int main(void) {
    test_cases();
    test_errors_and_limits();
    return lp_test_finish();
}
