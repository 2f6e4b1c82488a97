/* The packed forward pass (models/bert_packed.c) against the padded one on
 * the same batches: every real token's hidden row must agree, for BERT (its
 * positions count padding), RoBERTa (positions from the ids, a pad id inside
 * a sequence) and DistilBERT (no token types), with masks that pad on the
 * right, on the left and in the middle, buckets of equal lengths (views) and
 * of mixed lengths (gathers), sequences of one token, and token types. A
 * batch without padding whose token count is not a packed row count gets
 * filler rows; a batch with an empty sequence takes the padded path (packing
 * refuses it).
 *
 * Tolerance: max |packed - padded| <= 1e-5 (1 + max |padded|): the same ops
 * on the same rows, only the GEMM row counts differ. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "models/bert_internal.h"
#include "tests/test_util.h"

enum { B = 7, S = 13 };

/* The mask rows: right-padded, left-padded, a hole, full, one token, and two
 * of equal length (a bucket the packed pass views without gathering). */
static const char *const MASKS[B] = {
    "1111111110000", "0001111111111", "1111001111000", "1111111111111",
    "1000000000000", "1111100000000", "1111100000000",
};

static void make_batch(const lp_bert_model *m, lp_rng *rng, int32_t *ids, int32_t *types,
                       uint8_t *mask, bool pad_inside) {
    const lp_bert_config *c = lp_bert_get_config(m);
    for (int i = 0; i < B; i++)
        for (int s = 0; s < S; s++) {
            int k = i * S + s;
            mask[k] = MASKS[i][s] == '1';
            /* ids away from the specials at the vocabulary's start */
            ids[k] = mask[k] ? (int32_t)(5 + lp_rng_next(rng) % (uint64_t)(c->vocab_size - 5))
                             : (int32_t)c->pad_token_id;
            types[k] = s > 6 && c->type_vocab_size > 1;
        }
    /* RoBERTa numbers non-pad ids: a pad id inside a sequence keeps padding_idx */
    if (pad_inside) ids[0 * S + 3] = (int32_t)c->pad_token_id;
}

static void compare(const char *what, const lp_tensor *got, const lp_tensor *want, const uint8_t *mask) {
    int64_t H = want->shape[2];
    const float *g = got->data, *w = want->data;
    double diff = 0, top = 0;
    for (int64_t k = 0; k < (int64_t)B * S; k++) {
        if (!mask[k]) continue;
        for (int64_t j = 0; j < H; j++) {
            double d = fabs((double)g[k * H + j] - w[k * H + j]);
            if (d > diff || isnan(d)) diff = isnan(d) ? INFINITY : d;
            if (fabs(w[k * H + j]) > top) top = fabs(w[k * H + j]);
        }
    }
    CHECK_MSG(diff <= 1e-5 * (1 + top), "%s: max |packed - padded| %.3g (max |padded| %.3g)", what,
              diff, top);
}

static void check_model(const char *name, bool pad_inside) {
    char rel[256], dir[4096];
    snprintf(rel, sizeof rel, "tests/fixtures/bert/%s", name);
    lp_test_source_path(rel, dir, sizeof dir);
    lp_error err = {0};
    lp_bert_model *m = NULL;
    CHECK_OK(lp_bert_load(dir, &m, &err), &err);
    if (!m) return;
    lp_threadpool *pool = lp_threadpool_create(2);
    lp_ctx ctx;
    CHECK_OK(lp_ctx_init(&ctx, lp_backend_cpu(), pool, &err), &err);
    lp_arena *arena = lp_arena_create(1 << 20);
    lp_rng rng = lp_rng_seed(11);
    int32_t ids[B * S], types[B * S];
    uint8_t mask[B * S];
    for (int with_types = 0; with_types < 2; with_types++) {
        make_batch(m, &rng, ids, types, mask, pad_inside);
        lp_bert_batch batch = {B, S, ids, with_types ? types : NULL, mask};
        CHECK(lp_bert_should_pack(&batch));
        lp_tensor packed, padded;
        CHECK_OK(lp_bert_forward(m, &ctx, arena, &batch, &packed, &err), &err);
        CHECK_OK(lp_bert_forward_padded(m, &ctx, arena, &batch, &padded, &err), &err);
        char what[128];
        snprintf(what, sizeof what, "%s%s", name, with_types ? " with token types" : "");
        if (packed.data && padded.data) compare(what, &packed, &padded, mask);
        lp_arena_reset(arena);
    }
    /* no padding, but 2 x 17 = 34 tokens: packed into 36 rows (filler after them) */
    {
        uint8_t full[2 * 17];
        memset(full, 1, sizeof full);
        lp_bert_batch fb = {2, 17, ids, NULL, full};
        CHECK(lp_linear_plan_rows(34) == 36 && lp_bert_should_pack(&fb));
        lp_tensor packed, padded;
        CHECK_OK(lp_bert_forward(m, &ctx, arena, &fb, &packed, &err), &err);
        CHECK_OK(lp_bert_forward_padded(m, &ctx, arena, &fb, &padded, &err), &err);
        if (packed.data && padded.data) {
            int64_t H = padded.shape[2];
            double diff = 0, top = 0;
            for (int64_t k = 0; k < 34 * H; k++) {
                double d = fabs((double)((float *)packed.data)[k] - ((float *)padded.data)[k]);
                diff = d > diff ? d : diff;
                top = fabs(((float *)padded.data)[k]) > top ? fabs(((float *)padded.data)[k]) : top;
            }
            CHECK_MSG(diff <= 1e-5 * (1 + top), "%s unpadded 2 x 17: max diff %.3g", name, diff);
        }
        lp_arena_reset(arena);
    }
    /* an empty sequence: not packed, so the padded pass's result exactly */
    memset(mask + 2 * S, 0, S);
    lp_bert_batch batch = {B, S, ids, NULL, mask};
    CHECK(!lp_bert_should_pack(&batch));
    lp_tensor a, b;
    CHECK_OK(lp_bert_forward(m, &ctx, arena, &batch, &a, &err), &err);
    CHECK_OK(lp_bert_forward_padded(m, &ctx, arena, &batch, &b, &err), &err);
    CHECK(a.data && b.data && memcmp(a.data, b.data, lp_tensor_nbytes(&a)) == 0);
    lp_arena_destroy(arena);
    lp_ctx_release(&ctx);
    lp_threadpool_destroy(pool);
    lp_bert_free(m);
}

int main(void) {
    check_model("bert-chinese-cls", false);
    check_model("roberta-cls", true);
    check_model("xlmr-cls", true);
    check_model("distilbert-cls", false);
    return lp_test_finish();
}
