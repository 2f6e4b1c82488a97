/* Where a softmax row's mask row starts, for a mask that broadcasts over x's
 * leading dimensions (see kernels/op_norm.c). Shared by the oracle and the
 * fast path so both read the mask the same way. Private to kernels/cpu. */
#ifndef LP_CPU_SOFTMAX_MASK_H
#define LP_CPU_SOFTMAX_MASK_H

#include <stdint.h>

#include "kernels/tensor.h"

typedef struct lp_mask_rows {
    int nlead;                      /* x's leading dimensions (all but the last) */
    int64_t dim[LP_MAX_DIMS];       /* their sizes */
    int64_t mask_step[LP_MAX_DIMS]; /* the mask's stride along each, 0 where it broadcasts */
} lp_mask_rows;

static inline lp_mask_rows lp_mask_rows_make(const lp_tensor *x, const lp_tensor *mask) {
    lp_mask_rows m;
    m.nlead = x->ndim - 1;
    int shift = x->ndim - mask->ndim; /* mask dims are aligned to x's from the right */
    int64_t stride = mask->shape[mask->ndim - 1];
    for (int d = m.nlead - 1; d >= 0; d--) {
        m.dim[d] = x->shape[d];
        int md = d - shift;
        if (md < 0 || mask->shape[md] == 1) {
            m.mask_step[d] = 0;
        } else {
            m.mask_step[d] = stride;
            stride *= mask->shape[md];
        }
    }
    return m;
}

/* Element offset of row `row`'s mask row. */
static inline int64_t lp_mask_row_offset(const lp_mask_rows *m, int64_t row) {
    int64_t off = 0;
    for (int d = m->nlead - 1; d >= 0; d--) {
        off += (row % m->dim[d]) * m->mask_step[d];
        row /= m->dim[d];
    }
    return off;
}

/* Walking rows in order: the mask offset of the current row, kept up to date
 * by an odometer over x's leading indices (no divisions per row). */
typedef struct lp_mask_cursor {
    int64_t idx[LP_MAX_DIMS];
    int64_t offset;
} lp_mask_cursor;

static inline lp_mask_cursor lp_mask_cursor_at(const lp_mask_rows *m, int64_t row) {
    lp_mask_cursor c;
    c.offset = 0;
    for (int d = m->nlead - 1; d >= 0; d--) {
        c.idx[d] = row % m->dim[d];
        c.offset += c.idx[d] * m->mask_step[d];
        row /= m->dim[d];
    }
    return c;
}

static inline void lp_mask_cursor_next(const lp_mask_rows *m, lp_mask_cursor *c) {
    for (int d = m->nlead - 1; d >= 0; d--) {
        c->offset += m->mask_step[d];
        if (++c->idx[d] < m->dim[d]) return;
        c->offset -= c->idx[d] * m->mask_step[d];
        c->idx[d] = 0;
    }
}

#endif
