/* Front-ends of lp_embedding and lp_sinusoidal_positions (ops.h).
 *
 * lp_embedding copies rows, so besides f32 it takes an f16 or bf16 table
 * (out then has the table's dtype). Host ids are read here, before any
 * backend runs: an id outside [0, V) fails naming its position, and nothing
 * is written. Device ids cannot be read by the host; the backend checks them. */
#include <inttypes.h>
#include <stdio.h>

#include "kernels/op_elem_checks.h"

static int64_t id_at(const lp_tensor *ids, int64_t i) {
    return ids->dtype == LP_I32 ? ((const int32_t *)ids->data)[i] : ((const int64_t *)ids->data)[i];
}

/* "[1, 3]" for flat position 7 of a [2, 4] tensor. */
static void describe_index(const lp_tensor *t, int64_t flat, char *buf, size_t size) {
    int64_t idx[LP_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = flat % t->shape[d];
        flat /= t->shape[d];
    }
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ", %" PRId64 : "%" PRId64, idx[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

static lp_status check_ids_in_range(const lp_tensor *ids, int64_t vocab, lp_error *err) {
    int64_t n = lp_tensor_numel(ids);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = id_at(ids, i);
        if (id >= 0 && id < vocab) continue;
        char where[128];
        describe_index(ids, i, where, sizeof where);
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "embedding: ids%s (flat position %" PRId64 ") is %" PRId64
                       ", outside the table's [0, %" PRId64 ")",
                       where, i, id, vocab);
    }
    return LP_OK;
}

static lp_status check_out_shape(const lp_tensor *table, const lp_tensor *ids,
                                 const lp_tensor *out, lp_error *err) {
    bool ok = out->ndim == ids->ndim + 1 && out->shape[out->ndim - 1] == table->shape[1];
    for (int d = 0; ok && d < ids->ndim; d++) ok = out->shape[d] == ids->shape[d];
    if (ok) return LP_OK;
    char dt[128], di[128], dout[128];
    return lp_fail(err, LP_ERR_SHAPE, "embedding: out is %s, expected ids' shape %s plus [%" PRId64
                                      "] (table is %s)",
                   lp_tensor_describe(out, dout, sizeof dout), lp_tensor_describe(ids, di, sizeof di),
                   table->shape[1], lp_tensor_describe(table, dt, sizeof dt));
}

lp_status lp_embedding(lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids, lp_tensor *out,
                       lp_error *err) {
    const char *op = "embedding";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_EMBEDDING, err);
    if (st == LP_OK) st = lp_ec_tensor(ctx, op, "table", table, err);
    if (st == LP_OK && table->dtype != LP_F32 && table->dtype != LP_F16 && table->dtype != LP_BF16)
        st = lp_fail(err, LP_ERR_DTYPE, "embedding: table has dtype %s, expected f32, f16 or bf16",
                     lp_dtype_name(table->dtype));
    if (st == LP_OK) st = lp_check_contiguous(op, "table", table, err);
    if (st == LP_OK) st = lp_check_ndim(op, "table", table, 2, 2, err);
    if (st == LP_OK) st = lp_ec_tensor(ctx, op, "ids", ids, err);
    if (st == LP_OK && ids->dtype != LP_I32 && ids->dtype != LP_I64)
        st = lp_fail(err, LP_ERR_DTYPE, "embedding: ids have dtype %s, expected i32 or i64",
                     lp_dtype_name(ids->dtype));
    if (st == LP_OK) st = lp_check_contiguous(op, "ids", ids, err);
    if (st == LP_OK) st = lp_check_ndim(op, "ids", ids, 0, LP_MAX_DIMS - 1, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, table->dtype, err);
    if (st == LP_OK) st = check_out_shape(table, ids, out, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "table", table, err);
    if (st == LP_OK && (uintptr_t)out->data != (uintptr_t)ids->data)
        st = lp_ec_no_partial_alias(op, "out", out, "ids", ids, err);
    /* device ids are not host-readable: the backend checks them (the CUDA
     * kernel flags the first bad position; nothing is used from a failed call) */
    if (st == LP_OK && ids->device.kind == LP_DEVICE_CPU) st = check_ids_in_range(ids, table->shape[0], err);
    if (st != LP_OK) return st;
    if (!ctx->backend->embedding) return lp_op_missing(ctx, LP_OP_EMBEDDING, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_EMBEDDING, 0, scope,
                       ctx->backend->embedding(ctx, table, ids, out, err));
}

lp_status lp_sinusoidal_positions(lp_ctx *ctx, int64_t offset, lp_tensor *out, lp_error *err) {
    const char *op = "sinusoidal_positions";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_SINUSOIDAL_POSITIONS, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, LP_F32, err);
    if (st == LP_OK) st = lp_check_ndim(op, "out", out, 2, 2, err);
    if (st != LP_OK) return st;
    if (out->shape[1] % 2 != 0)
        return lp_fail(err, LP_ERR_SHAPE,
                       "%s: out is [%" PRId64 ", %" PRId64 "]; the embedding size D must be even", op,
                       out->shape[0], out->shape[1]);
    if (offset < 0 || offset > ((int64_t)1 << 40))
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: offset is %" PRId64 "; it must be in [0, 2^40]",
                       op, offset);
    if (!ctx->backend->sinusoidal_positions)
        return lp_op_missing(ctx, LP_OP_SINUSOIDAL_POSITIONS, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_SINUSOIDAL_POSITIONS, 0, scope,
                       ctx->backend->sinusoidal_positions(ctx, offset, out, err));
}
