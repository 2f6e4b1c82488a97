/* NFD / NFKD / NFC / NFKC with alignments, the way HF tokenizers computes
 * them (unicode-normalization-alignments): each decomposed char carries a
 * change (0 for the first char of a decomposition, 1 for the others), canonical
 * reordering carries those changes along, and composing two chars adds their
 * changes minus one. The resulting (char, change) list goes through the
 * NormalizedString transform, which turns it into offsets. */
#include <string.h>

#include "tokenizer/internal.h"

typedef struct nf_item {
    uint32_t c;
    int32_t change;
    uint8_t ccc;
} nf_item;

/* Stable sort of a run of non-starters by combining class. */
static void sort_run(nf_item *v, size_t n, nf_item *tmp) {
    if (n < 2) return;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            nf_item x = v[i];
            size_t j = i;
            while (j > 0 && v[j - 1].ccc > x.ccc) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++) count[v[i].ccc + 1]++;
    for (int k = 0; k < 256; k++) count[k + 1] += count[k];
    for (size_t i = 0; i < n; i++) tmp[count[v[i].ccc]++] = v[i];
    memcpy(v, tmp, n * sizeof *v);
}

static bool all_ascii(const tok_nstr *n) {
    for (uint32_t i = 0; i < n->len; i++)
        if ((unsigned char)n->s[i] >= 0x80) return false;
    return true;
}

bool tok_nfx(lp_tok_workspace *ws, tok_nstr *n, bool compat, bool compose) {
    if (all_ascii(n)) return true; /* identity: same text, same alignments */
    /* Decompose into the arena: at most 18 chars per input char. */
    size_t cap = (size_t)n->len * 18 + 1;
    nf_item *d = ta_alloc(&ws->arena, cap * sizeof *d);
    nf_item *tmp = ta_alloc(&ws->arena, cap * sizeof *tmp);
    if (!d || !tmp) return false;
    size_t nd = 0, run = 0; /* run: start of the current non-starter run */
    for (size_t i = 0; i < n->len;) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        uint32_t parts[18];
        int k = lp_tok_decompose(c, compat, parts);
        for (int j = 0; j < k; j++) {
            int cc = lp_tok_ccc(parts[j]);
            if (cc == 0) {
                sort_run(d + run, nd - run, tmp);
                run = nd + 1;
            }
            d[nd++] = (nf_item){parts[j], j == 0 ? 0 : 1, (uint8_t)cc};
        }
    }
    sort_run(d + run, nd - run, tmp);

    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, 0);
    if (!compose) {
        for (size_t i = 0; i < nd; i++) nb_push(&b, d[i].c, d[i].change);
        return nb_end(&b, n);
    }
    /* Recomposition, following the state machine of the reference exactly
     * (including the order in which blocked marks are released). */
    nf_item *buf = tmp; /* pending non-starters */
    size_t nbuf = 0;
    bool have_composee = false, have_last = false;
    nf_item composee = {0, 0, 0};
    int last_ccc = 0;
    for (size_t i = 0; i < nd; i++) {
        nf_item ch = d[i];
        int cls = ch.ccc;
        if (!have_composee) {
            if (cls != 0) {
                nb_push(&b, ch.c, ch.change);
                continue;
            }
            composee = ch;
            have_composee = true;
            continue;
        }
        if (!have_last) {
            uint32_t r = lp_tok_compose(composee.c, ch.c);
            if (r) {
                composee.c = r;
                composee.change = composee.change + ch.change - 1;
                continue;
            }
            if (cls == 0) {
                nb_push(&b, composee.c, composee.change);
                composee = ch;
                continue;
            }
            buf[nbuf++] = ch;
            last_ccc = cls;
            have_last = true;
            continue;
        }
        if (last_ccc >= cls) {
            if (cls == 0) {
                nb_push(&b, composee.c, composee.change);
                for (size_t k = 0; k < nbuf; k++) nb_push(&b, buf[k].c, buf[k].change);
                nbuf = 0;
                composee = ch;
                have_last = false;
                continue;
            }
            buf[nbuf++] = ch;
            last_ccc = cls;
            continue;
        }
        uint32_t r = lp_tok_compose(composee.c, ch.c);
        if (r) {
            composee.c = r;
            composee.change = composee.change + ch.change - 1;
            continue;
        }
        buf[nbuf++] = ch;
        last_ccc = cls;
    }
    if (have_composee) nb_push(&b, composee.c, composee.change);
    for (size_t k = 0; k < nbuf; k++) nb_push(&b, buf[k].c, buf[k].change);
    return nb_end(&b, n);
}
