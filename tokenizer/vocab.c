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
    v->slots = calloc(cap, sizeof *v->slots);
    v->blob_cap = expected_bytes + expected_count + 64;
    v->blob = malloc(v->blob_cap);
    v->id_cap = expected_count ? expected_count : 16;
    v->str_off = malloc(v->id_cap * sizeof *v->str_off);
    v->str_len = malloc(v->id_cap * sizeof *v->str_len);
    if (!v->slots || !v->blob || !v->str_off || !v->str_len) {
        tok_vocab_free(v);
        return false;
    }
    memset(v->str_off, 0xFF, v->id_cap * sizeof *v->str_off);
    return true;
}

void tok_vocab_free(tok_vocab *v) {
    free(v->prefix_bits);
    free(v->first_max);
    free(v->slots);
    free(v->blob);
    free(v->str_off);
    free(v->str_len);
    memset(v, 0, sizeof *v);
}

static bool rehash(tok_vocab *v) {
    size_t cap = ((size_t)v->mask + 1) * 2;
    tok_slot *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i <= v->mask; i++) {
        if (!v->slots[i].id1) continue;
        size_t j = v->slots[i].hash & (cap - 1);
        while (t[j].id1) j = (j + 1) & (cap - 1);
        t[j] = v->slots[i];
    }
    free(v->slots);
    v->slots = t;
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

/* Finds s: returns its slot, or the empty slot where it would go (*found false). */
static size_t find_slot(const tok_vocab *v, const char *s, size_t n, uint32_t h, bool *found) {
    size_t j = h & v->mask;
    while (v->slots[j].id1) {
        const tok_slot *t = &v->slots[j];
        if (t->hash == h && t->len == n && !memcmp(v->blob + t->off, s, n)) {
            *found = true;
            return j;
        }
        j = (j + 1) & v->mask;
    }
    *found = false;
    return j;
}

static bool insert_at(tok_vocab *v, size_t j, const char *s, size_t n, uint32_t id, uint32_t h) {
    if (!grow_ids(v, id)) return false;
    if (v->str_off[id] != UINT32_MAX) v->orphans = true; /* the id's old key loses its id */
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
    v->slots[j] = (tok_slot){id + 1, h, (uint32_t)v->blob_len, (uint32_t)n};
    v->blob_len += n + 1;
    v->count++;
    if (n > v->max_len) v->max_len = n;
    return true;
}

int tok_vocab_add_all(tok_vocab *v, const tok_vocab_entry *e, size_t n, bool dups_fail, size_t *dup) {
    if (!n) return 1;
    /* Size the table for everything first: no rehash in the loop. */
    while ((v->count + n) * 2 > (size_t)v->mask + 1)
        if (!rehash(v)) return -1;
    size_t need_blob = v->blob_len;
    uint32_t max_id = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].id >= 0x7FFFFFFFu || e[i].n >= 0x7FFFFFFFu) return -1;
        need_blob += e[i].n + 1;
        if (e[i].id > max_id) max_id = e[i].id;
    }
    if (need_blob > v->blob_cap) {
        char *b = realloc(v->blob, need_blob);
        if (!b) return -1;
        v->blob = b;
        v->blob_cap = need_blob;
    }
    if (!grow_ids(v, max_id)) return -1;
    uint32_t *hs = malloc(n * sizeof *hs);
    if (!hs) return -1;
    for (size_t i = 0; i < n; i++) hs[i] = hash_of(e[i].s, e[i].n);
    enum { AHEAD = 16 };
    for (size_t i = 0; i < n && i < AHEAD; i++) __builtin_prefetch(&v->slots[hs[i] & v->mask], 1);
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) __builtin_prefetch(&v->slots[hs[i + AHEAD] & v->mask], 1);
        bool found;
        size_t j = find_slot(v, e[i].s, e[i].n, hs[i], &found);
        if (!found) {
            if (!insert_at(v, j, e[i].s, e[i].n, e[i].id, hs[i])) {
                free(hs);
                return -1;
            }
            continue;
        }
        if (dups_fail) {
            if (dup) *dup = i;
            free(hs);
            return 0;
        }
        tok_slot *t = &v->slots[j];
        uint32_t old = t->id1 - 1;
        if (!v->dup_keeps_old && old != e[i].id && v->str_off[old] == t->off) v->str_off[old] = UINT32_MAX;
        if (v->str_off[e[i].id] != UINT32_MAX && v->str_off[e[i].id] != t->off) v->orphans = true;
        v->str_off[e[i].id] = t->off;
        v->str_len[e[i].id] = t->len;
        t->id1 = e[i].id + 1;
    }
    free(hs);
    return 1;
}

int tok_vocab_put_new(tok_vocab *v, const char *s, size_t n, uint32_t id) {
    if (id >= 0x7FFFFFFFu || n >= 0x7FFFFFFFu) return -1;
    if ((v->count + 1) * 2 > (size_t)v->mask + 1 && !rehash(v)) return -1;
    uint32_t h = hash_of(s, n);
    bool found;
    size_t j = find_slot(v, s, n, h, &found);
    if (found) return 0;
    return insert_at(v, j, s, n, id, h) ? 1 : -1;
}

bool tok_vocab_put(tok_vocab *v, const char *s, size_t n, uint32_t id) {
    if (id >= 0x7FFFFFFFu || n >= 0x7FFFFFFFu) return false;
    if ((v->count + 1) * 2 > (size_t)v->mask + 1 && !rehash(v)) return false;
    uint32_t h = hash_of(s, n);
    bool found;
    size_t j = find_slot(v, s, n, h, &found);
    if (!found) return insert_at(v, j, s, n, id, h);
    /* Same string again: the later id wins, as with a JSON map. HF's id ->
     * token table then forgets the old id (WordPiece, BPE, WordLevel) or
     * keeps it (Unigram's list). */
    tok_slot *t = &v->slots[j];
    uint32_t old = t->id1 - 1;
    if (!grow_ids(v, id)) return false;
    if (!v->dup_keeps_old && old != id && v->str_off[old] == t->off) v->str_off[old] = UINT32_MAX;
    if (v->str_off[id] != UINT32_MAX && v->str_off[id] != t->off) v->orphans = true;
    v->str_off[id] = t->off;
    v->str_len[id] = t->len;
    t->id1 = id + 1;
    return true;
}

int32_t tok_vocab_get2_h(const tok_vocab *v, const char *a, size_t an, const char *b, size_t bn,
                         uint32_t h) {
    if (!v->slots) return -1;
    size_t n = an + bn;
    size_t j = h & v->mask;
    while (v->slots[j].id1) {
        const tok_slot *t = &v->slots[j];
        if (t->hash == h && t->len == n) {
            const char *str = v->blob + t->off;
            if (!memcmp(str, a, an) && !memcmp(str + an, b, bn)) return (int32_t)(t->id1 - 1);
        }
        j = (j + 1) & v->mask;
    }
    return -1;
}

int32_t tok_vocab_get_h(const tok_vocab *v, const char *s, size_t n, uint32_t h) {
    if (!v->slots) return -1;
    bool found;
    size_t j = find_slot(v, s, n, h, &found);
    return found ? (int32_t)(v->slots[j].id1 - 1) : -1;
}

int32_t tok_vocab_get(const tok_vocab *v, const char *s, size_t n) {
    return tok_vocab_get_h(v, s, n, hash_of(s, n));
}

const char *tok_vocab_str(const tok_vocab *v, uint32_t id, size_t *len) {
    if (id >= v->id_cap || v->str_off[id] == UINT32_MAX) return NULL;
    if (len) *len = v->str_len[id];
    return v->blob + v->str_off[id];
}

static void index_key(tok_vocab *v, const char *s, size_t n, const char *skip, size_t skip_len) {
    const unsigned char *u = (const unsigned char *)s;
    uint64_t h = tok_hash_init();
    for (size_t i = 0; i < n; i++) {
        h = tok_hash_step(h, u[i]);
        if (i + 1 < n && (u[i + 1] & 0xC0) == 0x80) continue; /* char boundaries only */
        uint64_t b = (((h ^ (h >> 31)) * 0x9E3779B97F4A7C15ULL) >> 20) & v->prefix_mask;
        v->prefix_bits[b >> 6] |= 1ULL << (b & 63);
    }
    if (skip_len && n > skip_len && !memcmp(s, skip, skip_len)) {
        s += skip_len;
        n -= skip_len;
    }
    if (!n) return;
    size_t k = 0;
    uint32_t c = lp_tok_utf8_next(s, &k);
    uint8_t *m = &v->first_max[c & 0xFFFF];
    size_t cap = n >= 255 ? 255 : n;
    if (cap > *m) *m = (uint8_t)cap;
}

bool tok_vocab_build_index(tok_vocab *v, const char *skip, size_t skip_len) {
    free(v->first_max);
    free(v->prefix_bits);
    v->prefix_bits = NULL;
    v->first_max = calloc(65536, 1);
    /* about 4 bits per key byte: few false hits, quick to build */
    size_t bits = 1 << 16;
    while (bits < v->blob_len * 4) bits *= 2;
    v->prefix_bits = calloc(bits / 64, sizeof *v->prefix_bits);
    if (!v->first_max || !v->prefix_bits) {
        free(v->first_max);
        free(v->prefix_bits);
        v->first_max = NULL;
        v->prefix_bits = NULL;
        return false;
    }
    v->prefix_mask = bits - 1;
    if (!v->orphans) {
        /* ids in order walk the blob in order: every key has an id */
        for (size_t id = 0; id < v->id_cap; id++)
            if (v->str_off[id] != UINT32_MAX)
                index_key(v, v->blob + v->str_off[id], v->str_len[id], skip, skip_len);
    } else {
        for (size_t j = 0; j <= v->mask; j++)
            if (v->slots[j].id1) index_key(v, v->blob + v->slots[j].off, v->slots[j].len, skip, skip_len);
    }
    return true;
}
