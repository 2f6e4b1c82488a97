/* SentencePiece ModelProto reader: protobuf decoded by hand (no libprotobuf).
 * Reads the pieces (piece, score, type), the trainer spec fields that change
 * encoding (model_type, unk/bos/eos ids, byte_fallback, unk_surface,
 * treat_whitespace_as_suffix) and the normalizer spec (name, precompiled
 * charsmap, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces),
 * and checks what sentencepiece checks when it loads a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/spm.h"

typedef struct pb {
    const unsigned char *p, *end;
    bool bad;
} pb;

static bool pb_varint(pb *b, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return b->bad = true, false;
        unsigned char c = *b->p++;
        r |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return true;
        }
    }
    return b->bad = true, false;
}

/* Reads one field header; false at the end (or on error: b->bad). */
static bool pb_next(pb *b, uint32_t *field, int *wt) {
    if (b->p >= b->end) return false;
    uint64_t tag;
    if (!pb_varint(b, &tag)) return false;
    *field = (uint32_t)(tag >> 3);
    *wt = (int)(tag & 7);
    if (*field == 0) return b->bad = true, false;
    return true;
}

static bool pb_bytes(pb *b, const unsigned char **s, size_t *n) {
    uint64_t len;
    if (!pb_varint(b, &len)) return false;
    if (len > (uint64_t)(b->end - b->p)) return b->bad = true, false;
    *s = b->p;
    *n = (size_t)len;
    b->p += len;
    return true;
}

static bool pb_skip(pb *b, int wt) {
    uint64_t v;
    const unsigned char *s;
    size_t n;
    switch (wt) {
    case 0: return pb_varint(b, &v);
    case 1:
        if (b->end - b->p < 8) return b->bad = true, false;
        b->p += 8;
        return true;
    case 2: return pb_bytes(b, &s, &n);
    case 5:
        if (b->end - b->p < 4) return b->bad = true, false;
        b->p += 4;
        return true;
    default: return b->bad = true, false; /* groups are not used by this proto */
    }
}

static bool pb_fixed32(pb *b, uint32_t *v) {
    if (b->end - b->p < 4) return b->bad = true, false;
    *v = (uint32_t)b->p[0] | (uint32_t)b->p[1] << 8 | (uint32_t)b->p[2] << 16 | (uint32_t)b->p[3] << 24;
    b->p += 4;
    return true;
}

typedef struct spm_piece {
    const unsigned char *s;
    size_t n;
    float score;
    int type;
} spm_piece;

typedef struct spm_spec {
    int model_type;
    bool byte_fallback, treat_ws_as_suffix;
    int64_t unk_id, bos_id, eos_id;
    const unsigned char *unk_surface;
    size_t unk_surface_len;
    bool has_unk_surface;
    const unsigned char *charsmap;
    size_t charsmap_len;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
} spm_spec;

static lp_status bad(lp_error *err, const char *name, const char *what) {
    return lp_fail(err, LP_ERR_FORMAT, "%s: not a valid SentencePiece model: %s", name, what);
}

static bool parse_piece(const unsigned char *s, size_t n, spm_piece *out) {
    pb b = {s, s + n, false};
    out->s = NULL;
    out->n = 0;
    out->score = 0;
    out->type = SPM_NORMAL;
    uint32_t f;
    int wt;
    while (pb_next(&b, &f, &wt)) {
        if (f == 1 && wt == 2) {
            if (!pb_bytes(&b, &out->s, &out->n)) break;
        } else if (f == 2 && wt == 5) {
            uint32_t v;
            if (!pb_fixed32(&b, &v)) break;
            memcpy(&out->score, &v, 4);
        } else if (f == 3 && wt == 0) {
            uint64_t v;
            if (!pb_varint(&b, &v)) break;
            out->type = (int)v;
        } else if (!pb_skip(&b, wt)) {
            break;
        }
    }
    return !b.bad;
}

static bool parse_trainer(const unsigned char *s, size_t n, spm_spec *sp) {
    pb b = {s, s + n, false};
    uint32_t f;
    int wt;
    while (pb_next(&b, &f, &wt)) {
        uint64_t v = 0;
        if (wt == 0 && (f == 3 || f == 35 || f == 24 || f == 40 || f == 41 || f == 42)) {
            if (!pb_varint(&b, &v)) break;
            if (f == 3) sp->model_type = (int)v;
            if (f == 35) sp->byte_fallback = v != 0;
            if (f == 24) sp->treat_ws_as_suffix = v != 0;
            if (f == 40) sp->unk_id = (int32_t)v;
            if (f == 41) sp->bos_id = (int32_t)v;
            if (f == 42) sp->eos_id = (int32_t)v;
        } else if (f == 44 && wt == 2) {
            if (!pb_bytes(&b, &sp->unk_surface, &sp->unk_surface_len)) break;
            sp->has_unk_surface = true;
        } else if (!pb_skip(&b, wt)) {
            break;
        }
    }
    return !b.bad;
}

static bool parse_normalizer_spec(const unsigned char *s, size_t n, spm_spec *sp) {
    pb b = {s, s + n, false};
    uint32_t f;
    int wt;
    while (pb_next(&b, &f, &wt)) {
        uint64_t v;
        if (f == 2 && wt == 2) {
            if (!pb_bytes(&b, &sp->charsmap, &sp->charsmap_len)) break;
        } else if ((f == 3 || f == 4 || f == 5) && wt == 0) {
            if (!pb_varint(&b, &v)) break;
            if (f == 3) sp->add_dummy_prefix = v != 0;
            if (f == 4) sp->remove_extra_ws = v != 0;
            if (f == 5) sp->escape_ws = v != 0;
        } else if (!pb_skip(&b, wt)) {
            break;
        }
    }
    return !b.bad;
}

static int piece_byte(const spm_piece *p) {
    /* "<0xXX>" */
    if (p->n != 6 || memcmp(p->s, "<0x", 3) || p->s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        unsigned char c = p->s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The HF tokenizers conversion of this normalizer (transformers' SpmConverter
 * style): Precompiled, then " {2,}" -> " " and "^ | $" -> "" when extra
 * whitespace is removed. Used only to report offsets as HF does. */
static lp_status build_hf_norm(lp_tokenizer *tok, tok_spm *s, lp_error *err) {
    tok_normalizer *seq = ta_zalloc(&tok->pool, sizeof *seq);
    tok_normalizer *kids = ta_zalloc(&tok->pool, 3 * sizeof *kids);
    if (!seq || !kids) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    size_t k = 0;
    if (s->charsmap) {
        kids[k].kind = TN_PRECOMPILED;
        kids[k++].precompiled = s->charsmap;
    }
    if (s->remove_extra_ws) {
        static const char *pats[2] = {" {2,}", "^ | $"};
        static const char *reps[2] = {" ", ""};
        for (int i = 0; i < 2; i++) {
            char eb[128];
            kids[k].kind = TN_REPLACE;
            kids[k].pattern.is_regex = true;
            kids[k].pattern.re = tok_regex_compile(&tok->pool, pats[i], strlen(pats[i]), eb, sizeof eb);
            if (!kids[k].pattern.re) return lp_fail(err, LP_ERR_INTERNAL, "regex: %s", eb);
            kids[k].content = reps[i];
            kids[k].content_len = strlen(reps[i]);
            k++;
        }
    }
    seq->kind = TN_SEQUENCE;
    seq->children = kids;
    seq->nchildren = k;
    s->hf_norm = seq;
    return LP_OK;
}

lp_status tok_load_spm(const unsigned char *data, size_t len, const char *name, lp_tokenizer **out,
                       lp_error *err) {
    *out = NULL;
    if (len == 0) return bad(err, name, "the file is empty");
    spm_spec sp = {SPM_UNIGRAM, false, false, 0, 1, 2, NULL, 0, false, NULL, 0, true, true, true};
    /* First pass: count pieces and read the specs. */
    pb b = {data, data + len, false};
    uint32_t f;
    int wt;
    size_t npieces = 0, bytes = 0;
    while (pb_next(&b, &f, &wt)) {
        const unsigned char *s;
        size_t n;
        if (wt == 2 && (f == 1 || f == 2 || f == 3)) {
            if (!pb_bytes(&b, &s, &n)) break;
            if (f == 1) {
                npieces++;
                bytes += n;
            } else if (f == 2 && !parse_trainer(s, n, &sp)) {
                return bad(err, name, "the trainer spec is truncated or corrupt");
            } else if (f == 3 && !parse_normalizer_spec(s, n, &sp)) {
                return bad(err, name, "the normalizer spec is truncated or corrupt");
            }
        } else if (!pb_skip(&b, wt)) {
            break;
        }
    }
    if (b.bad) return bad(err, name, "truncated or corrupt protobuf");
    if (npieces == 0) return bad(err, name, "it has no pieces");
    if (sp.model_type != SPM_UNIGRAM && sp.model_type != SPM_BPE)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: SentencePiece model type %d is not supported (unigram and BPE are)",
                       name, sp.model_type);

    lp_tokenizer *tok = tok_new(name);
    tok_spm *s = tok ? ta_zalloc(&tok->pool, sizeof *s) : NULL;
    if (!tok || !s) {
        lp_tok_free(tok);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    tok->spm = s;
    lp_status st = LP_OK;
    tok_model *m = &tok->model;
    m->kind = sp.model_type == SPM_BPE ? TM_BPE : TM_UNIGRAM;
    s->model_type = sp.model_type;
    s->scores = ta_alloc(&tok->pool, npieces * sizeof *s->scores);
    s->types = ta_alloc(&tok->pool, npieces);
    const char **user = ta_alloc(&tok->pool, npieces * sizeof *user);
    size_t *user_len = malloc(npieces * sizeof *user_len);
    size_t *user_ids = malloc(npieces * sizeof *user_ids);
    tok_vocab_entry *entries = malloc(npieces * sizeof *entries);
    if (!s->scores || !s->types || !user || !user_len || !user_ids || !entries ||
        !tok_vocab_init(&m->vocab, npieces, bytes)) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    s->npieces = npieces;
    s->unk_id = -1;
    s->min_score = 3.40282347e+38f; /* FLT_MAX */
    s->max_score = 1.17549435e-38f; /* FLT_MIN, as sentencepiece starts it */
    bool byte_found[256] = {false};
    b = (pb){data, data + len, false};
    size_t id = 0;
    while (pb_next(&b, &f, &wt)) {
        const unsigned char *ps = NULL;
        size_t pn = 0;
        if (!(f == 1 && wt == 2)) {
            pb_skip(&b, wt);
            continue;
        }
        if (!pb_bytes(&b, &ps, &pn)) break;
        spm_piece p;
        char msg[160];
        if (!parse_piece(ps, pn, &p)) {
            snprintf(msg, sizeof msg, "piece %zu is truncated or corrupt", id);
            st = bad(err, name, msg);
            goto done;
        }
        if (!p.n) {
            snprintf(msg, sizeof msg, "piece %zu is empty", id);
            st = bad(err, name, msg);
            goto done;
        }
        if (!lp_tok_utf8_valid((const char *)p.s, p.n)) {
            snprintf(msg, sizeof msg, "piece %zu is not valid UTF-8", id);
            st = bad(err, name, msg);
            goto done;
        }
        if (p.type < SPM_NORMAL || p.type > SPM_BYTE) {
            snprintf(msg, sizeof msg, "piece %zu has unknown type %d", id, p.type);
            st = bad(err, name, msg);
            goto done;
        }
        entries[id] = (tok_vocab_entry){(const char *)p.s, (uint32_t)p.n, (uint32_t)id};
        s->scores[id] = p.score;
        s->types[id] = (uint8_t)p.type;
        if (p.type == SPM_UNKNOWN) {
            if (s->unk_id >= 0) {
                st = bad(err, name, "more than one unknown piece");
                goto done;
            }
            s->unk_id = (int32_t)id;
        }
        if (p.type == SPM_NORMAL) {
            if (p.score < s->min_score) s->min_score = p.score;
            if (p.score > s->max_score) s->max_score = p.score;
        }
        if (p.type == SPM_BYTE) {
            int v = piece_byte(&p);
            if (!sp.byte_fallback) {
                st = bad(err, name, "a byte piece is present although byte_fallback is off");
                goto done;
            }
            if (v < 0) {
                st = bad(err, name, "a byte piece is not of the form <0xXX>");
                goto done;
            }
            byte_found[v] = true;
        }
        if (p.type == SPM_USER) user_ids[s->nuser++] = id;
        id++;
    }
    if (b.bad || id != npieces) {
        st = bad(err, name, "truncated or corrupt protobuf");
        goto done;
    }
    /* All pieces at once (a repeated piece is an error, as in sentencepiece). */
    size_t dup = 0;
    int added = tok_vocab_add_all(&m->vocab, entries, npieces, true, &dup);
    if (added < 0) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (added == 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "piece %zu ('%.*s') is defined twice", dup,
                 (int)(entries[dup].n > 40 ? 40 : entries[dup].n), entries[dup].s);
        st = bad(err, name, msg);
        goto done;
    }
    for (size_t u = 0; u < s->nuser; u++) user[u] = tok_vocab_str(&m->vocab, (uint32_t)user_ids[u], &user_len[u]);
    if (s->unk_id < 0) {
        st = bad(err, name, "no unknown piece (<unk>) is defined");
        goto done;
    }
    if (sp.byte_fallback)
        for (int v = 0; v < 256; v++)
            if (!byte_found[v]) {
                st = bad(err, name, "byte_fallback is on but not all 256 byte pieces exist");
                goto done;
            }
    s->byte_fallback = sp.byte_fallback;
    s->treat_ws_as_suffix = sp.treat_ws_as_suffix;
    s->add_dummy_prefix = sp.add_dummy_prefix;
    s->remove_extra_ws = sp.remove_extra_ws;
    s->escape_ws = sp.escape_ws;
    if (sp.has_unk_surface) {
        s->unk_surface = ta_strndup(&tok->pool, (const char *)sp.unk_surface, sp.unk_surface_len);
        s->unk_surface_len = sp.unk_surface_len;
    } else {
        s->unk_surface = " \xE2\x81\x87 ";
        s->unk_surface_len = 5;
    }
    if (sp.charsmap && sp.charsmap_len) {
        lp_error e2 = {0};
        s->charsmap = tok_precompiled_parse(&tok->pool, sp.charsmap, sp.charsmap_len, &e2);
        if (!s->charsmap) {
            st = bad(err, name, e2.msg);
            goto done;
        }
    }
    st = tok_matcher_build(&tok->pool, user, user_len, s->nuser, &s->user, err);
    if (st) goto done;
    s->user_pieces = user;
    m->unk_id = s->unk_id;
    m->byte_fallback = s->byte_fallback;
    m->vocab_size = npieces;
    tok->spm_bos = sp.bos_id >= 0 && (size_t)sp.bos_id < npieces ? (int32_t)sp.bos_id : -1;
    tok->spm_eos = sp.eos_id >= 0 && (size_t)sp.eos_id < npieces ? (int32_t)sp.eos_id : -1;
    st = build_hf_norm(tok, s, err);
    if (st) goto done;
    tok_model_finish(m);
    if (s->model_type == SPM_UNIGRAM) {
        /* HF's Unigram over the same pieces, with unknown and control pieces
         * never matched (as the conversion renames them); its unk score uses
         * the minimum over all pieces, as HF computes it. */
        tok_model *h = &s->hf_model;
        *h = *m;
        h->kind = TM_UNIGRAM;
        h->scores = NULL;
        double *sc = ta_alloc(&tok->pool, npieces * sizeof *sc);
        uint8_t *never = ta_alloc(&tok->pool, npieces);
        if (!sc || !never) {
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
            goto done;
        }
        h->min_score = 1e300;
        for (size_t i = 0; i < npieces; i++) {
            sc[i] = s->scores[i];
            if (sc[i] < h->min_score) h->min_score = sc[i];
            never[i] = s->types[i] == SPM_UNKNOWN || s->types[i] == SPM_CONTROL;
        }
        h->scores = sc;
        h->never_match = never;
        h->unk_id = s->unk_id;
        h->byte_fallback = s->byte_fallback;
        s->has_hf_model = true;
    }
    /* .model files add no special tokens (sentencepiece's add_bos/add_eos are
     * off by default), and have no post-processor. */
    tok->defaults.add_special_tokens = true;
done:
    free(user_len);
    free(user_ids);
    free(entries);
    if (st) {
        lp_tok_free(tok);
        return st;
    }
    *out = tok;
    return LP_OK;
}
