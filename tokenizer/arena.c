/* Bump allocation for the tokenizer: load-time structures are freed all at
 * once with their tokenizer, and per-call scratch is reset between calls, so
 * neither loading a big vocabulary nor encoding a text makes a malloc per item. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

struct tok_chunk {
    tok_chunk *next;
    size_t size;
    /* data follows, 16-byte aligned */
};

#define CHUNK_HEADER ((sizeof(tok_chunk) + 15) & ~(size_t)15)

static bool add_chunk(tok_arena *a, size_t need) {
    size_t size = a->head ? a->head->size * 2 : 64 * 1024;
    if (size > (64u << 20)) size = 64u << 20;
    if (size < need) size = need;
    if (a->limit && a->total + size > a->limit) {
        if (a->total + need > a->limit) return false;
        size = need;
    }
    tok_chunk *c = malloc(CHUNK_HEADER + size);
    if (!c) return false;
    c->next = a->head;
    c->size = size;
    a->head = c;
    a->cur = (char *)c + CHUNK_HEADER;
    a->end = a->cur + size;
    a->total += size;
    return true;
}

void *ta_alloc(tok_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (!a->cur || (size_t)(a->end - a->cur) < n) {
        if (!add_chunk(a, n)) return NULL;
    }
    void *p = a->cur;
    a->cur += n;
    return p;
}

void *ta_zalloc(tok_arena *a, size_t n) {
    void *p = ta_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *ta_strndup(tok_arena *a, const char *s, size_t n) {
    char *p = ta_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ta_reset(tok_arena *a) {
    if (!a->head) return;
    /* Keep one chunk as big as everything used, so a steady workload stops
     * allocating after its first calls. */
    size_t total = a->total;
    tok_chunk *c = a->head;
    if (c->next) {
        while (c) {
            tok_chunk *next = c->next;
            free(c);
            c = next;
        }
        a->head = NULL;
        a->total = 0;
        if (a->limit && total > a->limit) total = a->limit;
        if (!add_chunk(a, total)) {
            a->cur = a->end = NULL;
            return;
        }
        return;
    }
    a->cur = (char *)c + CHUNK_HEADER;
    a->end = a->cur + c->size;
}

void ta_free(tok_arena *a) {
    tok_chunk *c = a->head;
    while (c) {
        tok_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->total = 0;
}

bool tok_vec_grow(void **v, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / elem) return false;
    void *p = realloc(*v, c * elem);
    if (!p) return false;
    *v = p;
    *cap = c;
    return true;
}
