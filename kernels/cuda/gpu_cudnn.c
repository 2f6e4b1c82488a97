/* Convolutions through cuDNN. conv + bias + ReLU (+ residual, as ResNet's skip
 * connection: cuDNN's z input) is one cudnnConvolutionBiasActivationForward
 * call where cuDNN offers it (f32 tensors, ReLU); everything else is
 * cudnnConvolutionForward followed by the bias + residual + activation
 * epilogue kernel. The algorithm is chosen once per shape (cuDNN's
 * heuristics) and cached per thread. Plugin only. */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/cuda/gpu_cudnn.h"

#define ALGO_CACHE 128

static lp_status dnn_fail(cudnnStatus_t s, const char *what, lp_error *err) {
    return lp_fail(err, LP_ERR_INTERNAL, "conv2d (cuda): %s failed: %s", what,
                   cudnnGetErrorString(s));
}

#define DNN(call, what)                                            \
    do {                                                           \
        cudnnStatus_t s_ = (call);                                 \
        if (s_ != CUDNN_STATUS_SUCCESS) return dnn_fail(s_, what, err); \
    } while (0)

static cudnnDataType_t dnn_type(lp_dtype t) {
    return t == LP_F16 ? CUDNN_DATA_HALF : t == LP_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

void lp_cudnn_conv_destroy(lp_cudnn_conv_desc *d) {
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
    if (d->bias) cudnnDestroyTensorDescriptor(d->bias);
    if (d->w) cudnnDestroyFilterDescriptor(d->w);
    if (d->conv) cudnnDestroyConvolutionDescriptor(d->conv);
    if (d->act) cudnnDestroyActivationDescriptor(d->act);
    memset(d, 0, sizeof *d);
}

lp_status lp_cudnn_conv_describe(const lp_tensor *x, const lp_tensor *w, const lp_conv2d_params *p,
                                 const lp_tensor *out, lp_cudnn_conv_desc *d, lp_error *err) {
    memset(d, 0, sizeof *d);
    cudnnDataType_t t = dnn_type(x->dtype);
    DNN(cudnnCreateTensorDescriptor(&d->x), "cudnnCreateTensorDescriptor");
    DNN(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, t, (int)x->shape[0], (int)x->shape[1],
                                   (int)x->shape[2], (int)x->shape[3]),
        "input descriptor");
    DNN(cudnnCreateFilterDescriptor(&d->w), "cudnnCreateFilterDescriptor");
    DNN(cudnnSetFilter4dDescriptor(d->w, t, CUDNN_TENSOR_NCHW, (int)w->shape[0], (int)w->shape[1],
                                   (int)w->shape[2], (int)w->shape[3]),
        "filter descriptor");
    DNN(cudnnCreateConvolutionDescriptor(&d->conv), "cudnnCreateConvolutionDescriptor");
    /* f16/bf16 accumulate in f32 */
    DNN(cudnnSetConvolution2dDescriptor(d->conv, p->pad_h, p->pad_w, p->stride_h, p->stride_w,
                                        p->dilation_h, p->dilation_w, CUDNN_CROSS_CORRELATION,
                                        CUDNN_DATA_FLOAT),
        "convolution descriptor");
    DNN(cudnnSetConvolutionGroupCount(d->conv, p->groups), "group count");
    DNN(cudnnSetConvolutionMathType(d->conv, x->dtype == LP_F32 ? CUDNN_FMA_MATH
                                                                : CUDNN_TENSOR_OP_MATH),
        "math type");
    int n, c, h, wd;
    DNN(cudnnGetConvolution2dForwardOutputDim(d->conv, d->x, d->w, &n, &c, &h, &wd),
        "cudnnGetConvolution2dForwardOutputDim");
    if (n != out->shape[0] || c != out->shape[1] || h != out->shape[2] || wd != out->shape[3])
        return lp_fail(err, LP_ERR_SHAPE,
                       "conv2d (cuda): cuDNN computes output [%d, %d, %d, %d], out is [%lld, "
                       "%lld, %lld, %lld]",
                       n, c, h, wd, (long long)out->shape[0], (long long)out->shape[1],
                       (long long)out->shape[2], (long long)out->shape[3]);
    DNN(cudnnCreateTensorDescriptor(&d->y), "cudnnCreateTensorDescriptor");
    DNN(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, t, n, c, h, wd), "output descriptor");
    DNN(cudnnCreateTensorDescriptor(&d->bias), "cudnnCreateTensorDescriptor");
    DNN(cudnnSetTensor4dDescriptor(d->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, c, 1, 1),
        "bias descriptor");
    DNN(cudnnCreateActivationDescriptor(&d->act), "cudnnCreateActivationDescriptor");
    DNN(cudnnSetActivationDescriptor(d->act, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0),
        "activation descriptor");
    return LP_OK;
}

typedef struct algo_entry {
    bool used;
    int64_t key[16];
    lp_cudnn_conv_desc desc;
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace;
} algo_entry;

typedef struct dnn_state {
    cudnnHandle_t handle;
    algo_entry cache[ALGO_CACHE];
    int next;
    void *workspace;
    size_t workspace_size;
} dnn_state;

static _Thread_local dnn_state *t_dnn;

static void make_key(const lp_tensor *x, const lp_tensor *w, const lp_conv2d_params *p,
                     int fused, int64_t key[16]) {
    int64_t k[16] = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[2],
                     w->shape[3], p->stride_h, p->stride_w, p->pad_h, p->pad_w, p->dilation_h,
                     p->dilation_w, p->groups, x->dtype, fused};
    memcpy(key, k, sizeof k);
}

lp_status lp_cuda_conv2d_run(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w,
                             const lp_tensor *bias, const lp_tensor *residual,
                             const lp_conv2d_params *p, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    (void)ctx;
    if (!t_dnn) {
        dnn_state *s = calloc(1, sizeof *s);
        if (!s) return lp_fail(err, LP_ERR_NOMEM, "conv2d (cuda): out of host memory");
        cudnnStatus_t cs = cudnnCreate(&s->handle);
        if (cs != CUDNN_STATUS_SUCCESS) {
            free(s);
            return dnn_fail(cs, "cudnnCreate", err);
        }
        cudnnSetStream(s->handle, (cudaStream_t)lp_cuda_rt_stream());
        t_dnn = s;
    }
    dnn_state *s = t_dnn;
    /* cuDNN's fused call: f32, ReLU, bias given (identity needs a special algo) */
    int fused = x->dtype == LP_F32 && act == LP_ACT_RELU && bias != NULL;
    int64_t key[16];
    make_key(x, w, p, fused, key);
    algo_entry *e = NULL;
    for (int i = 0; i < ALGO_CACHE && !e; i++)
        if (s->cache[i].used && !memcmp(s->cache[i].key, key, sizeof key)) e = &s->cache[i];
    if (!e) {
        e = &s->cache[s->next];
        s->next = (s->next + 1) % ALGO_CACHE;
        if (e->used) lp_cudnn_conv_destroy(&e->desc);
        e->used = false;
        lp_status st = lp_cudnn_conv_describe(x, w, p, out, &e->desc, err);
        if (st != LP_OK) {
            lp_cudnn_conv_destroy(&e->desc);
            return st;
        }
        cudnnConvolutionFwdAlgoPerf_t perf[8];
        int found = 0;
        DNN(cudnnGetConvolutionForwardAlgorithm_v7(s->handle, e->desc.x, e->desc.w, e->desc.conv,
                                                   e->desc.y, 8, &found, perf),
            "cudnnGetConvolutionForwardAlgorithm_v7");
        int pick = -1;
        for (int i = 0; i < found && pick < 0; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS) pick = i;
        if (pick < 0)
            return lp_fail(err, LP_ERR_UNSUPPORTED, "conv2d (cuda): cuDNN offers no algorithm");
        e->algo = perf[pick].algo;
        e->workspace = perf[pick].memory;
        memcpy(e->key, key, sizeof key);
        e->used = true;
    }
    if (e->workspace > s->workspace_size) {
        lp_cuda_rt_free(s->workspace);
        s->workspace = NULL;
        s->workspace_size = 0;
        lp_status st = lp_cuda_rt_alloc(e->workspace, &s->workspace, err);
        if (st != LP_OK) return st;
        s->workspace_size = e->workspace;
    }
    const float one = 1.f, zero = 0.f;
    if (fused) {
        /* y = relu(conv(x) + 1 * z + bias), z = residual or y itself with alpha2 0 */
        const float alpha2 = residual ? 1.f : 0.f;
        DNN(cudnnConvolutionBiasActivationForward(
                s->handle, &one, e->desc.x, x->data, e->desc.w, w->data, e->desc.conv, e->algo,
                s->workspace, e->workspace, &alpha2, e->desc.y,
                residual ? residual->data : out->data, e->desc.bias, bias->data, e->desc.act,
                e->desc.y, out->data),
            "cudnnConvolutionBiasActivationForward");
        return LP_OK;
    }
    DNN(cudnnConvolutionForward(s->handle, &one, e->desc.x, x->data, e->desc.w, w->data,
                                e->desc.conv, e->algo, s->workspace, e->workspace, &zero,
                                e->desc.y, out->data),
        "cudnnConvolutionForward");
    if (!bias && !residual && act == LP_ACT_NONE) return LP_OK;
    /* the epilogue over NCHW: bias is per channel, so treat each plane as a row */
    int64_t hw = out->shape[2] * out->shape[3];
    return lp_cuda_rt_check(lp_cuda_bias_residual_act_nchw(
                                out->dtype, act, out->data, bias ? bias->data : NULL,
                                residual ? residual->data : NULL, out->data, out->shape[0],
                                out->shape[1], hw, lp_cuda_rt_stream()),
                            "conv2d", err);
}
