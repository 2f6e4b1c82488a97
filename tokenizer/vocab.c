/* The string -> id table behind every model and the added vocabulary:
 * open addressing sized up front, strings in one blob, the hash kept beside
 * each id so that a probe rarely compares strings. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

uint64_t tok_hash_bytes(uint64_t h, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) h = tok_hash_step(h, u[i]);
    return h;
}

static uint32_t hash_of(const char *s, size_t n) {
    return tok_hash_final(tok_hash_bytes(tok_hash_init(), s, n));
}

bool tok_vocab_init(tok_vocab *v, size_t expected_count, size_t expected_bytes) {
    memset(v, 0, sizeof *v);
    size_t cap = 64;
    while (cap < expected_count * 2) cap *= 2;
    v->mask = (uint32_t)(cap - 1);
    v->slot_id = calloc(cap, sizeof *v->slot_id);
    v->slot_hash = malloc(cap * sizeof *v->slot_hash);
    v->blob_cap = expected_bytes + expected_count + 64;
    v->blob = malloc(v->blob_cap);
    v->id_cap = expected_count ? expected_count : 16;
    v->str_off = malloc(v->id_cap * sizeof *v->str_off);
    v->str_len = malloc(v->id_cap * sizeof *v->str_len);
    if (!v->slot_id || !v->slot_hash || !v->blob || !v->str_off || !v->str_len) {
        tok_vocab_free(v);
        return false;
    }
    memset(v->str_off, 0xFF, v->id_cap * sizeof *v->str_off);
    return true;
}

void tok_vocab_free(tok_vocab *v) {
    free(v->slot_id);
    free(v->slot_hash);
    free(v->blob);
    free(v->str_off);
    free(v->str_len);
    memset(v, 0, sizeof *v);
}

static bool rehash(tok_vocab *v) {
    size_t cap = ((size_t)v->mask + 1) * 2;
    uint32_t *ids = calloc(cap, sizeof *ids), *hs = malloc(cap * sizeof *hs);
    if (!ids || !hs) {
        free(ids);
        free(hs);
        return false;
    }
    for (size_t i = 0; i <= v->mask; i++) {
        if (!v->slot_id[i]) continue;
        size_t j = v->slot_hash[i] & (cap - 1);
        while (ids[j]) j = (j + 1) & (cap - 1);
        ids[j] = v->slot_id[i];
        hs[j] = v->slot_hash[i];
    }
    free(v->slot_id);
    free(v->slot_hash);
    v->slot_id = ids;
    v->slot_hash = hs;
    v->mask = (uint32_t)(cap - 1);
    return true;
}

static bool grow_ids(tok_vocab *v, uint32_t id) {
    if (id < v->id_cap) return true;
    size_t cap = v->id_cap * 2;
    while (cap <= id) cap *= 2;
    uint32_t *o = realloc(v->str_off, cap * sizeof *o);
    if (!o) return false;
    v->str_off = o;
    uint32_t *l = realloc(v->str_len, cap * sizeof *l);
    if (!l) return false;
    v->str_len = l;
    memset(v->str_off + v->id_cap, 0xFF, (cap - v->id_cap) * sizeof *o);
    v->id_cap = cap;
    return true;
}

bool tok_vocab_put(tok_vocab *v, const char *s, size_t n, uint32_t id) {
    if (id >= 0x7FFFFFFFu || n >= 0x7FFFFFFFu) return false;
    if ((v->count + 1) * 2 > (size_t)v->mask + 1 && !rehash(v)) return false;
    uint32_t h = hash_of(s, n);
    size_t j = h & v->mask;
    while (v->slot_id[j]) {
        uint32_t old = v->slot_id[j] - 1;
        if (v->slot_hash[j] == h && v->str_len[old] == n &&
            !memcmp(v->blob + v->str_off[old], s, n)) {
            /* Same string again: the later id wins, as with a JSON map. HF's
             * id -> token table then forgets the old id (WordPiece, BPE,
             * WordLevel) or keeps it (Unigram's list). */
            if (!grow_ids(v, id)) return false;
            v->str_off[id] = v->str_off[old];
            if (!v->dup_keeps_old && old != id) v->str_off[old] = UINT32_MAX;
            v->str_len[id] = (uint32_t)n;
            v->slot_id[j] = id + 1;
            return true;
        }
        j = (j + 1) & v->mask;
    }
    if (!grow_ids(v, id)) return false;
    if (v->blob_len + n + 1 > v->blob_cap) {
        size_t cap = v->blob_cap * 2 + n + 1;
        char *b = realloc(v->blob, cap);
        if (!b) return false;
        v->blob = b;
        v->blob_cap = cap;
    }
    if (v->blob_len + n + 1 > UINT32_MAX) return false;
    memcpy(v->blob + v->blob_len, s, n);
    v->blob[v->blob_len + n] = '\0';
    v->str_off[id] = (uint32_t)v->blob_len;
    v->str_len[id] = (uint32_t)n;
    v->blob_len += n + 1;
    v->slot_id[j] = id + 1;
    v->slot_hash[j] = h;
    v->count++;
    if (n > v->max_len) v->max_len = n;
    return true;
}

int32_t tok_vocab_get_h(const tok_vocab *v, const char *s, size_t n, uint32_t h) {
    if (!v->slot_id) return -1;
    size_t j = h & v->mask;
    while (v->slot_id[j]) {
        if (v->slot_hash[j] == h) {
            uint32_t id = v->slot_id[j] - 1;
            if (v->str_len[id] == n && !memcmp(v->blob + v->str_off[id], s, n)) return (int32_t)id;
        }
        j = (j + 1) & v->mask;
    }
    return -1;
}

int32_t tok_vocab_get2_h(const tok_vocab *v, const char *a, size_t an, const char *b, size_t bn,
                         uint32_t h) {
    if (!v->slot_id) return -1;
    size_t n = an + bn;
    size_t j = h & v->mask;
    while (v->slot_id[j]) {
        if (v->slot_hash[j] == h) {
            uint32_t id = v->slot_id[j] - 1;
            const char *str = v->blob + v->str_off[id];
            if (v->str_len[id] == n && !memcmp(str, a, an) && !memcmp(str + an, b, bn))
                return (int32_t)id;
        }
        j = (j + 1) & v->mask;
    }
    return -1;
}

int32_t tok_vocab_get(const tok_vocab *v, const char *s, size_t n) {
    return tok_vocab_get_h(v, s, n, hash_of(s, n));
}

const char *tok_vocab_str(const tok_vocab *v, uint32_t id, size_t *len) {
    if (id >= v->id_cap || v->str_off[id] == UINT32_MAX) return NULL;
    if (len) *len = v->str_len[id];
    return v->blob + v->str_off[id];
}
